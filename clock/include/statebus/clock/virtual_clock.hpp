#pragma once
/// The bus's virtual clock: a std::chrono clock that every process on the bus
/// shares, in real, scaled or stepped mode. See clock/README.md.

#include <chrono>
#include <mutex>
#include <functional>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "statebus/base/error.hpp"

namespace statebus {

/// How virtual time moves.
enum class ClockMode : std::uint32_t {
  real = 0,     ///< with real time (rate 1)
  scaled = 1,   ///< rate × real time; rate 0 pauses
  stepped = 2,  ///< only when a driver advances it
  lockstep = 3, ///< jumps to the earliest deadline once every event loop is idle
};

std::string_view to_string(ClockMode mode) noexcept;

struct ClockStatus;  // below VirtualClock, whose time points it holds

/// The shared virtual clock. Meets the C++ Clock requirements, so
/// `std::chrono` time points and durations work with it. Waits do not:
/// `std::condition_variable::wait_until` turns a deadline of a foreign clock
/// into a real-time span once, so at rate 1000 it sleeps 1000 times too
/// long and a step never ends it. Wait with sleep_until() or wait() here.
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
  /// past it is refused. Changes outside the ranges fail, naming the range
  /// (set_rate(), advance(), advance_to(), set_lockstep()).
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
  /// Fails with Errc::no_daemon once the clock this process uses is gone
  /// (its daemon stopped or died), and with Errc::stale_bus once a new
  /// daemon replaced its own: the process is split from the bus and must
  /// restart. Node::bus_health() includes it.
  /// Thread-safe; one stat() call.
  static Result<void> bus_health();

  /// Blocks until virtual time reaches `deadline`, however it gets there:
  /// woken at once by any change of the clock, else by a real-time timeout
  /// that the rate implies. Never polls.
  static void sleep_until(time_point deadline) noexcept;
  static void sleep_for(duration span) noexcept { sleep_until(now() + span); }
  /// `cv.wait_until(lock, deadline, pred)` on the bus's clock: returns when
  /// `pred()` holds (checked under `lock`, after every notify of `cv` and
  /// every change of the clock) or virtual time reaches `deadline`, with
  /// pred() as it then stands. `lock` must hold its mutex; it is released
  /// while waiting, as by the condition variable, and briefly when the wait
  /// begins and ends. Any thread.
  static bool wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, time_point deadline,
                   const std::function<bool()>& pred);

  /// Scaled mode at `rate` (0 pauses, or min_rate to max_rate). Time
  /// continues from now. Fails with Errc::invalid_argument for a rate
  /// outside that range (or NaN), and with Errc::no_daemon without a clock
  /// segment; every change below fails so without one, too.
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
  /// idle; never past `until` (a driver's stop mark), if given. Fails with
  /// Errc::invalid_argument for an `until` in the past or past end_of_time.
  static Result<void> set_lockstep(std::optional<time_point> until = std::nullopt);
  /// Moves stepped (or lockstep) time forward by `span` (≥ 0). Fails with
  /// Errc::invalid_argument for a negative span, a clock in another mode,
  /// or a time past end_of_time.
  static Result<void> advance(duration span);
  /// Moves stepped (or lockstep) time to `target`. Fails with
  /// Errc::invalid_argument for a target in the past or past end_of_time,
  /// or a clock in another mode.
  static Result<void> advance_to(time_point target);
};

/// A snapshot of the clock's settings.
struct ClockStatus {
  bool shared = false;  ///< false: no clock segment, this process runs on real time alone
  ClockMode mode = ClockMode::real;
  double rate = 1.0;
  VirtualClock::time_point now{};
  std::size_t participants = 0;                   ///< event loops on the bus (they hold lockstep time)
  std::optional<VirtualClock::time_point> until;  ///< lockstep stops here
  std::uint64_t advances = 0;                     ///< lockstep jumps so far
  /// Empty, or what in the clock segment holds a value no statebus process
  /// writes (a NaN rate, a mode that is none): then time stands at the
  /// clock's last anchor until a change (`statebus clock --real`) writes the
  /// clock anew.
  std::string damage;
};

}  // namespace statebus
