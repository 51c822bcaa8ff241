#pragma once
// mqtt_bench's echo, its follower process: answers every ping on the path's
// pong topic and counts floods, taking the leader's commands on its stdin.

#include <chrono>
#include <cstdint>
#include <string>

namespace statebus::bench::mqtt {

// The bridge's prefix, and the topics: bridged (under the prefix) and bare.
inline constexpr const char* kPrefix = "sb";
inline constexpr const char* kBridgedPing = "sb/bench/ping";
inline constexpr const char* kBridgedPong = "sb/bench/pong";
inline constexpr const char* kBarePing = "bare/ping";
inline constexpr const char* kBarePong = "bare/pong";
inline constexpr const char* kBridgedFlood = "sb/bench/flood";
inline constexpr const char* kBareFlood = "bare/flood";

/// CLOCK_MONOTONIC now, in ns: the clock of the leader's and the echo's times.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// One echo, for the hop breakdown: CLOCK_MONOTONIC when the echo had the
/// ping and when it had written the answer, and the bridge's "wall_time_ns"
/// (CLOCK_REALTIME when it sent the ping; the bare payload's is stale).
struct Echo {
  bool bridged = false;
  std::int64_t received_ns = 0;
  std::int64_t sent_ns = 0;
  std::int64_t wall_time_ns = 0;
};

/// An echo from the line the follower's `dump` prints for it.
Echo parse_echo(const std::string& line);

/// The follower's main (`--follower PORT`): connects to the broker on PORT,
/// subscribes, prints `ready`, then, until its stdin closes, echoes and
/// obeys the leader's commands: `count TOPIC N` (counts arrivals on TOPIC,
/// then prints `done RECEIVED FIRST_NS LAST_NS`), `reset` (forgets the
/// echoes; `ok`), `dump` (one line per echo since, then `end`). Returns the
/// process's exit status.
int run_follower(int argc, char** argv);

}  // namespace statebus::bench::mqtt
