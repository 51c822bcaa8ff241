#include "statebus/clock/virtual_clock.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "clock_core.hpp"
#include "statebus/base/process.hpp"
#include "statebus/clock/duration.hpp"
#include "statebus/internal/clock_segment.hpp"
#include "statebus/internal/robust_mutex.hpp"
#include "statebus/internal/shared_segment.hpp"
#include "statebus/internal/virtual_waits.hpp"

namespace statebus {
namespace {

using namespace clockwork;

// "… would pass the end of virtual time …", for a change that would.
Error past_the_end(const std::string& change, std::int64_t now) {
  return Error(Errc::invalid_argument, change + " would pass the end of virtual time (" +
                                           format_duration(VirtualClock::end_of_time.time_since_epoch()) +
                                           " after the machine's start; it is " +
                                           format_duration(std::chrono::nanoseconds(now)) +
                                           " now): the supported span is 100 years");
}

// Keeps the running rate for resume().
void remember_rate(Params& p) noexcept {
  if (p.mode == ClockMode::real) p.resume_rate = 1.0;
  if (p.mode == ClockMode::scaled && p.rate > 0) p.resume_rate = p.rate;
}

}  // namespace

void detail::set_mid_change_hook(ChangeHook hook) noexcept { g_mid_change_hook.store(hook, std::memory_order_relaxed); }

std::int64_t detail::monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string_view to_string(ClockMode mode) noexcept {
  switch (mode) {
    case ClockMode::real: return "real";
    case ClockMode::scaled: return "scaled";
    case ClockMode::stepped: return "stepped";
    case ClockMode::lockstep: return "lockstep";
  }
  return "unknown";
}

bool detail::clock_change_pending() noexcept {
  const ClockState* state = g_segment.get();
  return state != nullptr && params_of(*state).write_pending();
}

Result<void> create_clock_segment() {
  auto created = g_segment.create([](void* bytes) -> Result<void> {
    auto* whole = new (bytes) ClockSegment();
    whole->lockstep.limit.store(kNever, std::memory_order_relaxed);
    if (auto lock = detail::init_robust_mutex(&whole->clock.writer); !lock) return lock;
    Params p;
    p.anchor_real = p.anchor_virtual = monotonic_ns();
    detail::SeqlockPair(whole->clock.params).write([&](std::uint64_t copy) { store(whole->clock.slot[copy], p); });
    return {};
  });
  if (!created) return tl::make_unexpected(created.error());
  return {};
}

void remove_clock_segment() noexcept { g_segment.unlink(); }

Result<void> VirtualClock::attach() {
  auto attached = g_segment.attach();  // now() may run on any thread until exit: never unmapped
  if (!attached) return tl::make_unexpected(attached.error());
  return {};
}

// Real time alone (no segment): nothing to lose.
Result<void> VirtualClock::bus_health() { return g_segment.still_current("clock"); }

std::int64_t detail::virtual_and_real_ns(std::int64_t& real) noexcept {
  const ClockState* state = g_segment.get();
  if (state == nullptr) return real = monotonic_ns();
  const Params p = read(*state, real);
  return virtual_at(p, real);
}

std::int64_t detail::virtual_at_real_ns(std::int64_t& real) noexcept {
  const ClockState* state = g_segment.get();
  if (state == nullptr) return real;
  const detail::SeqlockPair pair = params_of(*state);
  Params p;
  const std::uint64_t version = pair.read([&](std::uint64_t copy) { p = load(state->slot[copy]); });
  if (pair.write_begun_after(version)) return virtual_and_real_ns(real);
  return virtual_at(p, real);
}

std::optional<std::chrono::nanoseconds> detail::real_time_until(VirtualClock::time_point deadline) noexcept {
  const ClockState* state = g_segment.get();
  if (state == nullptr) return std::chrono::nanoseconds(deadline.time_since_epoch().count() - monotonic_ns());
  std::int64_t real = 0;
  const Params p = read(*state, real);
  const std::int64_t left = deadline.time_since_epoch().count() - virtual_at(p, real);
  if (left <= 0) return std::chrono::nanoseconds(left);
  if (p.mode == ClockMode::real) return std::chrono::nanoseconds(left);
  if (p.mode == ClockMode::scaled && p.rate > 0) {
    // Capped: a slow rate must not overflow into a negative (past) wait.
    const double need = std::ceil(static_cast<double>(left) / p.rate);
    return std::chrono::nanoseconds(need < 1e18 ? static_cast<std::int64_t>(need) : static_cast<std::int64_t>(1e18));
  }
  return std::nullopt;
}

namespace {
std::atomic<std::uint64_t> g_slices_slept_out{0};
}  // namespace

void detail::note_sleep(bool woken, std::chrono::nanoseconds slice) noexcept {
  if (!woken && slice >= std::chrono::seconds(1)) g_slices_slept_out.fetch_add(1, std::memory_order_relaxed);
}
std::uint64_t detail::slices_slept_out() noexcept { return g_slices_slept_out.load(std::memory_order_relaxed); }

std::optional<std::chrono::nanoseconds> detail::wait_slice(VirtualClock::time_point deadline) noexcept {
  constexpr std::chrono::nanoseconds kMax = std::chrono::seconds(1);  // note_sleep() knows this cap
  const auto left = real_time_until(deadline);
  if (left && left->count() <= 0) return std::nullopt;
  return left ? std::min(*left, kMax) : kMax;
}

VirtualClock::time_point VirtualClock::now() noexcept {
  const ClockState* state = g_segment.get();
  if (state == nullptr) return time_point(duration(monotonic_ns()));
  std::int64_t real = 0;
  const Params p = read(*state, real);
  return time_point(duration(virtual_at(p, real)));
}

ClockStatus VirtualClock::status() noexcept {
  ClockStatus status;
  const ClockState* state = g_segment.get();
  if (state == nullptr) {
    status.now = time_point(duration(monotonic_ns()));
    return status;
  }
  std::int64_t real = 0;
  const Params p = read(*state, real);
  status.shared = true;
  status.mode = p.mode;
  status.rate = p.mode == ClockMode::stepped || p.mode == ClockMode::lockstep ? 0.0 : p.rate;
  status.now = time_point(duration(virtual_at(p, real)));
  LockstepState& ls = lockstep_of(const_cast<ClockState&>(*state));
  for (const LockstepRow& row : ls.rows) {
    const std::uint32_t row_state = LockstepRow::phase(row.state.load(std::memory_order_acquire));
    if (row_state == LockstepRow::kBusy || row_state == LockstepRow::kIdle) ++status.participants;
  }
  const std::int64_t limit = ls.limit.load(std::memory_order_relaxed);
  if (p.mode == ClockMode::lockstep && limit != kNever) status.until = time_point(duration(limit));
  status.advances = ls.advances.load(std::memory_order_relaxed);
  if (p.damaged != nullptr) {
    status.damage = std::string("the clock segment (/dev/shm/") + detail::kClockSegmentName + ") holds a " +
                    p.damaged +
                    " no statebus process writes; virtual time stands until a change writes the clock anew "
                    "(statebus clock --real) or `statebus daemon` restarts";
  }
  return status;
}

void VirtualClock::sleep_until(time_point deadline) noexcept {
  ClockState* state = g_segment.get();
  if (state == nullptr) {
    const auto left = deadline.time_since_epoch().count() - monotonic_ns();
    if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left));
    return;
  }
  for (;;) {
    // Announce the sleep first: a change after this makes the sleep return at once.
    detail::EventCount wake(state->wake);
    const std::uint32_t ticket = wake.prepare();
    const auto slice = detail::wait_slice(deadline);
    if (!slice) return;
    detail::note_sleep(wake.sleep(ticket, slice->count()), *slice);
  }
}

