// A subscriber's own waits: spin, adaptive spin, block on real time, wait
// on virtual time, and the polling fallback while a WaitSet or an EventLoop
// owns its notification.
#include <sys/prctl.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "ports.hpp"
#include "real_time_waits.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/iceoryx.hpp"
#include "statebus/internal/virtual_waits.hpp"

namespace statebus::detail {
namespace {

// A sleep's end within a µs of its deadline, not the default 50 µs later.
void set_fine_timer_slack() noexcept {
  thread_local bool done = false;
  if (!done) {
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    done = true;
  }
}

template <class Ready>
bool busy_poll_until(std::chrono::steady_clock::time_point until, Ready&& ready) noexcept {
  while (std::chrono::steady_clock::now() < until) {
    if (ready()) return true;
  }
  return false;
}

// Polls for data until `deadline` (real time, or the bus's virtual time),
// sleeping 50 µs at first, then longer, up to 1 ms: for a subscriber whose
// state iceoryx lets notify one wait set only (it is in a WaitSet or an
// EventLoop), or when no wait set could be had. Looks at the bus every
// kBusCheck of real time.
template <class Clock>
Waited poll_for_data(SubscriberCore& core, typename Clock::time_point deadline) noexcept {
  auto pause = std::chrono::microseconds(50);
  auto next_look = std::chrono::steady_clock::now() + RawSubscriber::kBusCheck;
  for (;;) {
    if (core.port.hasData()) return Waited::ready();
    if (Clock::now() >= deadline) return Waited::ready_if(core.port.hasData());
    if (std::chrono::steady_clock::now() >= next_look) {
      if (auto gone = bus_gone()) return std::move(*gone);
      next_look = std::chrono::steady_clock::now() + RawSubscriber::kBusCheck;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

}  // namespace

Waited RawSubscriber::wait(std::chrono::nanoseconds timeout, Spin spin) noexcept {
  if (impl_->port.hasData()) return Waited::ready();
  // The first look spins as `spin` says; a long wait then blocks in slices,
  // each ended by a look at the bus (its daemon may stop meanwhile).
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!bus_lost() && wait_for_data(std::min<std::chrono::nanoseconds>(timeout, kBusCheck), spin)) {
    return Waited::ready();
  }
  return block_in_slices(deadline, [this](std::chrono::steady_clock::time_point until) { return block_until(until); });
}

bool RawSubscriber::wait_for_data(std::chrono::nanoseconds timeout, Spin spin) noexcept {
  SubscriberCore& core = *impl_;
  if (core.port.hasData()) return true;
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + timeout;
  const auto ready = [&core] { return core.port.hasData(); };
  std::chrono::nanoseconds budget = spin.budget();
  if (spin.is_adaptive()) {
    core.paced = true;
    const auto due = core.pacer.due();
    budget = due ? std::chrono::nanoseconds(0) : ArrivalPacer::kLearningSpin;
    if (due && now < core.pacer.spin_until(*due)) {
      // Sleep through the gap (a sample that comes early wakes us), then
      // spin from just before the sample is due until a little after.
      const auto from = core.pacer.spin_from(*due);
      if (from > now) {
        set_fine_timer_slack();
        const bool data = block_until(std::min(from, deadline));
        const auto woke = std::chrono::steady_clock::now();
        if (data) {
          // The sample came first: early (nothing to learn), or while this
          // thread overslept, which the next spin must start earlier for.
          if (woke > from) core.pacer.overslept();
          return true;
        }
        if (woke >= deadline) return ready();
        core.pacer.woke_late(woke - from);
      }
      if (busy_poll_until(std::min(core.pacer.spin_until(*due), deadline), ready)) return true;
    }
  }
  // Spin-then-block: a wake-up through the kernel costs tens of µs on a VM;
  // data that arrives within the spin is seen without it.
  if (budget.count() > 0 && busy_poll_until(now + std::min(budget, timeout), ready)) return true;
  return block_until(deadline);
}

bool RawSubscriber::block_until(std::chrono::steady_clock::time_point deadline) noexcept {
  SubscriberCore& core = *impl_;
  // In a WaitSet or EventLoop, the state notifies that one: poll (so too
  // without a wait set of its own).
  if (core.waiter != nullptr || !core.own_wait) {
    return poll_for_data<std::chrono::steady_clock>(core, deadline).is_ready();
  }
  // timedWait() may return before data is there (a notification for data
  // already taken): wait again for the rest of the time.
  for (;;) {
    if (core.port.hasData()) return true;
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left.count() <= 0) return false;
    core.own_wait->waitset.timedWait(iox::units::Duration::fromNanoseconds(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(left).count())));
  }
}

Waited RawSubscriber::wait_until(VirtualClock::time_point deadline) noexcept {
  SubscriberCore& core = *impl_;
  if (core.port.hasData()) return Waited::ready();
  if (bus_lost()) {
    if (auto gone = bus_gone()) return std::move(*gone);
  }
  if (core.waiter != nullptr || !core.own_wait)
    return poll_for_data<VirtualClock>(core, deadline);  // as in block_until()
  OwnWait& own = *core.own_wait;
  if (own.listener == 0) {
    // A trigger needs no word with the daemon: the wait set has its condition variable.
    if (own.waitset.attachEvent(own.clock_changed).has_error()) return poll_for_data<VirtualClock>(core, deadline);
    own.listener = trigger_on_clock_change(own.clock_changed);
  }
  // Every clock change wakes the wait set through the trigger; a slice that
  // passes unwoken (nothing changed for a while) ends with a look at the bus.
  return wait_on_virtual_time_or_fail(
      deadline, [&] { return core.port.hasData(); },
      [&](std::chrono::nanoseconds slice) {
        return !own.waitset.timedWait(iox::units::Duration::fromNanoseconds(static_cast<std::uint64_t>(slice.count())))
                    .empty();
      },
      [] { return bus_gone(); });
}
}  // namespace statebus::detail
