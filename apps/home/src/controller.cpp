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
  if (setpoint.mode == Mode::off) {
    boost_until_.reset();
    return switch_to(false);
  }
  if (boost_until_) {
    if (t < *boost_until_) return switch_to(true);
    boost_until_.reset();  // over: the hysteresis decides from here, its clocks afresh
  }
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
  } else if (boost_until_ && t < *boost_until_) {
    plan.switch_in = *boost_until_ - t;
    std::snprintf(text, sizeof text, "heater on: boosted for %.0f more min (%.2f °C), then back to %.2f ± %.2f °C",
                  seconds(plan.switch_in).count() / 60, celsius, setpoint.celsius, setpoint.band);
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

namespace home {

HysteresisController::Boost HysteresisController::boost(std::chrono::nanoseconds length, double celsius,
                                                        std::chrono::nanoseconds t, const Setpoint& setpoint) {
  Boost verdict;
  char text[160];
  if (setpoint.mode == Mode::off) {
    verdict.reason = "the mode is off: set it to heat first";
  } else if (length < std::chrono::nanoseconds(0) || length > std::chrono::minutes(120) ||
             (length > std::chrono::nanoseconds(0) && length < std::chrono::minutes(1))) {
    verdict.reason = "a boost lasts 1 to 120 minutes (0 ends one)";
  } else if (length == std::chrono::nanoseconds(0)) {
    verdict.accepted = true;
    if (boost_until_) {
      std::snprintf(text, sizeof text, "boost ended: back to %.2f ± %.2f °C", setpoint.celsius, setpoint.band);
      verdict.reason = text;
    } else {
      verdict.reason = "no boost to end";
    }
    boost_until_.reset();
  } else if (celsius >= setpoint.celsius + 3.0) {
    std::snprintf(text, sizeof text, "the room is at %.2f °C, 3 K or more over the %.2f °C setpoint: no boost", celsius,
                  setpoint.celsius);
    verdict.reason = text;
  } else {
    verdict.accepted = true;
    verdict.until = t + length;
    boost_until_ = verdict.until;
    std::snprintf(text, sizeof text, "heater on for %.0f min, then back to %.2f ± %.2f °C",
                  std::chrono::duration<double>(length).count() / 60, setpoint.celsius, setpoint.band);
    verdict.reason = text;
  }
  return verdict;
}

}  // namespace home
