#pragma once
/// Waits on virtual time, for the modules above the clock (bus, state,
/// recorder): how long to sleep before looking again, the process's clock
/// watcher that wakes such waits on every change, and the raw clock reads.
/// Internal: not installed.

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>

#include "statebus/base/waited.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus::detail {
/// CLOCK_MONOTONIC in nanoseconds.
std::int64_t monotonic_ns() noexcept;

/// Virtual time now and the CLOCK_MONOTONIC reading it was computed from
/// (one clock read for both, for sample headers). While a change of the
/// clock is pending, the reading is held at the change's instant, at most
/// the change's duration behind (clock_core.hpp, read()).
std::int64_t virtual_and_real_ns(std::int64_t& real_ns) noexcept;
/// The same for a CLOCK_MONOTONIC reading `real_ns` the caller took (or
/// derived) before the call, with no clock read of its own while no change
/// of the clock is pending; while one is, as virtual_and_real_ns (a reading
/// from outside never moves a change's agreed instant). For stamps only.
std::int64_t virtual_at_real_ns(std::int64_t& real_ns) noexcept;

/// Real time until virtual time reaches `deadline` at the current rate
/// (≤ 0: reached); nothing while the clock stands (stepped or paused), when
/// only a change can move it.
std::optional<std::chrono::nanoseconds> real_time_until(VirtualClock::time_point deadline) noexcept;
/// Called by a wait on virtual time after each sleep of `slice`: one that
/// was not woken and slept a whole re-check slice (the 1 s cap, not the time
/// left to its deadline) is counted: a wake-up that should have come did
/// not, or nothing changed for a second. Per process, for tests.
void note_sleep(bool woken, std::chrono::nanoseconds slice) noexcept;
std::uint64_t slices_slept_out() noexcept;

/// How long a wait for virtual time `deadline` should sleep in real time
/// before it looks again: until the deadline at the current rate, at most a
/// second (a standing clock moves only by a change, which wakes waiters; the
/// cap re-plans should a driver vanish). nullopt once the deadline is reached.
std::optional<std::chrono::nanoseconds> wait_slice(VirtualClock::time_point deadline) noexcept;

/// The one loop of every wait on virtual time: until `ready()` holds or
/// virtual time reaches `deadline`. Between looks it calls `sleep(slice)`,
/// a real-time sleep of at most `slice` that returns true when woken early
/// (by whatever makes ready() true, or by the clock change a listener the
/// caller registered turns into a wake-up), and counts slices slept out.
/// Returns ready() as it stands at the deadline.
template <class Ready, class Sleep>
bool wait_on_virtual_time(VirtualClock::time_point deadline, Ready&& ready, Sleep&& sleep) {
  for (;;) {
    if (ready()) return true;
    const auto slice = wait_slice(deadline);
    if (!slice) return ready();
    note_sleep(sleep(*slice), *slice);
  }
}

/// wait_on_virtual_time for a wait the bus's end makes impossible: `look()`
/// (a std::optional<Waited>, failed or nothing) is asked whenever a slice
/// passes unwoken (a change would have woken it), and its failure ends the
/// wait. Ready if ready() held at the last look (what came before the end
/// is still handed out first), else the failure, else timed_out.
template <class Ready, class Sleep, class Look>
Waited wait_on_virtual_time_or_fail(VirtualClock::time_point deadline, Ready&& ready, Sleep&& sleep, Look&& look) {
  bool met = false;
  std::optional<Waited> failed;
  wait_on_virtual_time(
      deadline,
      [&] {
        met = ready();
        return met || failed.has_value();
      },
      [&](std::chrono::nanoseconds slice) {
        const bool woken = sleep(slice);
        if (!woken && !failed) failed = look();
        return woken;
      });
  if (met) return Waited::ready();
  if (failed) return std::move(*failed);
  return Waited::timed_out();
}

/// Which clock changes a listener hears: all, or all but lockstep jumps (an
/// event loop, which the lockstep bell wakes for those).
enum class ClockChanges { all, all_but_lockstep_jumps };
/// Calls `listener(context)` from a background thread after every change of
/// the clock (step, rate, mode), so that waits on virtual time can re-plan.
/// Keep listeners short (they run under a lock). Thread-safe.
std::uint64_t add_clock_listener(void (*listener)(void*), void* context, ClockChanges changes = ClockChanges::all);
/// After it returns, the listener is never called again.
void remove_clock_listener(std::uint64_t id) noexcept;

}  // namespace statebus::detail
