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

/// A sample being written in shared memory, holding a whole T: publish it
/// with `std::move(loan).publish()` (or Publisher::publish(std::move(loan)));
/// a loan dropped unpublished goes back to the pool. Move-only; belongs to
/// the thread of its publisher. It may outlive its Publisher: publishing it
/// then sends nothing and says LoanError::publisher_gone.
template <class T>
class Loan {
 public:
  T* operator->() noexcept { return get(); }
  T& operator*() noexcept { return *get(); }
  T* get() noexcept { return static_cast<T*>(handle_.payload()); }

  /// Delivers it to every subscriber of the publisher that lent it. Fails
  /// only for a loan that cannot be sent: publisher_gone (that publisher was
  /// destroyed) or empty (moved from, or already published).
  LoanResult<void> publish() && noexcept { return handle_.publish(); }

 private:
  friend class Publisher<T>;
  template <class>
  friend class UninitLoan;
  explicit Loan(detail::LoanHandle handle) noexcept : handle_(std::move(handle)) {}
  detail::LoanHandle handle_;
};

/// Raw shared memory for a T, holding whatever its chunk held before
/// (another sample's bytes): for payloads whose every byte the writer sets,
/// where value-initialising would cost more than the send. It cannot be
/// published until it is a Loan<T>: `std::move(raw).write(value)`, or,
/// once every byte of memory() is written, `std::move(raw).assume_init()`.
template <class T>
class UninitLoan {
 public:
  /// sizeof(T) bytes, aligned for T.
  [[nodiscard]] void* memory() noexcept { return handle_.payload(); }
  /// Copies `value` in: the loan is a whole T.
  [[nodiscard]] Loan<T> write(const T& value) && noexcept {
    new (handle_.payload()) T(value);
    return Loan<T>(std::move(handle_));
  }
  /// The caller wrote every byte of memory(): the loan is a whole T.
  [[nodiscard]] Loan<T> assume_init() && noexcept { return Loan<T>(std::move(handle_)); }

 private:
  friend class Publisher<T>;
  explicit UninitLoan(detail::LoanHandle handle) noexcept : handle_(std::move(handle)) {}
  detail::LoanHandle handle_;
};

/// Publishes values of a described, trivially copyable T on one channel,
/// and declares T as the channel's type in the bus's table of channel types
/// (a port of another type is refused), so that tools can decode the channel.
///
/// Example:
///   auto pub = Publisher<Reading>::create(node, "home/sensor/temperature");
///   if (auto loan = pub->loan()) { (*loan)->celsius = 21.5; std::move(*loan).publish(); }
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
  /// Opens a publisher. Fails with Errc::invalid_argument (channel name,
  /// options), Errc::payload_too_large (sizeof(T) over the daemon's largest
  /// pool) or Errc::type_mismatch (a port of another type declared the
  /// channel's type; the message names both).
  static Result<Publisher> create(const Node& node, std::string_view channel,
                                  PublisherOptions options = {}) {
    auto raw = detail::RawPublisher::create(node, channel, sizeof(T), alignof(T), &schema_of<T>(), options);
    if (!raw) return tl::make_unexpected(std::move(raw.error()));
    return Publisher(std::move(*raw));
  }

  /// A value-initialised T in shared memory (T(): fields without
  /// initialisers are zero), or LoanError::pools_exhausted. Zero-copy: write
  /// the value in place, then publish it.
  [[nodiscard]] LoanResult<Loan<T>> loan() noexcept {
    void* memory = port_.loan(sizeof(T), alignof(T));
    if (memory == nullptr) return tl::make_unexpected(LoanError::pools_exhausted);
    new (memory) T();
    return Loan<T>(detail::LoanHandle(memory, port_.core()));
  }
  /// A copy of `value` in shared memory, or LoanError::pools_exhausted.
  [[nodiscard]] LoanResult<Loan<T>> loan(const T& value) noexcept {
    void* memory = port_.loan(sizeof(T), alignof(T));
    if (memory == nullptr) return tl::make_unexpected(LoanError::pools_exhausted);
    new (memory) T(value);
    return Loan<T>(detail::LoanHandle(memory, port_.core()));
  }
  /// Raw memory for a T, not initialised (see UninitLoan), or
  /// LoanError::pools_exhausted.
  [[nodiscard]] LoanResult<UninitLoan<T>> loan_uninit() noexcept {
    void* memory = port_.loan(sizeof(T), alignof(T));
    if (memory == nullptr) return tl::make_unexpected(LoanError::pools_exhausted);
    return UninitLoan<T>(detail::LoanHandle(memory, port_.core()));
  }

  /// Delivers a loan of this publisher to every subscriber (as
  /// `std::move(loan).publish()`). Blocks only while a lossless subscriber's
  /// queue is full (see the class comment). Fails with foreign_loan (another
  /// publisher lent it: it is left as it was), publisher_gone (lent by the
  /// publisher this one replaced) or empty (moved from, already published).
  [[nodiscard]] LoanResult<void> publish(Loan<T>&& loan) noexcept {
    return loan.handle_.publish_through(port_.core());
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
  /// Waits (real time) until a subscriber is connected: ready, timed_out,
  /// or failed with Errc::no_daemon or Errc::stale_bus once the bus is gone.
  Waited wait_for_subscribers(std::chrono::nanoseconds timeout) const noexcept {
    return port_.wait_for_subscribers(timeout);
  }
  [[nodiscard]] const std::string& channel() const noexcept { return port_.channel(); }
  /// Samples published so far (the last sequence number).
  [[nodiscard]] std::uint64_t published() const noexcept { return port_.published(); }
  /// The port number its samples carry (SampleHeader::publisher_port).
  [[nodiscard]] std::uint64_t port_id() const noexcept { return port_.port_id(); }

 private:
  explicit Publisher(detail::RawPublisher port) noexcept : port_(std::move(port)) {}
  detail::RawPublisher port_;
};

}  // namespace statebus
