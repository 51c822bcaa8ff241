#pragma once
/// Untyped channels: byte payloads of varying size, with the same header,
/// names and size checks as typed ones. Used by logs and the recorder.

#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "statebus/bus/detail/raw_port.hpp"
#include "statebus/bus/loan_error.hpp"

namespace statebus {

/// A byte buffer being written in shared memory. It holds whatever its
/// chunk held before: write all size() bytes. Move-only; may outlive the
/// UntypedPublisher it came from, as a Loan may, and is published the same
/// way: `std::move(loan).publish()` or UntypedPublisher::publish().
class BytesLoan {
 public:
  [[nodiscard]] std::byte* data() noexcept { return static_cast<std::byte*>(handle_.payload()); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// As Loan::publish().
  LoanResult<void> publish() && noexcept { return handle_.publish(); }

 private:
  friend class UntypedPublisher;
  BytesLoan(std::byte* data, std::size_t size, detail::PublisherCore* port) noexcept
      : handle_(data, port), size_(size) {}
  detail::LoanHandle handle_;
  std::size_t size_;
};

/// Publishes byte payloads of any size up to the daemon's largest pool.
/// Thread safety and blocking as Publisher<T>.
class UntypedPublisher {
 public:
  /// Opens a publisher. With a schema, headers carry its fingerprint and
  /// tools can decode the payloads (each must then be schema->size bytes).
  static Result<UntypedPublisher> create(const Node& node, std::string_view channel, const Schema* schema = nullptr,
                                         PublisherOptions options = {}) {
    auto raw = detail::RawPublisher::create(node, channel, 0, 8, schema, options);
    if (!raw) return tl::make_unexpected(std::move(raw.error()));
    return UntypedPublisher(std::move(*raw));
  }

  /// `size` bytes in shared memory (8-byte aligned), or why not.
  [[nodiscard]] LoanResult<BytesLoan> loan(std::size_t size) noexcept {
    if (size > port_.max_payload()) return tl::make_unexpected(LoanError::payload_too_large);
    void* memory = port_.loan(static_cast<std::uint32_t>(size), 8);
    if (memory == nullptr) return tl::make_unexpected(LoanError::pools_exhausted);
    return BytesLoan(static_cast<std::byte*>(memory), size, port_.core());
  }
  /// Delivers a loan of this publisher; fails as Publisher::publish(Loan&&).
  [[nodiscard]] LoanResult<void> publish(BytesLoan&& loan) noexcept {
    return loan.handle_.publish_through(port_.core());
  }
  /// Copies `size` bytes into a loan and publishes them.
  [[nodiscard]] LoanResult<void> publish(const void* data, std::size_t size) noexcept {
    auto loaned = loan(size);
    if (!loaned) return tl::make_unexpected(loaned.error());
    if (size != 0) std::memcpy(loaned->data(), data, size);
    return std::move(*loaned).publish();
  }
  [[nodiscard]] std::uint32_t max_payload() const noexcept { return port_.max_payload(); }
  [[nodiscard]] bool has_subscribers() const noexcept { return port_.has_subscribers(); }
  /// As Publisher::wait_for_subscribers.
  Waited wait_for_subscribers(std::chrono::nanoseconds timeout) const noexcept {
    return port_.wait_for_subscribers(timeout);
  }
  [[nodiscard]] const std::string& channel() const noexcept { return port_.channel(); }
  /// The last sequence number: samples published, plus those skip() counted.
  [[nodiscard]] std::uint64_t published() const noexcept { return port_.published(); }
  /// For a relay (the MQTT bridge): `n` samples were lost before the next
  /// one reached it. Its sequence number is n higher than it would have
  /// been, so every subscriber counts those n lost, from this publisher.
  void skip(std::uint64_t n) noexcept { port_.skip(n); }
  /// The port number its samples carry (SampleHeader::publisher_port): how a
  /// subscriber in the same process tells its own samples from others'.
  [[nodiscard]] std::uint64_t port_id() const noexcept { return port_.port_id(); }

 private:
  explicit UntypedPublisher(detail::RawPublisher port) noexcept : port_(std::move(port)) {}
  detail::RawPublisher port_;
};

/// A received byte payload with its header. Move-only; the memory goes back
/// to the publisher's pool when it dies; it may outlive the
/// UntypedSubscriber it came from, as a Sample may.
class BytesSample {
 public:
  [[nodiscard]] const std::byte* data() const noexcept { return static_cast<const std::byte*>(taken_.raw().payload); }
  [[nodiscard]] std::size_t size() const noexcept { return taken_.raw().header->payload_size; }
  [[nodiscard]] const SampleHeader& header() const noexcept { return *taken_.raw().header; }

 private:
  friend class UntypedSubscriber;
  friend class EventLoop;
  BytesSample(detail::RawSample raw, detail::SubscriberCore* port) noexcept : taken_(raw, port) {}
  detail::TakenSample taken_;
};

/// Receives byte payloads of any type from every publisher of a channel.
/// Thread safety and blocking as Subscriber<T>.
class UntypedSubscriber {
 public:
  static Result<UntypedSubscriber> create(const Node& node, std::string_view channel,
                                          SubscriberOptions options = {}) {
    auto raw = detail::RawSubscriber::create(node, channel, nullptr, options);
    if (!raw) return tl::make_unexpected(std::move(raw.error()));
    return UntypedSubscriber(std::move(*raw));
  }
  [[nodiscard]] std::optional<BytesSample> take() noexcept {
    const detail::RawSample raw = port_.take();
    if (raw.payload == nullptr) return std::nullopt;
    return BytesSample(raw, port_.core());
  }
  /// Waits (real time) until a sample is queued; as Subscriber::wait.
  Waited wait(std::chrono::nanoseconds timeout, Spin spin = {}) noexcept { return port_.wait(timeout, spin); }
  /// take(), after waiting up to `timeout`; as Subscriber::take_for.
  WaitedFor<BytesSample> take_for(std::chrono::nanoseconds timeout, Spin spin = {}) noexcept {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto sample = take()) return std::move(*sample);
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left.count() <= 0) return WaitedFor<BytesSample>::timed_out();
      if (Waited waited = port_.wait(left, spin); !waited) return WaitedFor<BytesSample>(std::move(waited));
    }
  }
  [[nodiscard]] bool has_data() const noexcept { return port_.has_data(); }
  /// As Subscriber::wait_connected.
  Waited wait_connected(std::chrono::nanoseconds timeout) const noexcept { return port_.wait_connected(timeout); }
  [[nodiscard]] std::uint64_t lost() const noexcept { return port_.lost(); }
  [[nodiscard]] std::vector<PublisherStatus> publishers() const { return port_.publishers(); }
  [[nodiscard]] const std::string& channel() const noexcept { return port_.channel(); }

 private:
  friend class WaitSet;
  friend class EventLoop;
  static std::optional<BytesSample> take_from(detail::SubscriberCore* core) noexcept {
    const detail::RawSample raw = detail::take_sample(core);
    if (raw.payload == nullptr) return std::nullopt;
    return BytesSample(raw, core);
  }
  explicit UntypedSubscriber(detail::RawSubscriber port) noexcept : port_(std::move(port)) {}
  detail::RawSubscriber port_;
};

}  // namespace statebus
