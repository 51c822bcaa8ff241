#pragma once
// What a patterned sink (`statebus-test-child patterned-sink`) has checked,
// asked on its stdin. Shared by the tests that count samples end to end.

#include <chrono>
#include <cstdint>
#include <string>

#include "statebus/testing/child_process.hpp"

namespace statebus::test {

/// What a sink says once it has checked `count` samples, all intact, none twice.
inline std::string intact(std::uint64_t count) { return "checked " + std::to_string(count) + " corrupt 0 repeated 0"; }

/// What `sink` says it checked once it has seen `expected` samples; if it
/// has not within `within`, the last thing it said ("no answer" if it
/// stopped answering). It asks until the deadline, never a number of
/// times: a sink takes a sample or more per answer, and one that is far
/// behind catches up at its own pace.
inline std::string sink_checked(testkit::ChildProcess& sink, std::uint64_t expected,
                                std::chrono::milliseconds within = std::chrono::seconds(20)) {
  const std::string done = "checked " + std::to_string(expected) + " ";
  const auto deadline = std::chrono::steady_clock::now() + within;
  std::string said;
  do {
    said = sink.write("count\n") ? sink.read_line(within).value_or("no answer") : "no answer";
    if (said.rfind(done, 0) == 0) break;
  } while (said.rfind("checked ", 0) == 0 && std::chrono::steady_clock::now() < deadline);
  return said;
}

}  // namespace statebus::test
