#pragma once
// The clock segment's layout. Shared by every process on a bus: change it
// only with a new layout major version.

#include <atomic>
#include <cstdint>

namespace statebus::detail {

inline constexpr const char* kClockSegmentName = "statebus-clock";
inline constexpr std::uint64_t kClockMagic = 0x4b434f4c43425553ULL;  // "SUBCLOCK" little-endian
inline constexpr std::uint16_t kClockMajor = 1;
inline constexpr std::uint16_t kClockMinor = 0;

/// One set of clock parameters: virtual = anchor_virtual + (real − anchor_real) × rate.
struct ClockSlot {
  std::atomic<std::uint64_t> mode{0};
  std::atomic<std::uint64_t> rate_bits{0};  // a double
  std::atomic<std::int64_t> anchor_real{0};
  std::atomic<std::int64_t> anchor_virtual{0};
  std::atomic<std::uint64_t> resume_rate_bits{0};  // the rate before a pause
};

struct ClockState {
  std::atomic<std::uint32_t> change{0};  // odd while a writer changes the clock
  std::atomic<std::uint32_t> wake{0};    // futex word: bumped after every change
  std::atomic<std::uint32_t> index{0};   // the current slot
  std::atomic<std::int32_t> writer_pid{0};
  std::atomic<std::uint64_t> writer_start_time{0};
  ClockSlot slot[2];
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(ClockState) == 104, "ClockState is a shared-memory layout");

}  // namespace statebus::detail
