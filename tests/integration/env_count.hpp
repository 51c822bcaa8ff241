#pragma once
// A count a test takes from the environment (kills, steps, a seed), so that
// the test command runs a short version and a soak a long one.

#include <cstdlib>

namespace statebus::test {

/// The positive number in environment variable `name`, or `otherwise`.
inline unsigned long env_count(const char* name, unsigned long otherwise) {
  const char* text = std::getenv(name);
  const unsigned long value = text != nullptr ? std::strtoul(text, nullptr, 10) : 0;
  return value > 0 ? value : otherwise;
}

}  // namespace statebus::test
