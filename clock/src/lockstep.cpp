// Lockstep: the participants' rows in the clock segment, the judge that
// lets time jump when all are idle and nothing is in flight, the bells that
// wake a loop in one hop, and what a dead process's place leaves behind.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "clock_core.hpp"
#include "statebus/base/process.hpp"
#include "statebus/internal/lockstep.hpp"
#include "statebus/internal/process_slot.hpp"

namespace statebus::clockwork {
namespace {

// How long an idle loop in lockstep mode looks at its bell before it sleeps.
constexpr std::chrono::nanoseconds kBellLook = std::chrono::microseconds(20);

// Publishes in flight on the whole bus.
std::uint64_t in_flight(const LockstepState& ls) noexcept {
  const std::uint32_t used = std::min(ls.places_used.load(std::memory_order_seq_cst), detail::kProcessSlots - 1);
  std::uint64_t count = 0;
  for (std::uint32_t place = 0; place <= used; ++place) count += ls.in_flight[place].load(std::memory_order_seq_cst);
  return count;
}

// Lockstep: may time jump, and to where? Only when every participant is
// idle, none has been idle since before the latest publish (its queues may
// hold that sample), and the publish count stayed the same during the scan.
enum class Verdict { busy, stale, stands, jump };
Verdict judge(LockstepState& ls, std::int64_t now, std::int64_t& target, std::uint64_t& published) noexcept {
  // A publisher counts itself in flight before it reads the time for its
  // sample and out after delivering it. Either this judge sees it, or the
  // publisher reads the time after this change is done (a writer marks the
  // change pending before it judges, and readers wait for that).
  if (in_flight(ls) != 0) return Verdict::busy;
  published = ls.published.load(std::memory_order_seq_cst);
  std::int64_t earliest = kNever;
  bool stale = false;
  for (LockstepRow& row : ls.rows) {
    const std::uint32_t state = LockstepRow::phase(row.state.load(std::memory_order_seq_cst));
    if (state == LockstepRow::kBusy) return Verdict::busy;
    if (state != LockstepRow::kIdle) continue;
    earliest = std::min(earliest, row.deadline.load(std::memory_order_seq_cst));
    if (row.seen.load(std::memory_order_seq_cst) != published) stale = true;
  }
  if (ls.published.load(std::memory_order_seq_cst) != published) return Verdict::busy;
  if (stale) return Verdict::stale;
  target = std::min(earliest, ls.limit.load(std::memory_order_relaxed));
  return target > now && target != kNever ? Verdict::jump : Verdict::stands;
}

}  // namespace

// `repeat_bell`: the daemon's housekeeping rings the bell again if a loop
// is still stale (every publish rang it already, so this is a safety net).
// `waits`: the daemon never waits (a writer frozen mid-change must not stop
// its repairs): it jumps only if the writer lock is free; whoever makes the
// next change judges again.
void lockstep_check(ClockState& state, bool repeat_bell, Waits waits) noexcept {
  if (current_mode(state) != ClockMode::lockstep) return;
  LockstepState& ls = lockstep_of(state);
  // Never waits: a read of the clock waits for no writer (clock_core.hpp).
  const std::int64_t now = VirtualClock::now().time_since_epoch().count();
  std::int64_t target = 0;
  std::uint64_t published = 0;
  const Verdict first = judge(ls, now, target, published);
  // Stale: an idle loop has not looked since the latest publish; that
  // publish rang the bell after counting, so the loop is on its way.
  if (first == Verdict::stale && repeat_bell) ring_bell(ls);
  if (first != Verdict::jump) return;
  WriterLock lock(state, waits);
  if (!lock.held()) return;
  (void)update_locked(state, [&](Params& p) -> Result<void> {
    // Judged again under the lock: another participant may have jumped already.
    if (p.mode != ClockMode::lockstep || judge(ls, p.anchor_virtual, target, published) != Verdict::jump) {
      return fail(Errc::invalid_argument, "no jump");
    }
    p.anchor_virtual = std::min(target, kEndOfTime);  // a timer past the end of time: the clock stands there
    ls.advances.fetch_add(1, std::memory_order_relaxed);
    return {};
  }, Change::lockstep_jump);
}

}  // namespace statebus::clockwork

