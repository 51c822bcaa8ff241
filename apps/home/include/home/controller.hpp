#pragma once
// The hysteresis controller with dwell time, free of the bus.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "home/messages.hpp"

namespace home {

/// Heater on once the temperature has stayed below setpoint − band for
/// `dwell`; off once it has stayed above setpoint + band for `dwell`; off at
/// once in mode off. Readings inside the band reset both clocks. A boost
/// keeps it on for a while whatever the readings.
class HysteresisController {
 public:
  explicit HysteresisController(std::chrono::nanoseconds dwell = std::chrono::seconds(10)) noexcept : dwell_(dwell) {}

  /// Decides on a reading taken at virtual time `t`; returns the new heater
  /// state when it changes.
  std::optional<bool> decide(double celsius, std::chrono::nanoseconds t, const Setpoint& setpoint) noexcept;

  /// What it will do next and why, had it just decided on `celsius` at
  /// virtual time `t` (its dwell clocks as they stand).
  struct Plan {
    bool heater_on = false;
    bool will_switch = false;              ///< a switch is under way: the dwell runs
    std::chrono::nanoseconds switch_in{};  ///< when it comes, if the room stays where it is
    std::string reason;                    ///< one sentence for people
  };
  [[nodiscard]] Plan plan(double celsius, std::chrono::nanoseconds t, const Setpoint& setpoint) const;

  /// A boost: the heater on from virtual time `t` for `length`, whatever
  /// the readings (the next decide() switches it on), then the hysteresis
  /// decides again, its dwell clocks afresh. Refused, with the reason, in
  /// mode off, for a length outside 1–120 min, or when the room
  /// (`celsius`) is 3 K or more over the setpoint. A length of 0 ends a
  /// boost. Mode off ends one at once.
  struct Boost {
    bool accepted = false;
    std::chrono::nanoseconds until{};  ///< when an accepted boost ends
    std::string reason;                ///< one sentence for people
  };
  Boost boost(std::chrono::nanoseconds length, double celsius, std::chrono::nanoseconds t, const Setpoint& setpoint);

  [[nodiscard]] bool heater_on() const noexcept { return on_; }
  [[nodiscard]] std::chrono::nanoseconds dwell() const noexcept { return dwell_; }

 private:
  std::chrono::nanoseconds dwell_;
  bool on_ = false;
  std::optional<std::chrono::nanoseconds> below_since_;
  std::optional<std::chrono::nanoseconds> above_since_;
  std::optional<std::chrono::nanoseconds> boost_until_;
};

}  // namespace home
