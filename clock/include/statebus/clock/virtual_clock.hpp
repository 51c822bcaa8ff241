#pragma once
/// The bus's virtual clock: a std::chrono clock that every process on the bus
/// shares, in real, scaled or stepped mode. See clock/README.md.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "statebus/error.hpp"

namespace statebus {

/// How virtual time moves.
enum class ClockMode : std::uint32_t {
  real = 0,     ///< with real time (rate 1)
  scaled = 1,   ///< rate × real time; rate 0 pauses
  stepped = 2,  ///< only when a driver advances it
  lockstep = 3, ///< jumps to the earliest deadline once every event loop is idle
};

std::string_view to_string(ClockMode mode) noexcept;

/// A snapshot of the clock's settings.
struct ClockStatus {
  bool shared = false;  ///< false: no clock segment, this process runs on real time alone
  ClockMode mode = ClockMode::real;
  double rate = 1.0;
  std::chrono::nanoseconds now{};
  std::size_t participants = 0;  ///< event loops on the bus (they hold lockstep time)
  std::optional<std::chrono::nanoseconds> until;  ///< lockstep stops here
  std::uint64_t advances = 0;    ///< lockstep jumps so far
};

/// The shared virtual clock. Meets the C++ Clock requirements, so
/// `std::chrono` code (time points, durations, condition variables with
/// `wait_until`) works with it unchanged.
///
/// Thread and process safety: every call may be made from any thread of any
/// process on the bus. now() is lock-free and never blocks.
struct VirtualClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<VirtualClock>;
  static constexpr bool is_steady = true;  ///< never goes backwards, whatever the mode or rate

  /// The supported ranges. Rates: 0 (paused) or min_rate to max_rate.
  /// Virtual time: from the bus's start (it begins at the machine's
  /// monotonic time) to end_of_time, 100 years; a scaled or real clock that
  /// gets there stands there, and a step, a target or a lockstep stop mark
  /// past it is refused. Changes outside the ranges fail with
  /// `invalid_argument` naming the range.
  static constexpr double min_rate = 1e-3;
  static constexpr double max_rate = 1e6;
  static constexpr time_point end_of_time{duration(100LL * 365 * 24 * 3600 * 1'000'000'000)};

  /// Virtual time now. Lock-free; without a clock segment, CLOCK_MONOTONIC.
  static time_point now() noexcept;

  /// Maps the bus's clock segment (Node::connect and Daemon::start do this).
  /// Fails like SharedSegment::open; the process then keeps real time.
  static Result<void> attach();
  /// Mode, rate and time now.
  static ClockStatus status() noexcept;
  /// Fails with `no_daemon` once the clock this process uses is no longer
  /// the bus's (its daemon stopped, died or was replaced): the process is
  /// split from the bus and must restart. Node::bus_health() includes it.
  /// Thread-safe; one stat() call.
  static Result<void> bus_health();

  /// Blocks until virtual time reaches `deadline`, however it gets there:
  /// woken at once by any change of the clock, else by a real-time timeout
  /// that the rate implies. Never polls.
  static void sleep_until(time_point deadline) noexcept;
  static void sleep_for(duration span) noexcept { sleep_until(now() + span); }

  /// Scaled mode at `rate` (0 pauses, or min_rate to max_rate). Time continues from now.
  static Result<void> set_rate(double rate);
  /// Real mode: rate 1, continuing from the current virtual time.
  static Result<void> set_real();
  /// Pauses (scaled mode, rate 0) and resumes (scaled mode, the rate before the pause).
  static Result<void> pause();
  static Result<void> resume();
  /// Stepped mode: time stands still until advance() or advance_to().
  static Result<void> set_stepped();
  /// Lockstep mode: time stands while any event loop works or a sample is in
  /// flight, and jumps to the earliest timer of the loops as soon as all are
  /// idle; never past `until` (a driver's stop mark), if given.
  static Result<void> set_lockstep(std::optional<time_point> until = std::nullopt);
  /// Moves stepped (or lockstep) time forward by `span` (≥ 0) or to `target` (not in the past).
  static Result<void> advance(duration span);
  static Result<void> advance_to(time_point target);
};

namespace detail {
/// CLOCK_MONOTONIC in nanoseconds.
std::int64_t monotonic_ns() noexcept;

/// Virtual time now and the CLOCK_MONOTONIC reading it was computed from
/// (one clock read for both, for sample headers).
std::int64_t virtual_and_real_ns(std::int64_t& real_ns) noexcept;

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

/// Which clock changes a listener hears: all, or all but lockstep jumps (an
/// event loop, which the lockstep bell wakes for those).
enum class ClockChanges { all, all_but_lockstep_jumps };
/// Calls `listener(context)` from a background thread after every change of
/// the clock (step, rate, mode), so that waits on virtual time can re-plan.
/// Keep listeners short (they run under a lock). Thread-safe.
std::uint64_t add_clock_listener(void (*listener)(void*), void* context, ClockChanges changes = ClockChanges::all);
/// After it returns, the listener is never called again.
void remove_clock_listener(std::uint64_t id) noexcept;

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
  /// Woken: time stands until the next idle().
  void busy() noexcept;

 private:
  int row_ = -1;
  std::uint32_t bell_ = 0;  // the bell as idle() found it
};

/// Wakes every event loop sleeping in LockstepParticipant::wait() (a stop()).
void ring_lockstep_bell() noexcept;

/// Called by publishers around each publish, before the sample's virtual
/// time is read and after it was delivered: in lockstep mode, time stands
/// while a sample is in flight. `end_publish` takes what `begin_publish` returned.
bool begin_publish() noexcept;
void end_publish(bool began) noexcept;
/// Drops the participants of dead processes and re-checks lockstep (the
/// daemon calls it periodically, so that a crash never stops time for good).
void lockstep_housekeeping() noexcept;
}  // namespace detail

}  // namespace statebus
