#pragma once
// The follower of a two-process benchmark: this same executable started
// again with --follower, talking to the leader over its stdin and stdout
// (statebus::testkit::ChildProcess). The leader runs on CPU 0, the follower
// on CPU 1.

#include <sched.h>

#include <cstddef>
#include <cstring>

#include "statebus/base/error.hpp"
#include "statebus/testing/child_process.hpp"

namespace statebus::bench {

inline constexpr int kLeaderCpu = 0;
inline constexpr int kFollowerCpu = 1;

/// Pins the calling thread to `cpu`.
inline void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(cpu), &set);
  sched_setaffinity(0, sizeof set, &set);
}

/// True in the process spawn_follower() started.
inline bool is_follower(int argc, char** argv) { return argc > 1 && std::strcmp(argv[1], "--follower") == 0; }

/// Starts this executable again as the follower.
inline Result<testkit::ChildProcess> spawn_follower() {
  return testkit::ChildProcess::spawn({"/proc/self/exe", "--follower"});
}

}  // namespace statebus::bench
