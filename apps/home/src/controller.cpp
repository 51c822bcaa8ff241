#include "home/controller.hpp"

namespace home {

std::optional<bool> HysteresisController::decide(double celsius, std::chrono::nanoseconds t,
                                                 const Setpoint& setpoint) noexcept {
  auto switch_to = [&](bool on) -> std::optional<bool> {
    below_since_.reset();
    above_since_.reset();
    if (on == on_) return std::nullopt;
    on_ = on;
    return on;
  };
  if (setpoint.mode == Mode::off) return switch_to(false);
  if (celsius < setpoint.celsius - setpoint.band) {
    above_since_.reset();
    if (!below_since_) below_since_ = t;
    if (!on_ && t - *below_since_ >= dwell_) return switch_to(true);
  } else if (celsius > setpoint.celsius + setpoint.band) {
    below_since_.reset();
    if (!above_since_) above_since_ = t;
    if (on_ && t - *above_since_ >= dwell_) return switch_to(false);
  } else {
    below_since_.reset();
    above_since_.reset();
  }
  return std::nullopt;
}

}  // namespace home
