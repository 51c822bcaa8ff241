#include "home/thermal.hpp"

#include <cmath>

namespace home {

double outside_celsius(std::chrono::nanoseconds time_of_day) noexcept {
  constexpr double kDay = 24.0 * 3600.0;
  const double seconds = std::fmod(std::chrono::duration<double>(time_of_day).count(), kDay);
  const double hours = (seconds < 0 ? seconds + kDay : seconds) / 3600.0;
  // Coldest at 05:00, warmest twelve hours later.
  return 6.0 - 4.0 * std::cos((hours - 5.0) / 24.0 * 2.0 * M_PI);
}

void ThermalModel::step(double seconds, double outside, bool heater_on) noexcept {
  const double hours = seconds / 3600.0;
  const double loss = (celsius - outside) / loss_time_constant_h;
  celsius += hours * ((heater_on ? heater_kelvin_per_h : 0.0) - loss);
}

}  // namespace home
