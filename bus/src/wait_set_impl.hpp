#pragma once
// The one core of waiting on several subscribers: a WaitSet's, and the
// EventLoop's, which is built on a WaitSet. Their HAS_DATA states and up to
// two events (the clock's trigger, a loop's stop request) on one iceoryx
// wait set; a subscriber that dies first is forgotten, its index kept.
// Internal to bus/src. One thread at a time (a subscriber's destructor on
// that thread calls forget()).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "ports.hpp"
#include "statebus/base/error.hpp"
#include "statebus/bus/wait_set.hpp"
#include "statebus/internal/virtual_waits.hpp"

namespace statebus {

struct WaitSet::Impl final : detail::SubscriberWaiter {
  static constexpr std::size_t kCapacity = 64;  // subscribers
  static constexpr std::size_t kEvents = 2;     // the clock's trigger, an event loop's stop request

  std::vector<detail::SubscriberCore*> members;  // null: died before the wait set (indexes stay)
  iox::popo::WaitSet<kCapacity + kEvents> waitset;
  iox::popo::UserTrigger clock_changed;
  std::uint64_t listener = 0;  // set once the clock is heard

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl();

  /// Waits on `core` from now on; its index. `owner` names the wait set's
  /// owner in messages ("a WaitSet", "an event loop"). Fails with
  /// out_of_resources when full, or when iceoryx refuses the state (the
  /// subscriber is in another wait set or loop).
  Result<std::size_t> add(detail::SubscriberCore& core, std::string_view owner);
  void forget(detail::SubscriberCore& core) noexcept override;
  /// The indexes of the members with data, in order.
  [[nodiscard]] std::vector<std::size_t> ready() const;
  [[nodiscard]] bool any_ready() const noexcept;
  /// Makes clock changes (all, or all but lockstep jumps) wake the wait
  /// set, once; false when iceoryx has no room for the event.
  bool hear_clock(detail::ClockChanges changes = detail::ClockChanges::all);
  /// Sleeps up to `slice` of real time, or until a member has data or an
  /// event fires; true when woken.
  bool sleep(std::chrono::nanoseconds slice);
};

}  // namespace statebus
