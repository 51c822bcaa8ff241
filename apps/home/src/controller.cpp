#include "home/controller.hpp"

#include <algorithm>
#include <cstdio>

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

HysteresisController::Plan HysteresisController::plan(double celsius, std::chrono::nanoseconds t,
                                                      const Setpoint& setpoint) const {
  using seconds = std::chrono::duration<double>;
  const double low = setpoint.celsius - setpoint.band;
  const double high = setpoint.celsius + setpoint.band;
  const double dwell = seconds(dwell_).count();
  Plan plan{on_, false, {}, {}};
  char text[192];
  auto waiting = [&](const std::optional<std::chrono::nanoseconds>& since) {
    plan.will_switch = true;
    plan.switch_in = std::max(std::chrono::nanoseconds(0), dwell_ - (t - since.value_or(t)));
    return seconds(t - since.value_or(t)).count();
  };
  if (setpoint.mode == Mode::off) {
    std::snprintf(text, sizeof text, "heater %s: the mode is off", on_ ? "on, off at the next reading" : "off");
  } else if (celsius < low && !on_) {
    const double below = waiting(below_since_);
    std::snprintf(text, sizeof text,
                  "heater off, on in %.0f s: %.2f °C has been below %.2f °C for %.0f s of the %.0f s dwell",
                  seconds(plan.switch_in).count(), celsius, low, below, dwell);
  } else if (celsius > high && on_) {
    const double above = waiting(above_since_);
    std::snprintf(text, sizeof text,
                  "heater on, off in %.0f s: %.2f °C has been above %.2f °C for %.0f s of the %.0f s dwell",
                  seconds(plan.switch_in).count(), celsius, high, above, dwell);
  } else if (on_) {
    std::snprintf(text, sizeof text, "heater on: %.2f °C is not above %.2f °C; off once above it for %.0f s", celsius,
                  high, dwell);
  } else {
    std::snprintf(text, sizeof text, "heater off: %.2f °C is not below %.2f °C; on once below it for %.0f s", celsius,
                  low, dwell);
  }
  plan.reason = text;
  return plan;
}

}  // namespace home