bool VirtualClock::wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, time_point deadline,
                        const std::function<bool()>& pred) {
  // Every clock change notifies `cv`, under the waiter's mutex so that it
  // cannot fall between a look at the clock and the wait. Listeners are
  // added and removed without that mutex: the watcher calls them under its
  // own lock, and a listener takes the mutex.
  struct Waker {
    std::condition_variable* cv;
    std::mutex* mutex;
  } waker{&cv, lock.mutex()};
  lock.unlock();
  const std::uint64_t listener = detail::add_clock_listener(
      [](void* context) {
        auto* w = static_cast<Waker*>(context);
        { std::lock_guard<std::mutex> hold(*w->mutex); }
        w->cv->notify_all();
      },
      &waker);
  lock.lock();
  const bool ready = detail::wait_on_virtual_time(deadline, pred, [&](std::chrono::nanoseconds slice) {
    return cv.wait_for(lock, slice) == std::cv_status::no_timeout;
  });
  lock.unlock();
  detail::remove_clock_listener(listener);
  lock.lock();
  return ready;
}

Result<void> VirtualClock::set_rate(double rate) {
  if (rate == 0.0) rate = 0.0;  // -0 pauses as 0 does (and never reads "-0")
  if (!std::isfinite(rate) || rate < 0 || (rate > 0 && (rate < min_rate || rate > max_rate))) {
    char text[64];
    std::snprintf(text, sizeof text, "%g", rate);
    return fail(Errc::invalid_argument, std::string("clock rate ") + text +
                                            " is outside the supported range: 0 (paused) or 0.001 to 1000000 "
                                            "(1 is real speed, 86400 a day per second)");
  }
  return update([rate](Params& p) -> Result<void> {
    p.mode = ClockMode::scaled;
    p.rate = rate;
    if (rate > 0) p.resume_rate = rate;
    return {};
  });
}