namespace statebus {

using namespace clockwork;

Result<detail::LockstepParticipant> detail::LockstepParticipant::join() {
  LockstepParticipant participant;
  ClockState* state = g_segment.get();
  if (state == nullptr) return participant;  // real time only: nothing to hold
  LockstepState& ls = lockstep_of(*state);
  for (std::size_t i = 0; i < LockstepState::kRows; ++i) {
    LockstepRow& row = ls.rows[i];
    std::uint32_t word = row.state.load(std::memory_order_acquire);
    if (LockstepRow::phase(word) != LockstepRow::kFree) continue;
    const std::uint32_t claimed = LockstepRow::with(word + LockstepRow::kClaim, LockstepRow::kClaiming);
    if (!row.state.compare_exchange_strong(word, claimed, std::memory_order_acq_rel)) continue;
    row.slot.store(detail::process_slot(), std::memory_order_relaxed);
    row.pid.store(this_process().pid, std::memory_order_release);
    row.deadline.store(kNever, std::memory_order_relaxed);
    row.state.store(LockstepRow::with(claimed, LockstepRow::kBusy), std::memory_order_seq_cst);
    participant.row_ = static_cast<int>(i);
    return participant;
  }
  // The daemon frees a dead process's rows as soon as the kernel reports
  // the death: these are all live processes' (or a process without a place's).
  return fail(Errc::out_of_resources, "all " + std::to_string(LockstepState::kRows) +
                                          " event-loop places of the bus's clock are taken by live processes: "
                                          "end some event loops first");
}

detail::LockstepParticipant& detail::LockstepParticipant::operator=(LockstepParticipant&& other) noexcept {
  if (this != &other) {
    this->~LockstepParticipant();
    row_ = other.row_;
    other.row_ = -1;
  }
  return *this;
}

detail::LockstepParticipant::~LockstepParticipant() {
  if (row_ < 0) return;
  ClockState* state = g_segment.get();
  LockstepRow& row = lockstep_of(*state).rows[row_];
  row.pid.store(0, std::memory_order_release);
  row.slot.store(detail::kNoSlot, std::memory_order_release);
  row.state.store(LockstepRow::with(row.state.load(std::memory_order_relaxed), LockstepRow::kFree),
                  std::memory_order_seq_cst);
  row_ = -1;
  lockstep_check(*state);  // the others may have waited for us alone
}

bool detail::LockstepParticipant::idle(std::optional<VirtualClock::time_point> next, bool (*has_data)(void*),
                                       void* context) noexcept {
  if (row_ < 0) return !has_data(context);
  ClockState& state = *g_segment.get();
  LockstepState& ls = lockstep_of(state);
  LockstepRow& row = ls.rows[row_];
  // The bell first: a publish or change after this read makes wait() return.
  bell_ = detail::EventCount(row.bell).current();
  // Publishers count after they deliver: a sample our check below misses
  // was counted after this read, so `seen` is stale and time cannot move.
  const std::uint64_t published = ls.published.load(std::memory_order_seq_cst);
  if (has_data(context)) return false;
  row.deadline.store(next ? next->time_since_epoch().count() : kNever, std::memory_order_seq_cst);
  row.seen.store(published, std::memory_order_seq_cst);
  row.state.store(LockstepRow::with(row.state.load(std::memory_order_relaxed), LockstepRow::kIdle),
                  std::memory_order_seq_cst);
  lockstep_check(state);
  return true;
}

bool detail::LockstepParticipant::wait(std::chrono::nanoseconds timeout) noexcept {
  if (row_ < 0) return false;
  ClockState& state = *g_segment.get();
  // A change of mode after idle() rang the bell: the futex returns at once.
  if (current_mode(state) != ClockMode::lockstep) return false;
  detail::EventCount bell(lockstep_of(state).rows[row_].bell);
  // Rung already (a loop on one core often finds its jump made by the other
  // loop before it gets here): no announcement, so the next ring, often
  // this loop's own publish, makes no system call for a sleeper.
  // Lockstep runs as fast as its loops go: the ring this loop waits for
  // usually comes within a step of the other loops (microseconds). Look for
  // it a while first, yielding the CPU between looks: on one CPU the loop
  // that will ring needs it, across CPUs a yield costs less than the futex
  // wake-up on both sides that a sleep would (a ringer calls futex only for
  // a loop that announced its sleep). Only in lockstep mode, at most
  // kBellLook per wait; the heating demo's day: 1.3 s instead of 1.7–3 s.
  if (!bell.moved_since(bell_)) {
    const std::int64_t until = monotonic_ns() + kBellLook.count();
    do {
      sched_yield();
    } while (!bell.moved_since(bell_) && monotonic_ns() < until);
  }
  if (bell.moved_since(bell_)) return true;
  const std::uint32_t ticket = bell.prepare();
  if (ticket == (bell_ | detail::EventCount::kSleepers)) {
    bell.sleep(ticket, timeout.count());
  } else {
    bell.withdraw(ticket);  // rung in between; the loop is the bell's only sleeper
  }
  return true;
}

bool detail::LockstepParticipant::announced_sleep() const noexcept {
  if (row_ < 0) return false;
  return detail::EventCount(lockstep_of(*g_segment.get()).rows[row_].bell).may_have_sleepers();
}

bool detail::LockstepParticipant::rang() const noexcept {
  if (row_ < 0) return false;
  return detail::EventCount(lockstep_of(*g_segment.get()).rows[row_].bell).moved_since(bell_);
}

bool detail::lockstep_running() noexcept {
  const ClockState* state = g_segment.get();
  return state != nullptr && current_mode(*state) == ClockMode::lockstep;
}

void detail::ring_lockstep_bell() noexcept {
  if (ClockState* state = g_segment.get()) ring_bell(lockstep_of(*state));
}

void detail::LockstepParticipant::busy() noexcept {
  if (row_ < 0) return;
  ClockState& state = *g_segment.get();
  LockstepRow& row = lockstep_of(state).rows[row_];
  row.state.store(LockstepRow::with(row.state.load(std::memory_order_relaxed), LockstepRow::kBusy),
                  std::memory_order_seq_cst);
}

// Every publish counts itself in flight, in every mode: one that began
// before lockstep mode was set is still seen by the judge.
std::uint32_t detail::begin_publish() noexcept {
  ClockState* state = g_segment.get();
  if (state == nullptr) return kNotCounted;
  LockstepState& ls = lockstep_of(*state);
  const std::uint32_t place = detail::process_slot();
  std::uint32_t used = ls.places_used.load(std::memory_order_relaxed);
  while (used < place && !ls.places_used.compare_exchange_weak(used, place, std::memory_order_seq_cst)) {
  }
  ls.in_flight[place].fetch_add(1, std::memory_order_seq_cst);
  return place;
}

void detail::end_publish(std::uint32_t place) noexcept {
  if (place == kNotCounted) return;
  ClockState* state = g_segment.get();
  LockstepState& ls = lockstep_of(*state);
  const bool lockstep = current_mode(*state) == ClockMode::lockstep;
  // Before leaving: idle loops' `seen` is stale now.
  if (lockstep) ls.published.fetch_add(1, std::memory_order_seq_cst);
  ls.in_flight[place].fetch_sub(1, std::memory_order_seq_cst);
  if (!lockstep) return;
  // After counting: an idle loop that missed the sample wakes to look. A
  // busy participant checks when it goes idle; if none is busy (the
  // publisher is outside every loop), check now. One pass over the rows.
  if (ring_bell(ls)) return;
  lockstep_check(*state);
}

void detail::forget_process(std::uint32_t place) noexcept {
  ClockState* state = g_segment.get();
  if (state == nullptr || place == kNoSlot || place >= kProcessSlots) return;
  LockstepState& ls = lockstep_of(*state);
  // The process is dead: nothing of it changes these words any more.
  ls.in_flight[place].store(0, std::memory_order_seq_cst);
  for (LockstepRow& row : ls.rows) {
    std::uint32_t word = row.state.load(std::memory_order_acquire);
    if (LockstepRow::phase(word) == LockstepRow::kFree || row.slot.load(std::memory_order_acquire) != place) continue;
    // The row is the dead process's: only its owner (dead) or this call
    // frees it. The exchange keeps the claim count moving all the same.
    if (row.state.compare_exchange_strong(word, LockstepRow::with(word, LockstepRow::kClaiming),
                                          std::memory_order_acq_rel)) {
      row.pid.store(0, std::memory_order_release);
      row.slot.store(detail::kNoSlot, std::memory_order_release);
      row.state.store(LockstepRow::with(word, LockstepRow::kFree), std::memory_order_release);
    }
  }
  lockstep_check(*state, /*repeat_bell=*/true, Waits::never);
}

void detail::lockstep_housekeeping() noexcept {
  ClockState* state = g_segment.get();
  if (state == nullptr || current_mode(*state) != ClockMode::lockstep) return;
  lockstep_check(*state, /*repeat_bell=*/true, Waits::never);
}

}  // namespace statebus
