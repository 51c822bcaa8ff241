#pragma once
// The room: heat loss to outside, heater power, on virtual time.

#include <chrono>

namespace home {

/// Outside temperature at `time_of_day` (wraps every 24 h): a sine between
/// 2 °C at 05:00 and 10 °C at 17:00.
double outside_celsius(std::chrono::nanoseconds time_of_day) noexcept;

struct ThermalModel {
  double celsius = 16.0;           ///< the room now
  double loss_time_constant_h = 3.0;  ///< hours for (room − outside) to fall to 1/e without heating
  double heater_kelvin_per_h = 10.0;  ///< warming by the heater alone

  /// Advances the room by `seconds` (explicit Euler, fine for steps ≪ the time constant).
  void step(double seconds, double outside, bool heater_on) noexcept;
};

}  // namespace home
