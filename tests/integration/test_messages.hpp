#pragma once
// Message types shared by the bus tests and their child processes.

#include <cstdint>

namespace statebus::test {

struct Reading {
  std::uint64_t index = 0;
  double celsius = 0.0;
  char room[16] = {};
};

/// Same channel, different size: a subscriber of Reading must refuse it.
struct Wide {
  std::uint64_t values[8] = {};
};

inline constexpr const char* kReadingChannel = "test/sensor/temperature";

}  // namespace statebus::test
