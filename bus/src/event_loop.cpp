#include "statebus/bus/event_loop.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "statebus/internal/lockstep.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <queue>
#include <vector>

#include "ports.hpp"
#include "statebus/internal/iceoryx.hpp"
#include "wait_set_impl.hpp"

namespace statebus {

// How often run() checks that the daemon still runs (Node::bus_health(): one
// poll() of the process's registry connection, a few microseconds).
constexpr auto kHealthPeriod = std::chrono::milliseconds(100);

struct EventLoop::Impl {
  struct Timer {
    VirtualClock::time_point due;
    VirtualClock::duration period;  // zero: once
    std::size_t id;
    bool operator>(const Timer& other) const { return due != other.due ? due > other.due : id > other.id; }
  };

  explicit Impl(WaitSet s) : set(std::move(s)) {}

  WaitSet set;  // the loop's subscribers, the clock's trigger and stop_requested
  iox::popo::UserTrigger stop_requested;
  // By the subscriber's index in `set`; one whose subscriber died stays,
  // never called again (it may be the one running now).
  // Each handles one sample (false: none); a deque: one added by a running handler leaves it in place.
  std::deque<std::function<bool()>> drains;
  std::vector<std::function<void()>> timer_handlers;
  // Watches (watch()); an empty one was done. A deque: one added by a running watch leaves the others in place.
  std::deque<std::function<WatchNext()>> watches;
  std::optional<VirtualClock::time_point> watch_virtual;            // the earliest a watch asked for
  std::optional<std::chrono::steady_clock::time_point> watch_real;  // likewise, real time
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  std::atomic<bool> stopping{false};
  VirtualClock::time_point tick{};
  detail::LockstepParticipant participant;  // holds lockstep time while the loop works

  [[nodiscard]] WaitSet::Impl& core() const noexcept { return *set.impl_; }

  void look_at_watches() {
    watch_virtual.reset();
    watch_real.reset();
    // By index: a watch may add another (a deque's push_back keeps its
    // elements in place but invalidates iterators).
    for (std::size_t i = 0; i < watches.size(); ++i) {  // NOLINT(modernize-loop-convert)
      if (!watches[i] || stopping.load(std::memory_order_relaxed)) continue;
      const WatchNext next = watches[i]();
      if (next.done) {
        watches[i] = nullptr;
        continue;
      }
      if (next.virtual_time && (!watch_virtual || *next.virtual_time < *watch_virtual))
        watch_virtual = next.virtual_time;
      if (next.real_time && (!watch_real || *next.real_time < *watch_real)) watch_real = next.real_time;
    }
    while (!watches.empty() && !watches.back()) watches.pop_back();
  }

  static bool has_data(void* self) { return static_cast<Impl*>(self)->core().any_ready(); }