Result<void> VirtualClock::set_real() {
  return update([](Params& p) -> Result<void> {
    p.mode = ClockMode::real;
    p.rate = 1.0;
    p.resume_rate = 1.0;
    return {};
  });
}

Result<void> VirtualClock::pause() {
  return update([](Params& p) -> Result<void> {
    remember_rate(p);
    p.mode = ClockMode::scaled;
    p.rate = 0.0;
    return {};
  });
}

Result<void> VirtualClock::resume() {
  return update([](Params& p) -> Result<void> {
    if (p.mode == ClockMode::scaled && p.rate == 0.0) p.rate = p.resume_rate > 0 ? p.resume_rate : 1.0;
    if (p.mode == ClockMode::stepped || p.mode == ClockMode::lockstep) {
      p.mode = ClockMode::scaled;
      p.rate = p.resume_rate > 0 ? p.resume_rate : 1.0;
    }
    return {};
  });
}

Result<void> VirtualClock::set_stepped() {
  return update([](Params& p) -> Result<void> {
    remember_rate(p);
    p.mode = ClockMode::stepped;
    return {};
  });
}

Result<void> VirtualClock::set_lockstep(std::optional<time_point> until) {
  auto state_or = writable_state();
  if (!state_or) return tl::make_unexpected(state_or.error());
  ClockState& state = **state_or;
  LockstepState& ls = lockstep_of(state);
  {
    WriterLock lock(state);
    if (!lock.held()) return tl::make_unexpected(lock.failure());
    auto changed = update_locked(state, [&](Params& p) -> Result<void> {
      if (until && until->time_since_epoch().count() < p.anchor_virtual) {
        return fail(
            Errc::invalid_argument,
            "lockstep until a time " +
                format_duration(std::chrono::nanoseconds(p.anchor_virtual - until->time_since_epoch().count())) +
                " in the past: the clock never goes backwards");
      }
      if (until && *until > end_of_time) {
        return tl::make_unexpected(
            past_the_end("lockstep until " + format_duration(until->time_since_epoch()), p.anchor_virtual));
      }
      remember_rate(p);
      p.mode = ClockMode::lockstep;
      ls.limit.store(until ? until->time_since_epoch().count() : kNever, std::memory_order_relaxed);
      // Every participant looks at its queues again before time may move.
      ls.published.fetch_add(1, std::memory_order_seq_cst);
      return {};
    });
    if (!changed) return changed;
  }
  lockstep_check(state);
  return {};
}

Result<void> VirtualClock::advance(duration span) {
  if (span.count() < 0) return fail(Errc::invalid_argument, "cannot advance the clock by a negative duration");
  return update([span](Params& p) -> Result<void> {
    if (p.mode != ClockMode::stepped && p.mode != ClockMode::lockstep) {
      return fail(Errc::invalid_argument, std::string("advance() needs stepped mode; the clock is ") +
                                              std::string(to_string(p.mode)) + " (call set_stepped() first)");
    }
    if (span.count() > kEndOfTime - p.anchor_virtual) {
      return tl::make_unexpected(past_the_end("advancing by " + format_duration(span), p.anchor_virtual));
    }
    p.anchor_virtual += span.count();
    return {};
  });
}

Result<void> VirtualClock::advance_to(time_point target) {
  return update([target](Params& p) -> Result<void> {
    if (p.mode != ClockMode::stepped && p.mode != ClockMode::lockstep) {
      return fail(Errc::invalid_argument, std::string("advance_to() needs stepped mode; the clock is ") +
                                              std::string(to_string(p.mode)));
    }
    if (target.time_since_epoch().count() < p.anchor_virtual) {
      return fail(Errc::invalid_argument, "advance_to() a time " +
                                              std::to_string(p.anchor_virtual - target.time_since_epoch().count()) +
                                              " ns in the past: the clock never goes backwards");
    }
    if (target > end_of_time) {
      return tl::make_unexpected(
          past_the_end("advancing to " + format_duration(target.time_since_epoch()), p.anchor_virtual));
    }
    p.anchor_virtual = target.time_since_epoch().count();
    return {};
  });
}

}  // namespace statebus
