#pragma once
// The clock's core, shared by its own files (virtual_clock.cpp: the API;
// lockstep.cpp: lockstep participants; clock_watcher.cpp: the process's
// watcher): the attached segment, the parameters (a SeqlockPair over two
// slots) and their read, the one writer and its change, and the wake-ups a
// change sends.
// Internal to clock/src.

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "change_hook.hpp"
#include "clock_state.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/bus_segment.hpp"
#include "statebus/internal/event_count.hpp"
#include "statebus/internal/robust_mutex.hpp"
#include "statebus/internal/seqlock_pair.hpp"
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
  // Relaxed: the slot is published by the pair's version (release) and was
  // complete before it; the pair's re-check catches a concurrent rewrite.
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

// The parameters, a SeqlockPair (internal/seqlock_pair.hpp) over the two
// slots. Readers only read; the const_cast gives the pair its words.
inline detail::SeqlockPair params_of(const ClockState& state) noexcept {
  return detail::SeqlockPair(const_cast<detail::SeqlockWords&>(state.params));
}

// The instant a pending change takes effect at (ClockState::change_anchor).
// A reader pairs the old parameters with a real time; so that time never
// runs backwards, the change must take effect no earlier than any such
// pairing, and the new anchor_virtual is the old parameters' time at it.
inline constexpr std::uint64_t kAnchorFixed = 1ULL << 63;

// Writer (holding the lock, its change begun): fixes the change's instant
// at `real`, or later if a reader paired the old parameters with a later time.
inline std::int64_t fix_change_anchor(ClockState& state, std::int64_t real) noexcept {
  std::uint64_t word = state.change_anchor.load(std::memory_order_seq_cst);
  for (;;) {
    const auto agreed = std::max<std::uint64_t>(word & ~kAnchorFixed, static_cast<std::uint64_t>(real));
    // seq_cst: in one order with the readers' claims (claim_old_parameters_at)
    if (state.change_anchor.compare_exchange_weak(word, agreed | kAnchorFixed, std::memory_order_seq_cst)) {
      return static_cast<std::int64_t>(agreed);
    }
  }
}

// Reader that read the old parameters while a change was pending, at
// `real`: the real time it may pair them with. Before the writer fixed the
// change's instant, `real` itself, recorded so that the change takes effect
// no earlier; after, the earlier of `real` and that instant (time stands at
// the change's instant until the new parameters are published).
inline std::int64_t claim_old_parameters_at(const ClockState& state, std::int64_t real) noexcept {
  auto& anchor = const_cast<std::atomic<std::uint64_t>&>(state.change_anchor);
  std::uint64_t word = anchor.load(std::memory_order_seq_cst);
  for (;;) {
    if ((word & kAnchorFixed) != 0) return std::min(real, static_cast<std::int64_t>(word & ~kAnchorFixed));
    if (word >= static_cast<std::uint64_t>(real)) return real;  // a later claim holds the change back already
    if (anchor.compare_exchange_weak(word, static_cast<std::uint64_t>(real), std::memory_order_seq_cst)) return real;
  }
}

// Publishes the current parameters unchanged as the pending version `next`:
// ends a change that was refused, or one a dead writer left. Nothing a
// reader reads changes: the same parameters give the same time at every
// instant. The caller holds the lock.
inline void publish_unchanged(ClockState& state, std::uint64_t next) noexcept {
  const ClockSlot& from = state.slot[detail::SeqlockPair::copy_of(next - 1)];
  ClockSlot& to = state.slot[detail::SeqlockPair::copy_of(next)];
  to.mode.store(from.mode.load(std::memory_order_relaxed), std::memory_order_relaxed);
  to.rate_bits.store(from.rate_bits.load(std::memory_order_relaxed), std::memory_order_relaxed);
  to.anchor_real.store(from.anchor_real.load(std::memory_order_relaxed), std::memory_order_relaxed);
  to.anchor_virtual.store(from.anchor_virtual.load(std::memory_order_relaxed), std::memory_order_relaxed);
  to.resume_rate_bits.store(from.resume_rate_bits.load(std::memory_order_relaxed), std::memory_order_relaxed);
  params_of(state).publish(next);
}

