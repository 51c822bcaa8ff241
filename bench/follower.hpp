#pragma once
// The follower of a two-process benchmark: this same executable started
// again with --follower, talking to the leader over its stdin and stdout
// (statebus::testkit::ChildProcess). The leader runs on CPU 0, the follower
// on CPU 1.

#include <sched.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/bus/node.hpp"
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

/// Starts this executable again as the follower, with `args` after its name.
inline Result<testkit::ChildProcess> spawn_follower(std::vector<std::string> args = {"--follower"}) {
  args.insert(args.begin(), "/proc/self/exe");
  return testkit::ChildProcess::spawn(args);
}

/// The leader's side of a two-process benchmark, set up in main() after
/// start_bus(): the follower started (with `follower_args`), this thread
/// pinned to kLeaderCpu, and this process on the bus as `node_name`. Ends
/// the follower (closes its stdin, waits up to 10 s) when destroyed.
struct Leader {
  testkit::ChildProcess follower;
  Node node;

  /// Nothing, after saying what failed on stderr, naming `program`.
  static std::unique_ptr<Leader> start(const char* program, const char* node_name,
                                       std::vector<std::string> follower_args = {"--follower"}) {
    auto follower = spawn_follower(std::move(follower_args));
    if (!follower) {
      std::fprintf(stderr, "%s: %s\n", program, follower.error().message().c_str());
      return nullptr;
    }
    pin_to_cpu(kLeaderCpu);
    auto node = Node::connect(node_name);
    if (!node) {
      std::fprintf(stderr, "%s: %s\n", program, node.error().message().c_str());
      return nullptr;
    }
    return std::unique_ptr<Leader>(new Leader{std::move(*follower), std::move(*node)});
  }
  Leader(const Leader&) = delete;
  Leader& operator=(const Leader&) = delete;
  ~Leader() {
    follower.close_stdin();
    follower.wait(std::chrono::seconds(10));
  }
};

}  // namespace statebus::bench
