#pragma once
// The types the bridge tests send between buses.

#include <cstdint>

#include "statebus/base/describe.hpp"

namespace bridge_test {

struct Reading {
  std::uint32_t index = 0;
  double celsius = 0.0;
  char room[16] = {};
  std::uint8_t level = 0;  ///< 0–255: a value of 300 is out of range
};
STATEBUS_MESSAGE(Reading, "bridge_test/Reading", index, celsius, room, level);

struct Setpoint {
  double celsius = 20.0;
  double band = 0.5;
};
STATEBUS_MESSAGE(Setpoint, "bridge_test/Setpoint", celsius, band);

}  // namespace bridge_test
