#pragma once
// The clock's core, shared by its own files (virtual_clock.cpp: the API;
// lockstep.cpp: lockstep participants; clock_watcher.cpp: the process's
// watcher): the attached segment, the parameter slots and their torn-free
// read, the one writer and its change, and the wake-ups a change sends.
// Internal to clock/src.

#include <atomic>
#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <thread>

#include <unistd.h>

#include "change_hook.hpp"
#include "clock_state.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/bus_segment.hpp"
#include "statebus/internal/event_count.hpp"
#include "statebus/internal/futex.hpp"
#include "statebus/internal/robust_mutex.hpp"
#include "statebus/internal/virtual_waits.hpp"

namespace statebus::clockwork {

using detail::ClockSegment;
using detail::ClockSlot;
using detail::ClockState;
using detail::LockstepRow;
using detail::LockstepState;
using detail::monotonic_ns;

inline constexpr std::int64_t kNever = INT64_MAX;

// The attached clock; get() null: real time. Set once per attach, read lock-free.
static_assert(offsetof(ClockSegment, clock) == 0, "the segment's data starts with the ClockState");
inline detail::BusSegment<ClockState> g_segment{
    detail::kClockSegmentName,
    SharedSegment::Layout{detail::kClockMagic, detail::kClockMajor, detail::kClockMinor, sizeof(ClockSegment),
                          "clock segment"}};

inline double bits_to_double(std::uint64_t bits) noexcept {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
inline std::uint64_t double_to_bits(double value) noexcept {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

inline constexpr std::int64_t kEndOfTime = VirtualClock::end_of_time.time_since_epoch().count();

struct Params {
  ClockMode mode = ClockMode::real;
  double rate = 1.0;
  std::int64_t anchor_real = 0;
  std::int64_t anchor_virtual = 0;
  double resume_rate = 1.0;
  // Set when the slot held a value no statebus process writes (a member's
  // stray write, a damaged segment): which field. The values above are
  // then the nearest safe ones (time stands at the anchor) until the next
  // change writes a whole new slot.
  const char* damaged = nullptr;
};

inline bool valid_rate(double rate) noexcept {
  return rate == 0.0 || (rate >= VirtualClock::min_rate && rate <= VirtualClock::max_rate);  // false for NaN
}

inline Params load(const ClockSlot& slot) noexcept {
  // Relaxed: the slot is published by the index store (release) and was
  // complete before it; the change counter catches a concurrent rewrite.
  Params p;
  const std::uint64_t mode = slot.mode.load(std::memory_order_relaxed);
  p.rate = bits_to_double(slot.rate_bits.load(std::memory_order_relaxed));
  p.anchor_real = slot.anchor_real.load(std::memory_order_relaxed);
  p.anchor_virtual = slot.anchor_virtual.load(std::memory_order_relaxed);
  p.resume_rate = bits_to_double(slot.resume_rate_bits.load(std::memory_order_relaxed));
  p.mode = mode <= static_cast<std::uint64_t>(ClockMode::lockstep) ? static_cast<ClockMode>(mode) : ClockMode::stepped;
  // Read from memory others may write: every field checked before use.
  if (mode > static_cast<std::uint64_t>(ClockMode::lockstep)) p.damaged = "mode";
  if (!valid_rate(p.rate)) p.damaged = "rate";
  if (p.resume_rate != 1.0 && !valid_rate(p.resume_rate)) p.damaged = "resume_rate";
  if (p.anchor_real < 0) p.damaged = "anchor_real";
  if (p.anchor_virtual < 0 || p.anchor_virtual > kEndOfTime) p.damaged = "anchor_virtual";
  if (p.damaged != nullptr) {
    p.mode = ClockMode::stepped;
    p.rate = 0.0;
    p.resume_rate = 1.0;
    p.anchor_real = std::max<std::int64_t>(p.anchor_real, 0);
    p.anchor_virtual = std::clamp<std::int64_t>(p.anchor_virtual, 0, kEndOfTime);
  }
  return p;
}

inline void store(ClockSlot& slot, const Params& p) noexcept {
  slot.mode.store(static_cast<std::uint64_t>(p.mode), std::memory_order_relaxed);
  slot.rate_bits.store(double_to_bits(p.rate), std::memory_order_relaxed);
  slot.anchor_real.store(p.anchor_real, std::memory_order_relaxed);
  slot.anchor_virtual.store(p.anchor_virtual, std::memory_order_relaxed);
  slot.resume_rate_bits.store(double_to_bits(p.resume_rate), std::memory_order_relaxed);
}

// Virtual time at `real` (≥ 0, a monotonic reading), within 0 and the end
// of time: a running clock stands at the end of time, and a reading taken
// just before the anchor was set does not go below 0.
inline std::int64_t virtual_at(const Params& p, std::int64_t real) noexcept {
  const std::int64_t room = kEndOfTime - p.anchor_virtual;  // ≥ 0: load() checked the anchor
  switch (p.mode) {
    case ClockMode::stepped:
    case ClockMode::lockstep: return p.anchor_virtual;
    case ClockMode::real: return std::max<std::int64_t>(p.anchor_virtual + std::min(real - p.anchor_real, room), 0);
    case ClockMode::scaled: {
      const double passed = static_cast<double>(real - p.anchor_real) * p.rate;
      if (passed >= static_cast<double>(room)) return kEndOfTime;
      if (passed <= -static_cast<double>(p.anchor_virtual)) return 0;
      return p.anchor_virtual + static_cast<std::int64_t>(passed);
    }
  }
  return real;
}

inline std::atomic<detail::ChangeHook> g_mid_change_hook{nullptr};
inline std::atomic<detail::ChangeHook> g_watcher_start_hook{nullptr};

inline LockstepState& lockstep_of(ClockState& state) noexcept {
  static_assert(offsetof(ClockSegment, clock) == 0);
  return reinterpret_cast<ClockSegment&>(state).lockstep;
}

// Wakes a lockstep participant (a system call only if it sleeps or is
// about to).
inline void ring(LockstepRow& row) noexcept { detail::EventCount(row.bell).notify(); }

// Wakes the participants (all, or those due at `due` and before). True if
// one of them was busy when looked at (it will check lockstep when idle).
inline bool ring_bell(LockstepState& ls, std::int64_t due = kNever) noexcept {
  bool busy = false;
  for (LockstepRow& row : ls.rows) {
    const std::uint32_t phase = LockstepRow::phase(row.state.load(std::memory_order_seq_cst));
    if (phase == LockstepRow::kFree) continue;
    busy = busy || phase == LockstepRow::kBusy;
    if (due == kNever || row.deadline.load(std::memory_order_seq_cst) <= due) ring(row);
  }
  return busy;
}

// Wakes everyone who waits for the clock to change: its sleepers and clock
// watchers (state.wake), the watchers that leave jumps to the bell (unless
// this is a lockstep jump), and the idle lockstep loops (the bell).
// A jump wakes only the participants it made due.
enum class Change { any, lockstep_jump };
inline void wake_all(ClockState& state, Change change = Change::any, std::int64_t jumped_to = kNever) noexcept {
  detail::EventCount(state.wake).notify();
  if (change != Change::lockstep_jump) detail::EventCount(state.wake_but_jumps).notify();
  ring_bell(lockstep_of(state), change == Change::lockstep_jump ? jumped_to : kNever);
}

// Ends a change: the count becomes even, and readers asleep on it wake.
inline void end_change(ClockState& state, std::uint32_t even) noexcept {
  state.change.store(even, std::memory_order_seq_cst);
  if (state.change_waiters.load(std::memory_order_seq_cst) != 0) detail::futex_wake_all(state.change);
}

// A reader that finds a change pending for long looks whether its writer is
// alive: the lock is busy while it is. Holding the lock, an odd change
// count can only be a dead writer's unfinished change, and its slots are
// consistent (it wrote the spare one and published it last): finish it.
// Returns true if it did.
inline bool finish_dead_writers_change(ClockState& state) noexcept {
  const detail::RobustLock lock(&state.writer, detail::RobustLock::Try::no);
  if (!lock.held()) return false;  // a live writer is at work
  const std::uint32_t change = state.change.load(std::memory_order_relaxed);
  if ((change & 1U) == 0) return false;
  end_change(state, change + 1);
  wake_all(state);
  return true;
}

// Waits for a pending change (`pending`, odd) to end: sleeps on the change
// count, 100 ms at a time, instead of spinning. A writer that does not
// finish within a second is stopped (SIGSTOP, a debugger) or starved: the
// process says once, on stderr, which process it waits for.
void wait_for_change(const ClockState& state, std::uint32_t pending) noexcept;

// Reads consistent parameters and the real time they apply to. A read that
// overlaps a change retries, so no reader pairs the old rate with a real
// time taken after the writer's new anchor: time never runs backwards.
// A writer finishes within microseconds; after 64 spins the reader checks
// whether it died and, if so, finishes its change (one try of the lock,
// no system call while the writer lives), else sleeps until it ends.
inline Params read(const ClockState& state, std::int64_t& real) noexcept {
  for (unsigned spins = 0;; ++spins) {
    const std::uint32_t before = state.change.load(std::memory_order_acquire);
    if ((before & 1U) != 0) {
      if (spins >= 64 && !finish_dead_writers_change(const_cast<ClockState&>(state))) wait_for_change(state, before);
      continue;
    }
    const Params p = load(state.slot[state.index.load(std::memory_order_acquire) & 1U]);
    real = monotonic_ns();
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the clock read happens before the re-check
    if (state.change.load(std::memory_order_relaxed) == before) return p;
  }
}

// Serialises writers across processes (the robust lock shared with the
// state cells): a dead holder's lock passes to exactly one next writer.
// Whether a call may wait for another writer (or a change in progress).
enum class Waits { may_wait, never };

class WriterLock {
 public:
  explicit WriterLock(ClockState& state, Waits waits = Waits::may_wait) noexcept
      : state_(state),
        lock_(waits == Waits::may_wait ? detail::RobustLock(&state.writer)
                                       : detail::RobustLock(&state.writer, detail::RobustLock::Try::no)) {
    if (lock_.held()) state_.writer_pid.store(static_cast<std::int32_t>(::getpid()), std::memory_order_relaxed);
  }
  ~WriterLock() {
    if (lock_.held()) state_.writer_pid.store(0, std::memory_order_relaxed);
  }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;
  [[nodiscard]] bool held() const noexcept { return lock_.held(); }
  [[nodiscard]] Error failure() const { return lock_.failure("the clock"); }

 private:
  ClockState& state_;
  detail::RobustLock lock_;
};

inline Result<ClockState*> writable_state() {
  ClockState* state = g_segment.get();
  if (state == nullptr) {
    if (auto attached = VirtualClock::attach(); !attached) return tl::make_unexpected(attached.error());
    state = g_segment.get();
  }
  return state;
}

// Applies `change` to the current parameters at one instant and publishes
// the result in the spare slot; wakes every sleeper. The caller holds the lock.
template <class Edit>
Result<void> update_locked(ClockState& state, Edit&& change, Change kind = Change::any) {
  const std::uint32_t before = state.change.load(std::memory_order_relaxed);
  const std::uint32_t pending = before | 1U;  // odd already if a writer died mid-change
  state.change.store(pending, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // readers see "pending" before our clock read
  if (const detail::ChangeHook hook = g_mid_change_hook.load(std::memory_order_relaxed)) hook();
  const std::uint32_t current = state.index.load(std::memory_order_relaxed) & 1U;
  const Params old = load(state.slot[current]);
  const std::int64_t real = monotonic_ns();
  Params next = old;
  next.anchor_real = real;
  next.anchor_virtual = virtual_at(old, real);  // continuous: never backwards
  if (auto changed = change(next); !changed) {
    end_change(state, pending + 1);
    return changed;
  }
  store(state.slot[current ^ 1U], next);
  state.index.store(current ^ 1U, std::memory_order_release);
  end_change(state, pending + 1);
  wake_all(state, kind, next.anchor_virtual);
  return {};
}

template <class Edit>
Result<void> update(Edit&& change) {
  auto state_or = writable_state();
  if (!state_or) return tl::make_unexpected(state_or.error());
  WriterLock lock(**state_or);
  if (!lock.held()) return tl::make_unexpected(lock.failure());
  return update_locked(**state_or, std::forward<Edit>(change));
}

inline ClockMode current_mode(const ClockState& state) noexcept {
  const auto& slot = state.slot[state.index.load(std::memory_order_acquire) & 1U];
  return static_cast<ClockMode>(slot.mode.load(std::memory_order_relaxed));
}

// Lockstep: judges whether time may jump and makes the jump (lockstep.cpp).
// `repeat_bell`: the daemon's housekeeping rings again if a loop is behind;
// `waits`: Waits::never for the daemon (lockstep.cpp).
void lockstep_check(ClockState& state, bool repeat_bell = false, Waits waits = Waits::may_wait) noexcept;

}  // namespace statebus::clockwork
