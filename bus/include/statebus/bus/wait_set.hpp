#pragma once
/// Waiting on several subscribers at once.

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "statebus/bus/detail/raw_port.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/subscriber.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus {

/// Blocks until any of its subscribers has data, and says which.
///
/// Example:
///   auto waitset = WaitSet::create(*node);
///   const auto a = waitset->add(*sensor), b = waitset->add(*command);
///   for (std::size_t ready : waitset->wait(1s)) { ... }
///
/// A subscriber in a WaitSet is waited on through it: iceoryx lets its
/// state notify one wait set, so its own wait(), wait_until() and
/// take_for() then poll (they still wait their whole time, waking up to
/// 1 ms after the data). Up to 64 subscribers. Thread safety: one thread at a time.
/// A subscriber may die before its WaitSet (on the WaitSet's thread, or
/// while nobody waits on it): it is never reported ready again, the other
/// indexes stay as add() gave them, and its place is not given to another.
class WaitSet {
 public:
  /// Takes the node this process is connected as (the wait set comes from
  /// its daemon). Never fails: a daemon with no condition variable left is
  /// an error inside iceoryx, which this call does not see.
  static Result<WaitSet> create(const Node& node);
  WaitSet(WaitSet&&) noexcept;
  WaitSet& operator=(WaitSet&&) noexcept;
  ~WaitSet();

  /// Adds a subscriber; returns its index. Fails with Errc::out_of_resources
  /// when the set holds 64 already (or the subscriber is in another WaitSet).
  template <class T>
  Result<std::size_t> add(Subscriber<T>& subscriber) {
    return add(subscriber.port_);
  }
  Result<std::size_t> add(UntypedSubscriber& subscriber) { return add(subscriber.port_); }

  /// The indices of subscribers with data, waiting up to `timeout` (real
  /// time) for one; spins first for up to `spin`. Empty on timeout.
  std::vector<std::size_t> wait(std::chrono::nanoseconds timeout, std::chrono::nanoseconds spin = {});
  /// The same, waiting until virtual time reaches `deadline` (a step, a
  /// rate change or lockstep moves it there; never polled). Empty on timeout.
  std::vector<std::size_t> wait_until(VirtualClock::time_point deadline);

 private:
  Result<std::size_t> add(detail::RawSubscriber& subscriber);
  struct Impl;
  explicit WaitSet(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace statebus
