#pragma once
/// Typed subscriber.

#include <chrono>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "statebus/bus/detail/raw_port.hpp"
#include "statebus/base/describe.hpp"

namespace statebus {

/// A received value, read in place in shared memory, with its header.
/// Move-only; the memory goes back to the publisher's pool when it dies.
/// It may outlive its Subscriber: the memory stays the sample's, and the
/// port, deaf to the channel from the daemon's next round, lives on until
/// its last sample dies. A sample is part of its subscriber for thread safety: take it and
/// let it die on the subscriber's thread (or hand it over while that thread
/// does not use the subscriber). Each held sample keeps a chunk of the
/// pools from the publishers: keep the value (`value()` copies it) for long.
template <class T>
class Sample {
 public:
  const T* operator->() const noexcept { return static_cast<const T*>(taken_.raw().payload); }
  const T& operator*() const noexcept { return *operator->(); }
  const T& value() const noexcept { return *operator->(); }
  const SampleHeader& header() const noexcept { return *taken_.raw().header; }

 private:
  template <class>
  friend class Subscriber;
  Sample(detail::RawSample raw, detail::SubscriberCore* port) noexcept : taken_(raw, port) {}
  detail::TakenSample taken_;
};

/// Receives values of a described T from every publisher of a channel.
///
/// A sample whose type fingerprint is not T's is never handed out: it is
/// refused, counted, and type_error() says which type came from whom.
/// Sequence gaps are counted per publisher (lost(), publishers()).
///
/// Thread safety: one thread at a time per subscriber. take() never blocks
/// (it allocates only the first time it hears from a publisher); wait()
/// blocks up to its timeout (real time).
template <class T>
class Subscriber {
  static_assert(std::is_trivially_copyable_v<T>, "bus payloads must be trivially copyable");
  static_assert(is_described_v<T>, "describe the message type with STATEBUS_MESSAGE(Type, \"name\", fields...)");

 public:
  /// Opens a subscriber. Fails with Errc::invalid_argument (channel name,
  /// options) or Errc::type_mismatch (a port of another type declared the
  /// channel's type; the message names both).
  static Result<Subscriber> create(const Node& node, std::string_view channel,
                                   SubscriberOptions options = {}) {
    auto raw = detail::RawSubscriber::create(node, channel, &schema_of<T>(), options);
    if (!raw) return tl::make_unexpected(std::move(raw.error()));
    return Subscriber(std::move(*raw));
  }

  /// The oldest queued sample, or nothing. A sample of another type is
  /// never handed out: it is dropped and counted in refused().
  [[nodiscard]] std::optional<Sample<T>> take() noexcept { return take_from(port_.core()); }

  /// Waits (real time) until a sample is queued: ready, timed_out, or
  /// failed with Errc::no_daemon or Errc::stale_bus once the bus is gone
  /// (seen before it blocks, and within 0.1 s of blocking; a sample queued
  /// before is still ready). `spin` says whether it polls before it
  /// sleeps: not at all (the default), up to a time (`20us`:
  /// spin-then-block), or around the moment a steady stream's next sample
  /// is due (`Spin::adaptive()`); see Spin.
  Waited wait(std::chrono::nanoseconds timeout, Spin spin = {}) noexcept { return port_.wait(timeout, spin); }
  /// Waits until a sample is queued or the bus's virtual time reaches
  /// `deadline` (woken by any clock change: steps, rate changes, pauses).
  /// Fails with Errc::no_daemon or Errc::stale_bus once the bus is gone,
  /// within a second on a clock that stands (nobody can step it any more).
  Waited wait_until(VirtualClock::time_point deadline) noexcept { return port_.wait_until(deadline); }
  /// take(), after waiting up to `timeout` for a sample (refused samples
  /// do not end the wait early): the sample, timed_out, or failed as
  /// wait() fails once the bus is gone.
  WaitedFor<Sample<T>> take_for(std::chrono::nanoseconds timeout, Spin spin = {}) noexcept {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto sample = take()) return std::move(*sample);
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left.count() <= 0) return WaitedFor<Sample<T>>::timed_out();
      if (Waited waited = port_.wait(left, spin); !waited) return WaitedFor<Sample<T>>(std::move(waited));
    }
  }
  /// Samples missing from publishers' sequences since this subscriber began
  /// (its queue overflowed, or it connected while they were being sent).
  [[nodiscard]] std::uint64_t lost() const noexcept { return port_.lost(); }
  /// Every publisher heard from: alive, stopped cleanly, or gone (crashed).
  [[nodiscard]] std::vector<PublisherStatus> publishers() const { return port_.publishers(); }
  /// Why samples were refused, naming both types and the channel. A typed
  /// publisher of another type is refused at its create(); what reaches here
  /// is raw bytes, or a foreign type sent without a schema.
  [[nodiscard]] std::optional<Error> type_error() const { return port_.type_error(); }
  [[nodiscard]] bool has_data() const noexcept { return port_.has_data(); }
  /// Waits (real time) until the daemon has connected this subscriber to
  /// its channel, so that whatever is published from then on reaches it.
  /// Publishers need not be there: iceoryx 2.0 connects a subscriber at
  /// once, publisher or not (a publisher has no such wait either; wait for
  /// a first sample to know one is there). Fails as wait() does if the bus
  /// goes before that.
  Waited wait_connected(std::chrono::nanoseconds timeout) const noexcept { return port_.wait_connected(timeout); }
  /// Samples dropped because their type did not match T.
  [[nodiscard]] std::uint64_t refused() const noexcept { return port_.refused(); }
  [[nodiscard]] const std::string& channel() const noexcept { return port_.channel(); }

 private:
  // take() on the port itself, which stays put while this Subscriber moves.
  static std::optional<Sample<T>> take_from(detail::SubscriberCore* core) noexcept {
    for (;;) {
      const detail::RawSample raw = detail::take_sample(core);
      if (raw.payload == nullptr) return std::nullopt;
      if (raw.header->payload_size == sizeof(T)) return Sample<T>(raw, core);
      detail::release_sample(core, raw.payload);  // same fingerprint, other size: impossible unless forged
    }
  }
  friend class WaitSet;
  friend class EventLoop;
  explicit Subscriber(detail::RawSubscriber port) noexcept : port_(std::move(port)) {}
  detail::RawSubscriber port_;
};

}  // namespace statebus
