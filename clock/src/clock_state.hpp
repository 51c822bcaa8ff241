#pragma once
// The clock segment's layout. Shared by every process on a bus: change it
// only with a new layout major version.

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "statebus/internal/process_slot.hpp"
#include "statebus/internal/seqlock_pair.hpp"

namespace statebus::detail {

inline constexpr const char* kClockSegmentName = "statebus-clock";
inline constexpr std::uint64_t kClockMagic = 0x4b434f4c43425553ULL;  // "SUBCLOCK" little-endian
// 7: the parameters are a SeqlockPair with the change's agreed instant; no change count, no readers asleep on it
inline constexpr std::uint16_t kClockMajor = 7;
inline constexpr std::uint16_t kClockMinor = 0;

/// One set of clock parameters: virtual = anchor_virtual + (real − anchor_real) × rate.
struct ClockSlot {
  std::atomic<std::uint64_t> mode{0};
  std::atomic<std::uint64_t> rate_bits{0};  // a double
  std::atomic<std::int64_t> anchor_real{0};
  std::atomic<std::int64_t> anchor_virtual{0};
  std::atomic<std::uint64_t> resume_rate_bits{0};  // the rate before a pause
};

/// The clock's parameters and the words a change wakes. Readers touch
/// `params`, the slots and, while a change is pending, `change_anchor`.
struct ClockState {
  // The parameters: a SeqlockPair (internal/seqlock_pair.hpp) whose copies
  // are the slots; version v's parameters are in slot[v & 1].
  SeqlockWords params;
  // The instant (CLOCK_MONOTONIC ns) the pending change takes effect at, as
  // readers and its writer agree on it (clock_core.hpp): bit 63 set once
  // the writer fixed it; until then the latest instant a reader paired with
  // the old parameters. Zero from the start of each change.
  std::atomic<std::uint64_t> change_anchor{0};
  ClockSlot slot[2];
  std::atomic<std::uint32_t> wake{0};  // an EventCount (internal/event_count.hpp): every change counts
  // An EventCount: every change but a lockstep jump counts. The clock
  // watcher of a process whose listeners all take jumps from the lockstep
  // bell (its event loops) sleeps here, so that a jump does not wake it.
  std::atomic<std::uint32_t> wake_but_jumps{0};
  pthread_mutex_t writer;  // robust, process-shared: one writer at a time (statebus/internal/robust_mutex.hpp)
};

/// One participant of lockstep mode: an EventLoop, from create() to its end.
struct LockstepRow {
  // The phase in the low two bits; the bits above count claims, so that a
  // compare-and-swap from a stale reading fails once the row was freed and
  // claimed again (no ABA).
  static constexpr std::uint32_t kFree = 0, kClaiming = 1, kBusy = 2, kIdle = 3, kPhase = 3, kClaim = 4;
  static constexpr std::uint32_t phase(std::uint32_t word) noexcept { return word & kPhase; }
  static constexpr std::uint32_t with(std::uint32_t word, std::uint32_t phase) noexcept {
    return (word & ~kPhase) | phase;
  }
  std::atomic<std::uint32_t> state{kFree};
  std::atomic<std::int32_t> pid{0};   // its process, for people (as that process's PID namespace numbers it)
  // Its process's place on the bus (process_slot.hpp): the daemon frees the
  // row once the kernel reported that process's death, and only then.
  std::atomic<std::uint32_t> slot{0};
  std::atomic<std::uint32_t> reserved{0};
  std::atomic<std::int64_t> deadline{0};  // its next timer (virtual ns); INT64_MAX: none
  std::atomic<std::uint64_t> seen{0};     // `published` read before it found its queues empty
  // The EventCount the idle loop sleeps on in lockstep mode: rung after
  // every publish in lockstep mode, every clock change but a jump, and a
  // jump to its deadline, so a loop wakes for a sample or for time in one hop.
  std::atomic<std::uint32_t> bell{0};
  std::uint32_t reserved_bell = 0;
};

/// Lockstep: time jumps to the earliest deadline of the idle participants
/// once every participant is idle and no sample is in flight.
struct LockstepState {
  static constexpr std::size_t kRows = 64;
  std::atomic<std::uint64_t> published{0};  // publishes in lockstep mode
  std::atomic<std::int64_t> limit{0};       // time stops here; INT64_MAX: no limit
  std::atomic<std::uint64_t> advances{0};   // jumps made
  std::uint64_t reserved_sleepers = 0;
  // The highest place that ever counted a publish: the judge adds up
  // in_flight[0 … places_used] only.
  std::atomic<std::uint32_t> places_used{0};
  std::atomic<std::uint32_t> reserved{0};
  LockstepRow rows[kRows];
  // Publishes between reading the time and delivering, per place on the bus
  // (process_slot.hpp): each process counts its own, in every mode, and the
  // daemon clears a process's count once the kernel reported its death.
  std::atomic<std::uint32_t> in_flight[kProcessSlots];
};

struct ClockSegment {
  ClockState clock;
  LockstepState lockstep;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(ClockSlot) == 40 && offsetof(ClockState, change_anchor) == 24 &&
                  offsetof(ClockState, slot) == 32 && offsetof(ClockState, writer) == 120,
              "ClockState is a shared-memory layout");
static_assert(sizeof(pthread_mutex_t) == 40 && sizeof(ClockState) == 160, "ClockState is a shared-memory layout");
static_assert(sizeof(LockstepRow) == 40 && sizeof(LockstepState) == 40 + 64 * 40 + 4 * kProcessSlots &&
                  sizeof(ClockSegment) == 160 + sizeof(LockstepState),
              "shared-memory layout");

}  // namespace statebus::detail
