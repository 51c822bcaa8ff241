#pragma once
/// Typed, zero-copy publisher.

#include <chrono>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "statebus/bus/detail/raw_port.hpp"
#include "statebus/bus/loan_error.hpp"
#include "statebus/base/describe.hpp"

namespace statebus {

template <class T>
class Publisher;

/// A sample being written in shared memory. Publish it with
/// Publisher::publish(std::move(loan)); a loan dropped unpublished goes back
/// to the pool. Move-only; belongs to the thread of its publisher. It may
/// outlive its Publisher (it can no longer be published then, and goes back
/// to the pool when it dies). Publishing a moved-from loan publishes nothing.
template <class T>
class Loan {
 public:
  Loan(Loan&& other) noexcept : value_(std::exchange(other.value_, nullptr)), port_(other.port_) {}
  Loan& operator=(Loan&& other) noexcept {
    if (this != &other) {
      reset();
      value_ = std::exchange(other.value_, nullptr);
      port_ = other.port_;
    }
    return *this;
  }
  Loan(const Loan&) = delete;
  Loan& operator=(const Loan&) = delete;
  ~Loan() { reset(); }

  T* operator->() noexcept { return value_; }
  T& operator*() noexcept { return *value_; }
  T* get() noexcept { return value_; }

 private:
  friend class Publisher<T>;
  Loan(T* value, detail::PublisherCore* port) noexcept : value_(value), port_(port) {}
  void reset() noexcept {
    if (value_ != nullptr) detail::release_loan(port_, std::exchange(value_, nullptr));
  }
  T* value_;
  detail::PublisherCore* port_;
};

/// Publishes values of a described, trivially copyable T on one channel,
/// and offers T's schema on the bus so that tools can decode the channel.
///
/// Example:
///   auto pub = Publisher<Reading>::create(node, "home/sensor/temperature");
///   if (auto loan = pub->loan()) { (*loan)->celsius = 21.5; pub->publish(std::move(*loan)); }
///
/// Thread safety: one thread at a time per publisher. loan() and publish()
/// never allocate; publish() blocks only while a lossless subscriber's queue
/// is full (never, with PublisherOptions::never_block). Destroying it tells
/// subscribers it stopped (PublisherState::stopped).
template <class T>
class Publisher {
  static_assert(std::is_trivially_copyable_v<T>, "bus payloads must be trivially copyable");
  static_assert(is_described_v<T>, "describe the message type with STATEBUS_MESSAGE(Type, \"name\", fields...)");

 public:
  /// Opens a publisher. Fails with invalid_argument (channel name, options)
  /// or payload_too_large (sizeof(T) over the daemon's largest pool).
  static Result<Publisher> create(const Node& node, std::string_view channel,
                                  PublisherOptions options = {}) {
    auto raw = detail::RawPublisher::create(node, channel, sizeof(T), alignof(T), &schema_of<T>(), options);
    if (!raw) return tl::make_unexpected(std::move(raw.error()));
    return Publisher(std::move(*raw));
  }

  /// A default-initialised T in shared memory (fields without initialisers
  /// hold whatever the chunk held before), or LoanError::pools_exhausted.
  /// Zero-copy: write the value in place, then publish().
  [[nodiscard]] LoanResult<Loan<T>> loan() noexcept {
    void* memory = port_.loan(sizeof(T), alignof(T));
    if (memory == nullptr) return tl::make_unexpected(LoanError::pools_exhausted);
    return Loan<T>(new (memory) T, port_.core());  // not T(): zeroing a large T would cost more than the send
  }

  /// Delivers a loaned sample to every subscriber. Blocks only while a
  /// lossless subscriber's queue is full (see the class comment). An empty
  /// loan (one moved from) publishes nothing; a loan of another publisher
  /// (or of the one this one replaced) goes back to its pool unsent.
  void publish(Loan<T>&& loan) noexcept {
    if (T* value = std::exchange(loan.value_, nullptr)) port_.publish_loan(loan.port_, value);
  }

  /// Copies `value` into a loaned sample and publishes it; on
  /// LoanError::pools_exhausted the sample is dropped: check the result.
  [[nodiscard]] LoanResult<void> publish(const T& value) noexcept {
    void* memory = port_.loan(sizeof(T), alignof(T));
    if (memory == nullptr) return tl::make_unexpected(LoanError::pools_exhausted);
    new (memory) T(value);
    port_.publish(memory);
    return {};
  }

  /// True if a subscriber is connected.
  [[nodiscard]] bool has_subscribers() const noexcept { return port_.has_subscribers(); }
  /// Waits (real time) until a subscriber is connected; false on timeout.
  bool wait_for_subscribers(std::chrono::nanoseconds timeout) const noexcept {
    return port_.wait_for_subscribers(timeout);
  }
  [[nodiscard]] const std::string& channel() const noexcept { return port_.channel(); }
  /// Samples published so far (the last sequence number).
  [[nodiscard]] std::uint64_t published() const noexcept { return port_.published(); }

 private:
  explicit Publisher(detail::RawPublisher port) noexcept : port_(std::move(port)) {}
  detail::RawPublisher port_;
};

}  // namespace statebus
