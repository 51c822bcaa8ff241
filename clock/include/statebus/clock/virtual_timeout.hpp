#pragma once
/// A timeout on the bus's clock, and the one rule for every wait in statebus:
/// a plain std::chrono duration is real time; a wait on the bus's clock
/// takes a VirtualTimeout (`virtual_timeout(30s)`) or a
/// VirtualClock::time_point. The call site shows which clock ends the wait.

#include "statebus/clock/virtual_clock.hpp"

namespace statebus {

/// A span of the bus's VirtualClock given to a wait: the wait ends once
/// virtual time passes now + span. On a stepped or paused clock that takes
/// as long as it takes someone to move the clock there, however much real
/// time goes by; on a clock scaled ×1000, 30 s of it take 30 ms. Made with
/// virtual_timeout(); a std::chrono duration does not convert to it, so a
/// real timeout cannot be passed where a virtual one is meant, nor the
/// other way round. VirtualClock's own members (sleep_for, advance) and
/// spans of simulated time (EventLoop::every, Scenario::run_for) are
/// virtual by what they are and take VirtualClock::duration.
class VirtualTimeout {
 public:
  constexpr explicit VirtualTimeout(VirtualClock::duration span) noexcept : span_(span) {}

  [[nodiscard]] constexpr VirtualClock::duration span() const noexcept { return span_; }
  /// now + span; VirtualClock::time_point::max() (no end) when that is past
  /// the representable range, as for VirtualClock::duration::max().
  [[nodiscard]] VirtualClock::time_point deadline() const noexcept { return deadline_from(VirtualClock::now()); }
  [[nodiscard]] constexpr VirtualClock::time_point deadline_from(VirtualClock::time_point now) const noexcept {
    if (span_ > VirtualClock::duration::zero() && span_ >= VirtualClock::time_point::max() - now) {
      return VirtualClock::time_point::max();
    }
    return now + span_;
  }

 private:
  VirtualClock::duration span_;
};

/// `virtual_timeout(30s)`: a timeout of 30 s on the bus's clock.
constexpr VirtualTimeout virtual_timeout(VirtualClock::duration span) noexcept { return VirtualTimeout(span); }

}  // namespace statebus
