#pragma once
/// One loop for a control process: subscriptions and timers on virtual time.
///
/// Example (a heating controller):
///   auto loop = EventLoop::create(*node);
///   loop->on(readings, [&](const Sample<Reading>& r) { last = r.value(); });
///   loop->every(10s, [&] { decide(last); });
///   loop->run();   // until stop(), from a handler or another thread
///
/// The same code runs on real time in production and at 10 000× (or stepped)
/// in a test: timers follow the bus's VirtualClock, and every change of the
/// clock wakes the loop to re-plan.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>

#include "statebus/bus/node.hpp"
#include "statebus/bus/subscriber.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus {

/// Thread safety: set up and run() from one thread; stop() from any thread
/// (or a handler). Handlers run on the loop's thread, one at a time.
/// Subscribers are waited on only through the loop. One may die before the
/// loop, on the loop's thread (in another handler, or while it does not
/// run), never inside its own handler: its handler is then never called
/// again, and its place is not given to another.
///
/// Lockstep: from create() until it is destroyed, a loop is a participant of
/// the clock's lockstep mode: lockstep time stands while it works (or is not
/// yet running) and jumps to the earliest timer once every loop waits with
/// empty queues (clock/README.md). At most 64 loops per bus; create() fails
/// beyond that.
class EventLoop {
 public:
  /// Takes the node this process is connected as (the loop's wait set
  /// comes from its daemon). Fails with Errc::out_of_resources when 64
  /// loops are on the bus already (or the daemon has no wait set left).
  static Result<EventLoop> create(const Node& node);
  EventLoop(EventLoop&&) noexcept;
  EventLoop& operator=(EventLoop&&) noexcept;
  ~EventLoop();

  /// Calls `handler` for every sample `subscriber` takes. Up to 64
  /// subscribers, as a WaitSet (the loop is built on one): fails with
  /// Errc::out_of_resources beyond that (or for a subscriber in another
  /// loop or WaitSet). The loop holds the
  /// subscriber's port, not the object: the Subscriber may move afterwards
  /// (into a growing vector, say); once it is destroyed, the loop forgets it.
  template <class T, class Handler>
  Result<void> on(Subscriber<T>& subscriber, Handler handler) {
    return add_subscriber(subscriber.port_, [core = subscriber.port_.core(), handler = std::move(handler)]() mutable {
      auto sample = Subscriber<T>::take_from(core);
      if (sample) handler(*sample);
      return sample.has_value();
    });
  }
  /// The same for an untyped subscriber: `handler(BytesSample&)` (it may
  /// move the sample out to keep it).
  template <class Handler>
  Result<void> on(UntypedSubscriber& subscriber, Handler handler) {
    return add_subscriber(subscriber.port_, [core = subscriber.port_.core(), handler = std::move(handler)]() mutable {
      auto sample = UntypedSubscriber::take_from(core);
      if (!sample) return false;
      handler(*sample);
      return true;
    });
  }

  /// When a watch (watch()) wants the loop to look at it again.
  struct WatchNext {
    /// Never again: the loop forgets the watch.
    bool done = false;
    /// A virtual time: the loop wakes for it as for a timer, and lockstep
    /// time may jump to it (it counts as the loop's next deadline).
    std::optional<VirtualClock::time_point> virtual_time;
    /// A real (steady_clock) time: the loop wakes for it.
    std::optional<std::chrono::steady_clock::time_point> real_time;
  };
  /// Calls `look` on the loop's thread on every pass of the loop (after the
  /// due timers and the subscribers' handlers), and at the latest at the
  /// times it returned, and every 0.1 s of real time; the loop forgets it
  /// once it returns `done`. For things that end on time rather than on a
  /// sample (a service's pending calls: their timeouts, their server's
  /// death). `look` may add watches, subscribers and timers. Allocates.
  void watch(std::function<WatchNext()> look);

  /// Calls `handler` every `period` of virtual time, first one period from
  /// now; ticks missed while a handler ran are all delivered, in order, each
  /// with its own time (tick_time()), so a run sees exactly the ticks that
  /// virtual time implies.
  void every(VirtualClock::duration period, std::function<void()> handler);
  /// Calls `handler` once when virtual time reaches `time`.
  void at(VirtualClock::time_point time, std::function<void()> handler);
  /// Runs until stop(). Returns at once if stop() came first. Fails with
  /// Node::bus_health()'s error (checked ten times a second) when the daemon
  /// this process connected to died (Errc::no_daemon) or was replaced
  /// (Errc::stale_bus): the loop's channels are dead.
  Result<void> run();
  /// Makes run() return after the handler in progress. Thread-safe.
  void stop() noexcept;
  /// The virtual time a timer handler was scheduled for (in a timer handler).
  [[nodiscard]] VirtualClock::time_point tick_time() const noexcept;

 private:
  struct Impl;
  explicit EventLoop(std::unique_ptr<Impl> impl) noexcept;
  // `take_one` handles one sample of the subscriber; false when it had none.
  Result<void> add_subscriber(detail::RawSubscriber& subscriber, std::function<bool()> take_one);
  std::unique_ptr<Impl> impl_;
};

}  // namespace statebus
