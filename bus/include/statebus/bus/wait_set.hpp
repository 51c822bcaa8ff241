#pragma once
/// Waiting on several subscribers at once.

#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "statebus/base/waited.hpp"
#include "statebus/bus/detail/raw_port.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/spin.hpp"
#include "statebus/bus/subscriber.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus {

/// Blocks until any of its subscribers has data, and says which.
///
/// Example:
///   auto waitset = WaitSet::create(*node);
///   const auto a = waitset->add(*sensor), b = waitset->add(*command);
///   auto ready = waitset->wait(1s);
///   for (std::size_t index : ready) { ... }         // none unless ready
///   if (ready.failed()) return ready.error();       // the bus is gone
///
/// A subscriber in a WaitSet is waited on through it: iceoryx lets its
/// state notify one wait set, so its own wait(), wait_until() and
/// take_for() then poll (they still wait their whole time, waking up to
/// 1 ms after the data), also once the WaitSet is gone. Up to 64 subscribers. Thread safety: one thread at a time.
/// A subscriber may die before its WaitSet (on the WaitSet's thread, or
/// while nobody waits on it): it is never reported ready again, the other
/// indexes stay as add() gave them, and its place is not given to another.
class WaitSet {
 public:
  /// What a wait found: the indexes (as add() gave them, in that order) of
  /// the subscribers with data, and how the wait ended (Waited's three
  /// ways). It iterates over the indexes, and tests true only when ready:
  /// a timed-out or failed wait has none.
  class [[nodiscard]] Ready {
   public:
    using value_type = std::size_t;
    using const_iterator = std::vector<std::size_t>::const_iterator;
    using iterator = const_iterator;

    Ready(Waited how, std::vector<std::size_t> indexes) noexcept : how_(std::move(how)), indexes_(std::move(indexes)) {}

    [[nodiscard]] Waited::Status status() const noexcept { return how_.status(); }
    [[nodiscard]] bool is_ready() const noexcept { return how_.is_ready(); }
    [[nodiscard]] bool is_timed_out() const noexcept { return how_.is_timed_out(); }
    [[nodiscard]] bool failed() const noexcept { return how_.failed(); }
    /// Why it failed; only when failed().
    [[nodiscard]] const Error& error() const noexcept { return how_.error(); }
    [[nodiscard]] const Waited& waited() const noexcept { return how_; }
    explicit operator bool() const noexcept { return how_.is_ready(); }

    [[nodiscard]] const std::vector<std::size_t>& indexes() const noexcept { return indexes_; }
    [[nodiscard]] const_iterator begin() const noexcept { return indexes_.begin(); }
    [[nodiscard]] const_iterator end() const noexcept { return indexes_.end(); }
    [[nodiscard]] std::size_t size() const noexcept { return indexes_.size(); }
    [[nodiscard]] bool empty() const noexcept { return indexes_.empty(); }
    [[nodiscard]] std::size_t operator[](std::size_t i) const noexcept { return indexes_[i]; }
    /// Whether the subscriber at `index` has data.
    [[nodiscard]] bool contains(std::size_t index) const noexcept;

   private:
    Waited how_;
    std::vector<std::size_t> indexes_;
  };

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

  /// Waits (real time) up to `timeout` until a subscriber has data: ready
  /// with their indexes, timed_out, or failed with Errc::no_daemon or
  /// Errc::stale_bus once the bus is gone (seen before it blocks, and
  /// within 0.1 s of blocking; data queued before is still ready). `spin`
  /// as for Subscriber::wait, except that Spin::adaptive() spins 20 µs and
  /// blocks (a wait set learns no stream's period).
  Ready wait(std::chrono::nanoseconds timeout, Spin spin = {});
  /// The same, waiting until virtual time reaches `deadline` (a step, a
  /// rate change or lockstep moves it there; never polled). Fails as
  /// wait() once the bus is gone, within a second on a clock that stands.
  Ready wait_until(VirtualClock::time_point deadline);

 private:
  friend class EventLoop;  // built on a WaitSet: its subscribers and wake-ups
  Result<std::size_t> add(detail::RawSubscriber& subscriber);
  struct Impl;
  explicit WaitSet(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace statebus
