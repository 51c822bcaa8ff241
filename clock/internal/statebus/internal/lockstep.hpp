#pragma once
/// Lockstep participation, for the bus's event loops and publishers: a
/// loop's place in the clock segment, its bell, and the publish count that
/// keeps time standing while a sample is in flight. Internal: not installed.

#include <chrono>
#include <climits>
#include <cstdint>
#include <optional>

#include "statebus/base/error.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus::detail {
/// A participant of lockstep mode (an EventLoop holds one from create() to
/// its end). Busy from join until idle(); while any participant is busy,
/// lockstep time stands. Thread safety: one thread at a time.
class LockstepParticipant {
 public:
  /// Joins if a clock is attached; fails with out_of_resources when all 64
  /// places are taken by live processes.
  static Result<LockstepParticipant> join();
  LockstepParticipant() noexcept = default;
  LockstepParticipant(LockstepParticipant&& other) noexcept : row_(other.row_), bell_(other.bell_) { other.row_ = -1; }
  LockstepParticipant& operator=(LockstepParticipant&& other) noexcept;
  ~LockstepParticipant();
  /// True while it holds a place (false without a clock segment).
  [[nodiscard]] bool joined() const noexcept { return row_ >= 0; }

  /// Going to wait for `next` (a deadline; nullopt: none) unless
  /// `has_data(context)`, checked after this call read the publish count,
  /// finds work: then false and still busy. Lets lockstep time move.
  bool idle(std::optional<VirtualClock::time_point> next, bool (*has_data)(void*), void* context) noexcept;
  /// After idle(), in lockstep mode: sleeps on the lockstep bell (rung by
  /// every publish, every clock change and ring_lockstep_bell()) for at most
  /// `timeout` and returns true. Otherwise false at once: wait for data and
  /// clock changes the usual way.
  bool wait(std::chrono::nanoseconds timeout) noexcept;
  /// Whether its bell rang since idle(): a publish, a clock change, or a
  /// lockstep jump to its deadline (a jump to an earlier one leaves it be).
  [[nodiscard]] bool rang() const noexcept;
  /// Whether its bell carries a sleeper's announcement, so that the next
  /// ring makes a futex system call (for tests: a loop that did not sleep
  /// leaves none).
  [[nodiscard]] bool announced_sleep() const noexcept;
  /// Woken: time stands until the next idle().
  void busy() noexcept;

 private:
  int row_ = -1;
  std::uint32_t bell_ = 0;  // the bell as idle() found it
};

/// Whether the bus's clock is in lockstep mode now (false without a clock
/// segment). Lock-free, no system call; any thread.
[[nodiscard]] bool lockstep_running() noexcept;

/// Wakes every event loop sleeping in LockstepParticipant::wait() (a stop()).
void ring_lockstep_bell() noexcept;

/// Called by publishers around each publish, before the sample's virtual
/// time is read and after it was delivered: in lockstep mode, time stands
/// while a sample is in flight. Counted under the process's place on the
/// bus, in every mode (a publish that began before lockstep mode counts).
/// `end_publish` takes what `begin_publish` returned.
inline constexpr std::uint32_t kNotCounted = UINT32_MAX;
std::uint32_t begin_publish() noexcept;
void end_publish(std::uint32_t place) noexcept;
/// For the daemon, once the kernel reported the death of the process at
/// `place` (process_slot.hpp): clears its publishes in flight and frees its
/// lockstep rows, then lets lockstep time move if it may.
void forget_process(std::uint32_t place) noexcept;
/// Re-checks lockstep and rings the bell again for a loop that is behind
/// (the daemon calls it periodically: a safety net, not a repair).
void lockstep_housekeeping() noexcept;

}  // namespace statebus::detail
