#include "statebus/clock/virtual_clock.hpp"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "change_hook.hpp"
#include "clock_state.hpp"
#include "statebus/internal/clock_segment.hpp"
#include "statebus/clock/duration.hpp"
#include "statebus/internal/futex.hpp"
#include "statebus/internal/robust_mutex.hpp"
#include "statebus/base/process.hpp"
#include "statebus/internal/shared_segment.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "statebus/internal/lockstep.hpp"

namespace statebus {
namespace {

using detail::ClockSlot;
using detail::monotonic_ns;
using detail::ClockSegment;
using detail::ClockState;
using detail::LockstepRow;
using detail::LockstepState;

constexpr SharedSegment::Layout kLayout{detail::kClockMagic, detail::kClockMajor, detail::kClockMinor,
                                        sizeof(ClockSegment), "clock segment"};
constexpr std::int64_t kNever = INT64_MAX;

// The attached clock; null: real time. Set once per attach, read lock-free.
std::atomic<ClockState*> g_state{nullptr};
std::atomic<std::uint64_t> g_identity{0};  // the clock segment's file, for bus_health()
std::mutex g_attach_mutex;

double bits_to_double(std::uint64_t bits) noexcept {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
std::uint64_t double_to_bits(double value) noexcept {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

struct Params {
  ClockMode mode = ClockMode::real;
  double rate = 1.0;
  std::int64_t anchor_real = 0;
  std::int64_t anchor_virtual = 0;
  double resume_rate = 1.0;
};

Params load(const ClockSlot& slot) noexcept {
  // Relaxed: the slot is published by the index store (release) and was
  // complete before it; the change counter catches a concurrent rewrite.
  Params p;
  p.mode = static_cast<ClockMode>(slot.mode.load(std::memory_order_relaxed));
  p.rate = bits_to_double(slot.rate_bits.load(std::memory_order_relaxed));
  p.anchor_real = slot.anchor_real.load(std::memory_order_relaxed);
  p.anchor_virtual = slot.anchor_virtual.load(std::memory_order_relaxed);
  p.resume_rate = bits_to_double(slot.resume_rate_bits.load(std::memory_order_relaxed));
  return p;
}

void store(ClockSlot& slot, const Params& p) noexcept {
  slot.mode.store(static_cast<std::uint64_t>(p.mode), std::memory_order_relaxed);
  slot.rate_bits.store(double_to_bits(p.rate), std::memory_order_relaxed);
  slot.anchor_real.store(p.anchor_real, std::memory_order_relaxed);
  slot.anchor_virtual.store(p.anchor_virtual, std::memory_order_relaxed);
  slot.resume_rate_bits.store(double_to_bits(p.resume_rate), std::memory_order_relaxed);
}

constexpr std::int64_t kEndOfTime = VirtualClock::end_of_time.time_since_epoch().count();

// Virtual time at `real`; a running clock stands at the end of time.
std::int64_t virtual_at(const Params& p, std::int64_t real) noexcept {
  const std::int64_t room = kEndOfTime - p.anchor_virtual;  // ≥ 0: no change sets an anchor past the end
  switch (p.mode) {
    case ClockMode::stepped:
    case ClockMode::lockstep: return p.anchor_virtual;
    case ClockMode::real: return p.anchor_virtual + std::min(real - p.anchor_real, room);
    case ClockMode::scaled: {
      const double passed = static_cast<double>(real - p.anchor_real) * p.rate;
      return passed >= static_cast<double>(room) ? kEndOfTime : p.anchor_virtual + static_cast<std::int64_t>(passed);
    }
  }
  return real;
}

// "… would pass the end of virtual time …", for a change that would.
Error past_the_end(const std::string& change, std::int64_t now) {
  return Error(Errc::invalid_argument,
               change + " would pass the end of virtual time (" + format_duration(VirtualClock::end_of_time.time_since_epoch()) +
                   " after the machine's start; it is " + format_duration(std::chrono::nanoseconds(now)) +
                   " now): the supported span is 100 years");
}

// Keeps the running rate for resume().
void remember_rate(Params& p) noexcept {
  if (p.mode == ClockMode::real) p.resume_rate = 1.0;
  if (p.mode == ClockMode::scaled && p.rate > 0) p.resume_rate = p.rate;
}

std::atomic<detail::ChangeHook> g_mid_change_hook{nullptr};
std::atomic<detail::ChangeHook> g_mid_reap_hook{nullptr};
std::atomic<detail::ChangeHook> g_watcher_start_hook{nullptr};

LockstepState& lockstep_of(ClockState& state) noexcept {
  static_assert(offsetof(ClockSegment, clock) == 0);
  return reinterpret_cast<ClockSegment&>(state).lockstep;
}

// Wakes a lockstep participant. Its wait stores `sleeping` before the
// futex checks the bell; we bump the bell before reading `sleeping`: one of
// the two sees the other.
void ring(LockstepRow& row) noexcept {
  row.bell.fetch_add(1, std::memory_order_seq_cst);
  if (row.sleeping.load(std::memory_order_seq_cst) != 0) detail::futex_wake_all(row.bell);
}

// Wakes the participants (all, or those due at `due` and before).
void ring_bell(LockstepState& ls, std::int64_t due = kNever) noexcept {
  for (LockstepRow& row : ls.rows) {
    if (LockstepRow::phase(row.state.load(std::memory_order_seq_cst)) == LockstepRow::kFree) continue;
    if (due == kNever || row.deadline.load(std::memory_order_seq_cst) <= due) ring(row);
  }
}

// Wakes everyone who waits for the clock to change: its sleepers and clock
// watchers (state.wake), the watchers that leave jumps to the bell (unless
// this is a lockstep jump), and the idle lockstep loops (the bell).
// A jump wakes only the participants it made due.
enum class Change { any, lockstep_jump };
void wake_all(ClockState& state, Change change = Change::any, std::int64_t jumped_to = kNever) noexcept {
  state.wake.fetch_add(1, std::memory_order_seq_cst);
  detail::futex_wake_all(state.wake);
  if (change != Change::lockstep_jump) {
    state.wake_but_jumps.fetch_add(1, std::memory_order_seq_cst);
    if (lockstep_of(state).sleepers_but_jumps.load(std::memory_order_seq_cst) != 0) {
      detail::futex_wake_all(state.wake_but_jumps);
    }
  }
  ring_bell(lockstep_of(state), change == Change::lockstep_jump ? jumped_to : kNever);
}

// A reader that finds a change pending for long looks whether its writer is
// alive: the lock is busy while it is. Holding the lock, an odd change
// count can only be a dead writer's unfinished change, and its slots are
// consistent (it wrote the spare one and published it last): finish it.
// Returns true if it did.
bool finish_dead_writers_change(ClockState& state) noexcept {
  const detail::RobustLock lock(&state.writer, detail::RobustLock::Try::no);
  if (!lock.held()) return false;  // a live writer is at work
  const std::uint32_t change = state.change.load(std::memory_order_relaxed);
  if ((change & 1U) == 0) return false;
  state.change.store(change + 1, std::memory_order_release);
  wake_all(state);
  return true;
}

// Reads consistent parameters and the real time they apply to. A read that
// overlaps a change retries, so no reader pairs the old rate with a real
// time taken after the writer's new anchor: time never runs backwards.
// A writer finishes within microseconds; after 64 spins the reader checks
// whether it died and, if so, finishes its change (one try of the lock,
// no system call while the writer lives).
Params read(const ClockState& state, std::int64_t& real) noexcept {
  for (unsigned spins = 0;; ++spins) {
    const std::uint32_t before = state.change.load(std::memory_order_acquire);
    if ((before & 1U) != 0) {
      if (spins >= 64 && spins % 64 == 0) finish_dead_writers_change(const_cast<ClockState&>(state));
      if (spins > 64) std::this_thread::yield();
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
class WriterLock {
 public:
  explicit WriterLock(ClockState& state) noexcept : lock_(&state.writer) {}
  [[nodiscard]] bool held() const noexcept { return lock_.held(); }
  [[nodiscard]] Error failure() const { return lock_.failure("the clock"); }

 private:
  detail::RobustLock lock_;
};

Result<ClockState*> writable_state() {
  ClockState* state = g_state.load(std::memory_order_acquire);
  if (state == nullptr) {
    if (auto attached = VirtualClock::attach(); !attached) return tl::make_unexpected(attached.error());
    state = g_state.load(std::memory_order_acquire);
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
    state.change.store(pending + 1, std::memory_order_release);
    return changed;
  }
  store(state.slot[current ^ 1U], next);
  state.index.store(current ^ 1U, std::memory_order_release);
  state.change.store(pending + 1, std::memory_order_release);
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

ClockMode current_mode(const ClockState& state) noexcept {
  const auto& slot = state.slot[state.index.load(std::memory_order_acquire) & 1U];
  return static_cast<ClockMode>(slot.mode.load(std::memory_order_relaxed));
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
  if (ls.in_flight.load(std::memory_order_seq_cst) != 0) return Verdict::busy;
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

// `repeat_bell`: the daemon's housekeeping rings the bell again if a loop
// is still stale (every publish rang it already, so this is a safety net).
void lockstep_check(ClockState& state, bool repeat_bell = false) noexcept {
  if (current_mode(state) != ClockMode::lockstep) return;
  LockstepState& ls = lockstep_of(state);
  std::int64_t target = 0;
  std::uint64_t published = 0;
  const Verdict first = judge(ls, VirtualClock::now().time_since_epoch().count(), target, published);
  // Stale: an idle loop has not looked since the latest publish; that
  // publish rang the bell after counting, so the loop is on its way.
  if (first == Verdict::stale && repeat_bell) ring_bell(ls);
  if (first != Verdict::jump) return;
  WriterLock lock(state);
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

bool row_dead(const LockstepRow& row) noexcept {
  const std::int32_t pid = row.pid.load(std::memory_order_acquire);
  return pid != 0 && !is_alive({pid, row.start_time.load(std::memory_order_acquire)});
}

// Frees the rows of processes that are gone.
void reap(LockstepState& ls) noexcept {
  for (LockstepRow& row : ls.rows) {
    std::uint32_t word = row.state.load(std::memory_order_acquire);
    if (LockstepRow::phase(word) == LockstepRow::kFree || !row_dead(row)) continue;
    if (const detail::ChangeHook hook = g_mid_reap_hook.load(std::memory_order_relaxed)) hook();
    // Fails if the row was freed and claimed again since `word` was read.
    if (row.state.compare_exchange_strong(word, LockstepRow::with(word, LockstepRow::kClaiming),
                                          std::memory_order_acq_rel)) {
      row.pid.store(0, std::memory_order_release);
      row.state.store(LockstepRow::with(word, LockstepRow::kFree), std::memory_order_release);
    }
  }
}

}  // namespace

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

void detail::set_mid_change_hook(ChangeHook hook) noexcept { g_mid_change_hook.store(hook, std::memory_order_relaxed); }
void detail::set_mid_reap_hook(ChangeHook hook) noexcept { g_mid_reap_hook.store(hook, std::memory_order_relaxed); }
void detail::set_watcher_start_hook(ChangeHook hook) noexcept {
  g_watcher_start_hook.store(hook, std::memory_order_relaxed);
}

bool detail::clock_change_pending() noexcept {
  const ClockState* state = g_state.load(std::memory_order_acquire);
  return state != nullptr && (state->change.load(std::memory_order_acquire) & 1U) != 0;
}

Result<void> create_clock_segment() {
  auto segment = SharedSegment::create(detail::kClockSegmentName, kLayout);
  if (!segment) return tl::make_unexpected(segment.error());
  auto* whole = new (segment->data()) ClockSegment();
  whole->lockstep.limit.store(kNever, std::memory_order_relaxed);
  ClockState* state = &whole->clock;
  if (auto lock = detail::init_robust_mutex(&state->writer); !lock) return lock;
  Params p;
  p.anchor_real = p.anchor_virtual = monotonic_ns();
  store(state->slot[0], p);
  segment->publish_ready();
  std::lock_guard<std::mutex> guard(g_attach_mutex);
  g_identity.store(segment->identity(), std::memory_order_relaxed);
  segment->keep_mapped();  // readers in this process may use it until exit
  g_state.store(state, std::memory_order_release);
  return {};
}

void remove_clock_segment() noexcept { SharedSegment::unlink(detail::kClockSegmentName); }

Result<void> VirtualClock::attach() {
  auto segment = SharedSegment::open(detail::kClockSegmentName, kLayout);
  if (!segment) return tl::make_unexpected(segment.error());
  std::lock_guard<std::mutex> guard(g_attach_mutex);
  auto* state = static_cast<ClockState*>(segment->data());
  g_identity.store(segment->identity(), std::memory_order_relaxed);
  segment->keep_mapped();  // now() may run on any thread until exit: never unmap
  g_state.store(state, std::memory_order_release);
  return {};
}

Result<void> VirtualClock::bus_health() {
  if (g_state.load(std::memory_order_acquire) == nullptr) return {};  // real time alone: nothing to lose
  return SharedSegment::still_current(detail::kClockSegmentName, g_identity.load(std::memory_order_relaxed), "clock");
}

std::int64_t detail::virtual_and_real_ns(std::int64_t& real) noexcept {
  const ClockState* state = g_state.load(std::memory_order_acquire);
  if (state == nullptr) return real = monotonic_ns();
  const Params p = read(*state, real);
  return virtual_at(p, real);
}

std::optional<std::chrono::nanoseconds> detail::real_time_until(VirtualClock::time_point deadline) noexcept {
  const ClockState* state = g_state.load(std::memory_order_acquire);
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

namespace {

// One thread per process watches the clock's futex word and tells the
// listeners (bus waits on virtual time) that the clock changed.
struct Listeners {
  struct Entry {
    void (*call)(void*);
    void* context;
    bool jumps;  // also called for lockstep jumps
  };
  std::mutex mutex;
  std::map<std::uint64_t, Entry> entries;
  std::uint64_t next_id = 1;
  bool watching = false;
  std::atomic<int> taking_jumps{0};  // entries with `jumps`
};

Listeners& listeners() {
  static Listeners* instance = new Listeners();  // never destroyed: the watcher may run until exit
  return *instance;
}

// Its first look tells the listeners too: a change made between the first
// listener's registration and that look would otherwise go unseen, and its
// waiter would sleep out its slice (up to a second). A needless call only
// makes a waiter look again.
// While no listener takes lockstep jumps (the process's only listeners are
// event loops, which the bell wakes), it sleeps on the word jumps leave
// alone, so that a lockstep day does not wake it 86 400 times.
void watch_clock() {
  Listeners& all = listeners();
  std::uint32_t seen = 0;
  bool seen_jumps = true;
  bool first = true;
  if (const detail::ChangeHook hook = g_watcher_start_hook.load(std::memory_order_relaxed)) hook();
  for (;;) {
    ClockState* state = g_state.load(std::memory_order_acquire);
    if (state == nullptr) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // no clock: nothing will change
      continue;
    }
    const bool jumps = all.taking_jumps.load(std::memory_order_seq_cst) > 0;
    std::atomic<std::uint32_t>& word = jumps ? state->wake : state->wake_but_jumps;
    const std::uint32_t wake = word.load(std::memory_order_seq_cst);
    // A listener taking jumps added since the first read kicks the word we
    // read after it: look again rather than sleep on the wrong word.
    if ((all.taking_jumps.load(std::memory_order_seq_cst) > 0) != jumps) continue;
    if (first || jumps != seen_jumps || wake != seen) {
      std::lock_guard<std::mutex> guard(all.mutex);
      for (auto& [id, entry] : all.entries) entry.call(entry.context);
    }
    first = false;
    seen = wake;
    seen_jumps = jumps;
    // Asleep on the other word, counted (before the futex checks the word:
    // a change bumps the word before it reads the count).
    std::atomic<std::uint64_t>* counted = jumps ? nullptr : &lockstep_of(*state).sleepers_but_jumps;
    if (counted != nullptr) counted->fetch_add(1, std::memory_order_seq_cst);
    detail::futex_wait(word, wake, 1'000'000'000);  // re-read g_state now and then: a process may attach later
    if (counted != nullptr) counted->fetch_sub(1, std::memory_order_seq_cst);
  }
}

}  // namespace

std::uint64_t detail::add_clock_listener(void (*listener)(void*), void* context, ClockChanges changes) {
  Listeners& all = listeners();
  std::lock_guard<std::mutex> guard(all.mutex);
  const std::uint64_t id = all.next_id++;
  const bool jumps = changes == ClockChanges::all;
  all.entries.emplace(id, Listeners::Entry{listener, context, jumps});
  if (jumps && all.taking_jumps.fetch_add(1, std::memory_order_seq_cst) == 0) {
    // The watcher may sleep on the word jumps leave alone: kick it over.
    if (ClockState* state = g_state.load(std::memory_order_acquire)) {
      state->wake_but_jumps.fetch_add(1, std::memory_order_seq_cst);
      detail::futex_wake_all(state->wake_but_jumps);
    }
  }
  if (!all.watching) {
    all.watching = true;
    std::thread(watch_clock).detach();
  }
  return id;
}

void detail::remove_clock_listener(std::uint64_t id) noexcept {
  Listeners& all = listeners();
  std::lock_guard<std::mutex> guard(all.mutex);
  const auto entry = all.entries.find(id);
  if (entry == all.entries.end()) return;
  if (entry->second.jumps) all.taking_jumps.fetch_sub(1, std::memory_order_seq_cst);
  all.entries.erase(entry);
}

VirtualClock::time_point VirtualClock::now() noexcept {
  const ClockState* state = g_state.load(std::memory_order_acquire);
  if (state == nullptr) return time_point(duration(monotonic_ns()));
  std::int64_t real = 0;
  const Params p = read(*state, real);
  return time_point(duration(virtual_at(p, real)));
}

ClockStatus VirtualClock::status() noexcept {
  ClockStatus status;
  const ClockState* state = g_state.load(std::memory_order_acquire);
  if (state == nullptr) {
    status.now = std::chrono::nanoseconds(monotonic_ns());
    return status;
  }
  std::int64_t real = 0;
  const Params p = read(*state, real);
  status.shared = true;
  status.mode = p.mode;
  status.rate = p.mode == ClockMode::stepped || p.mode == ClockMode::lockstep ? 0.0 : p.rate;
  status.now = std::chrono::nanoseconds(virtual_at(p, real));
  LockstepState& ls = lockstep_of(const_cast<ClockState&>(*state));
  for (const LockstepRow& row : ls.rows) {
    const std::uint32_t row_state = LockstepRow::phase(row.state.load(std::memory_order_acquire));
    if ((row_state == LockstepRow::kBusy || row_state == LockstepRow::kIdle) && !row_dead(row)) ++status.participants;
  }
  const std::int64_t limit = ls.limit.load(std::memory_order_relaxed);
  if (p.mode == ClockMode::lockstep && limit != kNever) status.until = std::chrono::nanoseconds(limit);
  status.advances = ls.advances.load(std::memory_order_relaxed);
  return status;
}

void VirtualClock::sleep_until(time_point deadline) noexcept {
  ClockState* state = g_state.load(std::memory_order_acquire);
  if (state == nullptr) {
    const auto left = deadline.time_since_epoch().count() - monotonic_ns();
    if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left));
    return;
  }
  for (;;) {
    // Read the wake word first: a change after this makes the futex return at once.
    const std::uint32_t wake = state->wake.load(std::memory_order_acquire);
    const auto slice = detail::wait_slice(deadline);
    if (!slice) return;
    detail::note_sleep(detail::futex_wait(state->wake, wake, slice->count()), *slice);
  }
}

Result<void> VirtualClock::set_rate(double rate) {
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
        return fail(Errc::invalid_argument,
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
      return tl::make_unexpected(past_the_end("advancing to " + format_duration(target.time_since_epoch()), p.anchor_virtual));
    }
    p.anchor_virtual = target.time_since_epoch().count();
    return {};
  });
}

}  // namespace statebus

namespace statebus {

Result<detail::LockstepParticipant> detail::LockstepParticipant::join() {
  LockstepParticipant participant;
  ClockState* state = g_state.load(std::memory_order_acquire);
  if (state == nullptr) return participant;  // real time only: nothing to hold
  LockstepState& ls = lockstep_of(*state);
  const ProcessId self = this_process();
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (std::size_t i = 0; i < LockstepState::kRows; ++i) {
      LockstepRow& row = ls.rows[i];
      std::uint32_t word = row.state.load(std::memory_order_acquire);
      if (LockstepRow::phase(word) != LockstepRow::kFree) continue;
      const std::uint32_t claimed = LockstepRow::with(word + LockstepRow::kClaim, LockstepRow::kClaiming);
      if (!row.state.compare_exchange_strong(word, claimed, std::memory_order_acq_rel)) continue;
      row.start_time.store(self.start_time, std::memory_order_relaxed);
      row.pid.store(self.pid, std::memory_order_release);
      row.deadline.store(kNever, std::memory_order_relaxed);
      row.state.store(LockstepRow::with(claimed, LockstepRow::kBusy), std::memory_order_seq_cst);
      participant.row_ = static_cast<int>(i);
      return participant;
    }
    reap(ls);  // full: free the places of dead processes, then try once more
  }
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
  ClockState* state = g_state.load(std::memory_order_acquire);
  LockstepRow& row = lockstep_of(*state).rows[row_];
  row.pid.store(0, std::memory_order_release);
  row.state.store(LockstepRow::with(row.state.load(std::memory_order_relaxed), LockstepRow::kFree),
                  std::memory_order_seq_cst);
  row_ = -1;
  lockstep_check(*state);  // the others may have waited for us alone
}

bool detail::LockstepParticipant::idle(std::optional<VirtualClock::time_point> next, bool (*has_data)(void*),
                                       void* context) noexcept {
  if (row_ < 0) return !has_data(context);
  ClockState& state = *g_state.load(std::memory_order_acquire);
  LockstepState& ls = lockstep_of(state);
  LockstepRow& row = ls.rows[row_];
  // The bell first: a publish or change after this read makes wait() return.
  bell_ = row.bell.load(std::memory_order_seq_cst);
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
  ClockState& state = *g_state.load(std::memory_order_acquire);
  // A change of mode after idle() rang the bell: the futex returns at once.
  if (current_mode(state) != ClockMode::lockstep) return false;
  LockstepRow& row = lockstep_of(state).rows[row_];
  row.sleeping.store(1, std::memory_order_seq_cst);
  detail::futex_wait(row.bell, bell_, timeout.count());
  row.sleeping.store(0, std::memory_order_relaxed);
  return true;
}

bool detail::LockstepParticipant::rang() const noexcept {
  if (row_ < 0) return false;
  return lockstep_of(*g_state.load(std::memory_order_acquire)).rows[row_].bell.load(std::memory_order_seq_cst) != bell_;
}

void detail::ring_lockstep_bell() noexcept {
  if (ClockState* state = g_state.load(std::memory_order_acquire)) ring_bell(lockstep_of(*state));
}

void detail::LockstepParticipant::busy() noexcept {
  if (row_ < 0) return;
  ClockState& state = *g_state.load(std::memory_order_acquire);
  LockstepRow& row = lockstep_of(state).rows[row_];
  row.state.store(LockstepRow::with(row.state.load(std::memory_order_relaxed), LockstepRow::kBusy),
                  std::memory_order_seq_cst);
}

bool detail::begin_publish() noexcept {
  ClockState* state = g_state.load(std::memory_order_acquire);
  if (state == nullptr || current_mode(*state) != ClockMode::lockstep) return false;
  lockstep_of(*state).in_flight.fetch_add(1, std::memory_order_seq_cst);
  return true;
}

void detail::end_publish(bool began) noexcept {
  if (!began) return;
  ClockState* state = g_state.load(std::memory_order_acquire);
  LockstepState& ls = lockstep_of(*state);
  ls.published.fetch_add(1, std::memory_order_seq_cst);  // before leaving: idle loops' `seen` is stale now
  ls.in_flight.fetch_sub(1, std::memory_order_seq_cst);
  ring_bell(ls);  // after counting: an idle loop that missed the sample wakes to look
  // A busy participant checks when it goes idle; if none is busy (the
  // publisher is outside every loop), check now.
  for (const LockstepRow& row : ls.rows) {
    if (LockstepRow::phase(row.state.load(std::memory_order_seq_cst)) == LockstepRow::kBusy) return;
  }
  lockstep_check(*state);
}

void detail::lockstep_housekeeping() noexcept {
  ClockState* state = g_state.load(std::memory_order_acquire);
  if (state == nullptr) return;
  LockstepState& ls = lockstep_of(*state);
  reap(ls);
  if (current_mode(*state) != ClockMode::lockstep) return;
  lockstep_check(*state, /*repeat_bell=*/true);
}

}  // namespace statebus