  void run_due_timers() {
    // Each due tick runs, in time order, even if several are due at once.
    while (!timers.empty() && !stopping.load(std::memory_order_relaxed) && timers.top().due <= VirtualClock::now()) {
      Timer timer = timers.top();
      timers.pop();
      tick = timer.due;
      timer_handlers[timer.id]();
      if (timer.period.count() > 0) {
        timer.due += timer.period;
        timers.push(timer);
      }
    }
  }
};

Result<EventLoop> EventLoop::create(const Node& node) {
  auto set = WaitSet::create(node);
  if (!set) return tl::make_unexpected(std::move(set.error()));
  auto impl = std::make_unique<Impl>(std::move(*set));
  if (impl->core().waitset.attachEvent(impl->stop_requested).has_error()) {
    return fail(Errc::out_of_resources, "the event loop cannot get a wait set from the daemon");
  }
  auto participant = detail::LockstepParticipant::join();
  if (!participant) return tl::make_unexpected(participant.error());
  impl->participant = std::move(*participant);
  // A participant hears lockstep jumps through the bell (LockstepParticipant::wait).
  if (!impl->core().hear_clock(impl->participant.joined() ? detail::ClockChanges::all_but_lockstep_jumps
                                                          : detail::ClockChanges::all)) {
    return fail(Errc::out_of_resources, "the event loop cannot get a wait set from the daemon");
  }
  return EventLoop(std::move(impl));
}

EventLoop::EventLoop(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
EventLoop::EventLoop(EventLoop&&) noexcept = default;
EventLoop& EventLoop::operator=(EventLoop&&) noexcept = default;
EventLoop::~EventLoop() {
  if (impl_ && detail::bus_lost()) detail::keep_for_good(std::move(impl_));  // its subscribers' locks may be held
}

Result<void> EventLoop::add_subscriber(detail::RawSubscriber& subscriber, std::function<bool()> take_one) {
  auto index = impl_->core().add(*subscriber.core(), "an event loop");
  if (!index) return tl::make_unexpected(std::move(index.error()));
  impl_->drains.resize(*index + 1);
  impl_->drains[*index] = std::move(take_one);
  return {};
}

void EventLoop::every(VirtualClock::duration period, std::function<void()> handler) {
  impl_->timer_handlers.push_back(std::move(handler));
  impl_->timers.push({VirtualClock::now() + period, period, impl_->timer_handlers.size() - 1});
}

void EventLoop::watch(std::function<WatchNext()> look) { impl_->watches.push_back(std::move(look)); }

void EventLoop::at(VirtualClock::time_point time, std::function<void()> handler) {
  impl_->timer_handlers.push_back(std::move(handler));
  impl_->timers.push({time, VirtualClock::duration::zero(), impl_->timer_handlers.size() - 1});
}

Result<void> EventLoop::run() {
  Impl& loop = *impl_;
  // Between create() and run() the loop holds lockstep time (its timers are
  // still being set up); once run() returns it holds none, and takes a
  // place again if run() is called again.
  if (!loop.participant.joined()) {
    auto participant = detail::LockstepParticipant::join();
    if (!participant) return tl::make_unexpected(participant.error());
    loop.participant = std::move(*participant);
  }
  struct Leave {
    detail::LockstepParticipant& participant;
    ~Leave() { participant = detail::LockstepParticipant(); }
  } leave{loop.participant};
  auto next_health_check = std::chrono::steady_clock::now() + kHealthPeriod;
  while (!loop.stopping.load(std::memory_order_acquire)) {
    if (const auto now = std::chrono::steady_clock::now(); now >= next_health_check) {
      next_health_check = now + kHealthPeriod;
      if (auto health = detail::bus_health(); !health) return health;
    }
    // Timers first: a sample published after virtual time passed a tick
    // is handled after that tick.
    loop.run_due_timers();
    // By index: a handler may add a subscriber (on()) or destroy one.
    for (std::size_t i = 0; i < loop.core().members.size(); ++i) {
      if (loop.stopping.load(std::memory_order_relaxed)) return {};
      const detail::SubscriberCore* member = loop.core().members[i];
      // Sample by sample: a stop() in a handler leaves the rest queued.
      if (member != nullptr && member->port.hasData()) {
        while (loop.drains[i]() && !loop.stopping.load(std::memory_order_relaxed)) {
        }
      }
    }
    loop.look_at_watches();
    if (loop.stopping.load(std::memory_order_acquire)) return {};
    // Sleep until the next timer at the current rate, or until data or a
    // clock change; with no timer or a standing clock, until one of those.
    std::chrono::nanoseconds wait = kHealthPeriod;
    std::optional<VirtualClock::time_point> next;
    if (!loop.timers.empty()) next = loop.timers.top().due;
    if (loop.watch_virtual && (!next || *loop.watch_virtual < *next)) next = loop.watch_virtual;
    if (next) {
      const auto slice = detail::wait_slice(*next);
      if (!slice) continue;
      wait = std::min<std::chrono::nanoseconds>(*slice, kHealthPeriod);
    }
    if (loop.watch_real) {
      const auto left = *loop.watch_real - std::chrono::steady_clock::now();
      if (left.count() <= 0) continue;
      wait = std::min<std::chrono::nanoseconds>(left, wait);
    }
    // Idle only with empty queues (checked after reading the publish count).
    if (!loop.participant.idle(next, &Impl::has_data, &loop)) continue;
    if (loop.stopping.load(std::memory_order_seq_cst)) return {};  // after idle() read the bell that stop() rings
    // In lockstep mode one futex, the bell, wakes the loop for samples and
    // for time; otherwise the wait set, which the clock watcher triggers.
    if (!loop.participant.wait(wait)) {
      loop.core().sleep(wait);
    }
    loop.participant.busy();
  }
  return {};
}

void EventLoop::stop() noexcept {
  impl_->stopping.store(true, std::memory_order_seq_cst);
  impl_->stop_requested.trigger();
  detail::ring_lockstep_bell();  // should it sleep on the bell
}

VirtualClock::time_point EventLoop::tick_time() const noexcept { return impl_->tick; }

}  // namespace statebus
