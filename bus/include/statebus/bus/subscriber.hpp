#pragma once
/// Typed subscriber.

#include <chrono>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "statebus/bus/detail/raw_port.hpp"

namespace statebus {

/// A received value, read in place in shared memory, with its header.
/// Move-only; the memory goes back to the publisher's pool when it dies.
template <class T>
class Sample {
 public:
  Sample(Sample&& other) noexcept
      : raw_(std::exchange(other.raw_, detail::RawSample{})), port_(other.port_) {}
  Sample& operator=(Sample&& other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, detail::RawSample{});
      port_ = other.port_;
    }
    return *this;
  }
  Sample(const Sample&) = delete;
  Sample& operator=(const Sample&) = delete;
  ~Sample() { reset(); }

  const T* operator->() const noexcept { return static_cast<const T*>(raw_.payload); }
  const T& operator*() const noexcept { return *static_cast<const T*>(raw_.payload); }
  const T& value() const noexcept { return **this; }
  const SampleHeader& header() const noexcept { return *raw_.header; }

 private:
  template <class>
  friend class Subscriber;
  Sample(detail::RawSample raw, detail::SubscriberCore* port) noexcept : raw_(raw), port_(port) {}
  void reset() noexcept {
    if (raw_.payload != nullptr) detail::release_sample(port_, std::exchange(raw_, detail::RawSample{}).payload);
  }
  detail::RawSample raw_;
  detail::SubscriberCore* port_;
};

/// Receives values of a trivially copyable T from every publisher of a channel.
///
/// Thread safety: one thread at a time per subscriber. take() never blocks
/// and never allocates; wait() blocks up to its timeout (real time).
template <class T>
class Subscriber {
  static_assert(std::is_trivially_copyable_v<T>, "bus payloads must be trivially copyable");

 public:
  /// Opens a subscriber. Fails with invalid_argument (channel name, options).
  static Result<Subscriber> create(const Node& node, std::string_view channel,
                                   SubscriberOptions options = {}) {
    auto raw = detail::RawSubscriber::create(node, channel, options);
    if (!raw) return tl::make_unexpected(std::move(raw.error()));
    return Subscriber(std::move(*raw));
  }

  /// The oldest queued sample, or nothing. A sample whose size is not
  /// sizeof(T) is never handed out: it is dropped and counted in refused().
  [[nodiscard]] std::optional<Sample<T>> take() noexcept {
    for (;;) {
      const detail::RawSample raw = port_.take();
      if (raw.payload == nullptr) return std::nullopt;
      if (raw.header->payload_size == sizeof(T)) return Sample<T>(raw, port_.core());
      port_.count_refused();
      detail::release_sample(port_.core(), raw.payload);
    }
  }

  /// Waits (real time) until a sample is queued; false on timeout.
  bool wait(std::chrono::nanoseconds timeout) noexcept { return port_.wait(timeout); }
  /// take(), after waiting up to `timeout` for a sample.
  [[nodiscard]] std::optional<Sample<T>> take_for(std::chrono::nanoseconds timeout) noexcept {
    if (auto sample = take()) return sample;
    if (!port_.wait(timeout)) return std::nullopt;
    return take();
  }
  [[nodiscard]] bool has_data() const noexcept { return port_.has_data(); }
  /// Samples dropped because their size did not match T.
  [[nodiscard]] std::uint64_t refused() const noexcept { return port_.refused(); }
  [[nodiscard]] const std::string& channel() const noexcept { return port_.channel(); }

 private:
  explicit Subscriber(detail::RawSubscriber port) noexcept : port_(std::move(port)) {}
  detail::RawSubscriber port_;
};

}  // namespace statebus
