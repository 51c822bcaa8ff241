#pragma once
// What the home processes say to each other.

#include <cstdint>
#include <string_view>

#include "statebus/base/describe.hpp"

namespace home {

inline constexpr std::string_view kTemperatureChannel = "home/sensor/temperature";
inline constexpr std::string_view kHeaterChannel = "home/actuator/heater";
inline constexpr std::string_view kOutsideChannel = "home/weather/outside";
inline constexpr std::string_view kSetpointCell = "home/setpoint";
inline constexpr std::string_view kStatusCell = "home/heating/status";

/// One reading of the room, every second of virtual time.
struct TemperatureReading {
  std::uint64_t index = 0;       ///< 1, 2, … per sensor run
  double celsius = 0.0;          ///< the room
  double outside_celsius = 0.0;
  bool heater_on = false;        ///< the heater as the sensor last heard of it
};
STATEBUS_MESSAGE(TemperatureReading, "home/TemperatureReading", index, celsius, outside_celsius, heater_on);

/// The hardware-layer command to the heater.
struct HeaterCommand {
  bool on = false;
  std::uint64_t reading_index = 0;  ///< the reading that decided it
  double celsius = 0.0;             ///< the room then
};
STATEBUS_MESSAGE(HeaterCommand, "home/HeaterCommand", on, reading_index, celsius);

/// Outside temperature from a weather source (or a test's script); while
/// none arrives the sensor uses its model of the day.
struct OutsideTemperature {
  double celsius = 0.0;
};
STATEBUS_MESSAGE(OutsideTemperature, "home/OutsideTemperature", celsius);

enum class Mode : std::uint8_t { off, heat };
STATEBUS_ENUM(Mode, off, heat);

/// What the user wants (cell `home/setpoint`).
struct Setpoint {
  double celsius = 20.0;
  double band = 0.5;  ///< on below celsius − band, off above celsius + band
  Mode mode = Mode::heat;
};
STATEBUS_MESSAGE(Setpoint, "home/Setpoint", celsius, band, mode);

/// What the controller did (cell `home/heating/status`), one store per decision.
struct HeatingStatus {
  std::uint64_t decisions = 0;        ///< readings decided on
  std::uint64_t last_reading = 0;     ///< index of the last one
  std::uint64_t missed_readings = 0;  ///< readings that never reached it
  std::uint64_t switches = 0;
  double celsius = 0.0;
  bool heater_on = false;
};
STATEBUS_MESSAGE(HeatingStatus, "home/HeatingStatus", decisions, last_reading, missed_readings, switches, celsius,
                 heater_on);

}  // namespace home
