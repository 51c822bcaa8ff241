#pragma once
// Message types shared by the bus tests and their child processes.

#include <cstdint>

#include "statebus/describe.hpp"

namespace statebus::test {

struct Reading {
  std::uint64_t index = 0;
  double celsius = 0.0;
  char room[16] = {};
};
STATEBUS_MESSAGE(Reading, "test/Reading", index, celsius, room);

/// Another type: a subscriber of Reading must refuse it.
struct Wide {
  std::uint64_t values[8] = {};
};
STATEBUS_MESSAGE(Wide, "test/Wide", values);

/// Same size and field types as Reading, other field names: another type.
struct Renamed {
  std::uint64_t number = 0;
  double celsius = 0.0;
  char room[16] = {};
};
STATEBUS_MESSAGE(Renamed, "test/Renamed", number, celsius, room);

struct FourMiB {
  char bytes[4 * 1024 * 1024];
};
STATEBUS_MESSAGE(FourMiB, "test/FourMiB", bytes);

struct Huge {
  char bytes[5 * 1024 * 1024];
};
STATEBUS_MESSAGE(Huge, "test/Huge", bytes);

inline constexpr const char* kReadingChannel = "test/sensor/temperature";

}  // namespace statebus::test
