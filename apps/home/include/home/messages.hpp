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
/// The heating, an object with methods (home/heating_api.hpp): its
/// services "what will you do next, and why?" (PlanQuestion → HeatingPlan)
/// and "boost for a while" (BoostRequest → BoostAnswer).
inline constexpr std::string_view kHeatingObject = "home/heating";
inline constexpr std::string_view kPlanService = "home/heating/plan";
inline constexpr std::string_view kBoostService = "home/heating/boost";

/// One reading of the room, every second of virtual time.
struct TemperatureReading {
  std::uint64_t index = 0;       ///< 1, 2, … per sensor run
  double celsius = 0.0;          ///< the room
  double outside_celsius = 0.0;
  bool heater_on = false;        ///< the heater as the sensor last heard of it
};
STATEBUS_MESSAGE(TemperatureReading, "home/TemperatureReading", index, celsius, outside_celsius, heater_on);
STATEBUS_FIELD_INFO(
    TemperatureReading, statebus::field(&TemperatureReading::index).counter().label("Readings"),
    statebus::field(&TemperatureReading::celsius).unit("°C").quantity("temperature").label("Room"),
    statebus::field(&TemperatureReading::outside_celsius).unit("°C").quantity("temperature").label("Outside"),
    statebus::field(&TemperatureReading::heater_on).label("Heater (as the sensor heard)"));

/// The hardware-layer command to the heater.
struct HeaterCommand {
  bool on = false;
  std::uint64_t reading_index = 0;  ///< the reading that decided it
  double celsius = 0.0;             ///< the room then
};
STATEBUS_MESSAGE(HeaterCommand, "home/HeaterCommand", on, reading_index, celsius);
STATEBUS_FIELD_INFO(
    HeaterCommand, statebus::field(&HeaterCommand::on).label("Heater"),
    statebus::field(&HeaterCommand::reading_index).label("Deciding reading"),
    statebus::field(&HeaterCommand::celsius).unit("°C").quantity("temperature").label("Room when decided"));

/// Outside temperature from a weather source (or a test's script); while
/// none arrives the sensor uses its model of the day.
struct OutsideTemperature {
  double celsius = 0.0;
};
STATEBUS_MESSAGE(OutsideTemperature, "home/OutsideTemperature", celsius);
STATEBUS_FIELD_INFO(OutsideTemperature,
                    statebus::field(&OutsideTemperature::celsius).unit("°C").quantity("temperature").label("Outside"));

enum class Mode : std::uint8_t { off, heat };
STATEBUS_ENUM(Mode, off, heat);

/// What the user wants (cell `home/setpoint`).
struct Setpoint {
  double celsius = 20.0;
  double band = 0.5;  ///< on below celsius − band, off above celsius + band
  Mode mode = Mode::heat;
};
STATEBUS_MESSAGE(Setpoint, "home/Setpoint", celsius, band, mode);
// The one place the setpoint's valid values are written: the web page and
// API, the CLI, the MQTT bridge and Home Assistant all take them from here.
STATEBUS_FIELD_INFO(Setpoint,
                    statebus::field(&Setpoint::celsius).range(5, 30).step(0.5).unit("°C").quantity("temperature")
                        .label("Target temperature"),
                    statebus::field(&Setpoint::band).range(0.1, 5).step(0.1).unit("K").label("Band"),
                    statebus::field(&Setpoint::mode).label("Mode"));

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
STATEBUS_FIELD_INFO(HeatingStatus, statebus::field(&HeatingStatus::decisions).counter().label("Decisions"),
                    statebus::field(&HeatingStatus::last_reading).label("Last reading"),
                    statebus::field(&HeatingStatus::missed_readings).counter().label("Missed readings"),
                    statebus::field(&HeatingStatus::switches).counter().label("Switches"),
                    statebus::field(&HeatingStatus::celsius).unit("°C").quantity("temperature").label("Room"),
                    statebus::field(&HeatingStatus::heater_on).label("Heater"));

/// A question to the heating's plan service: for the last reading (the
/// default), or for a room temperature of the asker's (`what_if`).
struct PlanQuestion {
  bool what_if = false;
  double celsius = 0.0;  ///< with what_if: the room temperature to plan for
};
STATEBUS_MESSAGE(PlanQuestion, "home/PlanQuestion", what_if, celsius);
STATEBUS_FIELD_INFO(PlanQuestion, statebus::field(&PlanQuestion::what_if).label("What if"),
                    statebus::field(&PlanQuestion::celsius).unit("°C").quantity("temperature").label("Room"));

/// The heating's answer: what it will do next, and why.
struct HeatingPlan {
  bool heater_on = false;
  bool will_switch = false;  ///< a switch is under way (the dwell runs)
  double switch_in_s = 0.0;  ///< when, if the room stays where it is
  double celsius = 0.0;      ///< the temperature planned for
  char reason[192] = {};     ///< one sentence, NUL-terminated
};
STATEBUS_MESSAGE(HeatingPlan, "home/HeatingPlan", heater_on, will_switch, switch_in_s, celsius, reason);

/// "Heat for a while, whatever the readings" (0 minutes: end a boost).
struct BoostRequest {
  double minutes = 30.0;
};
STATEBUS_MESSAGE(BoostRequest, "home/BoostRequest", minutes);
STATEBUS_FIELD_INFO(BoostRequest,
                    statebus::field(&BoostRequest::minutes).range(0, 120).step(1).unit("min").label("Boost"));

/// The heating's answer to a boost: accepted or not, and why.
struct BoostAnswer {
  bool accepted = false;
  double until_s = 0.0;   ///< virtual time (s since the clock's epoch) an accepted boost ends; 0 if none
  char reason[160] = {};  ///< one sentence, NUL-terminated
};
STATEBUS_MESSAGE(BoostAnswer, "home/BoostAnswer", accepted, until_s, reason);

}  // namespace home