// Begins a change: readers from now on find it pending. The caller holds the lock.
inline std::uint64_t begin_change(ClockState& state) noexcept {
  // Reset before the pending write is visible (begin_write's release fence),
  // so that readers that find it pending claim for this change, not an old one.
  state.change_anchor.store(0, std::memory_order_seq_cst);
  const std::uint64_t next = params_of(state).begin_write();
  // Readers that look for a pending change after their clock read (their
  // own seq_cst fence) and find none read the clock before we do below.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return next;
}

// A reader that finds a change pending tries the writer lock once: busy, a
// live writer is at work (the reader goes on without waiting); taken, the
// writer died mid-change, and the reader ends the change for everyone
// (publishing the parameters unchanged). Returns true if it did.
inline bool finish_dead_writers_change(const ClockState& state) noexcept {
  auto& writable = const_cast<ClockState&>(state);
  const detail::RobustLock lock(&writable.writer, detail::RobustLock::Try::no);
  if (!lock.held()) return false;  // a live writer is at work
  if (!params_of(state).write_pending()) return false;
  publish_unchanged(writable, begin_change(writable));
  return true;
}

// Reads consistent parameters and the real time they apply to; never
// waits for a writer. A read that overlaps a change pairs the old
// parameters with a real time no later than the change's instant
// (claim_old_parameters_at), so no reader pairs the old rate with a real
// time after the new anchor: time never runs backwards.
inline Params read(const ClockState& state, std::int64_t& real) noexcept {
  const detail::SeqlockPair pair = params_of(state);
  for (;;) {
    Params p;
    std::int64_t now = 0;
    const std::uint64_t version = pair.read([&](std::uint64_t copy) {
      p = load(state.slot[copy]);
      now = monotonic_ns();
      // The clock read comes before the look for a pending change below.
      std::atomic_thread_fence(std::memory_order_seq_cst);
    });
    if (!pair.write_begun_after(version)) {  // no change began before `now` was read
      real = now;
      return p;
    }
    // A writer is inside (or died there): pair the old parameters with a
    // time no later than the change's instant; a dead writer's change is
    // ended here (one try of the lock).
    if (finish_dead_writers_change(state)) continue;
    now = claim_old_parameters_at(state, now);
    if (pair.version() != version) continue;  // published meanwhile: the claim may be for a later change
    real = now;
    return p;
  }
}

// Serialises writers across processes (the robust lock shared with the
// state cells): a dead holder's lock passes to exactly one next writer.
// Whether a call may wait for another writer (or a change in progress).
enum class Waits { may_wait, never };

class WriterLock {
 public:
  explicit WriterLock(ClockState& state, Waits waits = Waits::may_wait) noexcept
      : lock_(waits == Waits::may_wait ? detail::RobustLock(&state.writer)
                                       : detail::RobustLock(&state.writer, detail::RobustLock::Try::no)) {}
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;
  [[nodiscard]] bool held() const noexcept { return lock_.held(); }
  [[nodiscard]] Error failure() const { return lock_.failure("the clock"); }

 private:
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
// the result in the spare slot; wakes every sleeper. A refused change
// publishes the parameters unchanged. The caller holds the lock.
template <class Edit>
Result<void> update_locked(ClockState& state, Edit&& change, Change kind = Change::any) {
  const std::uint64_t next = begin_change(state);  // a dead writer's pending version is written again
  const Params old = load(state.slot[detail::SeqlockPair::copy_of(next - 1)]);  // current: only writers write
  const std::int64_t real = fix_change_anchor(state, monotonic_ns());
  if (const detail::ChangeHook hook = g_mid_change_hook.load(std::memory_order_relaxed)) hook();
  Params updated = old;
  updated.anchor_real = real;
  updated.anchor_virtual = virtual_at(old, real);  // continuous: never backwards
  if (auto changed = change(updated); !changed) {
    publish_unchanged(state, next);
    return changed;
  }
  store(state.slot[detail::SeqlockPair::copy_of(next)], updated);
  params_of(state).publish(next);
  wake_all(state, kind, updated.anchor_virtual);
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
  const auto& slot = state.slot[detail::SeqlockPair::copy_of(params_of(state).version())];
  return static_cast<ClockMode>(slot.mode.load(std::memory_order_relaxed));
}

// Lockstep: judges whether time may jump and makes the jump (lockstep.cpp).
// `repeat_bell`: the daemon's housekeeping rings again if a loop is behind;
// `waits`: Waits::never for the daemon (lockstep.cpp).
void lockstep_check(ClockState& state, bool repeat_bell = false, Waits waits = Waits::may_wait) noexcept;

}  // namespace statebus::clockwork
