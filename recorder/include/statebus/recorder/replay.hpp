#pragma once
/// Replay: a recording published on the bus again. Contract: recorder/README.md.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus {

/// Where a replay stands, after each published message.
struct ReplayProgress {
  std::uint64_t published = 0;  ///< messages published so far
  std::uint64_t total = 0;      ///< messages the replay will publish
  VirtualClock::duration position{};  ///< recorded virtual time of the last one, from the first
  VirtualClock::duration span{};      ///< recorded virtual time from the first message to the last
};

struct ReplayOptions {
  /// Recorded virtual time per virtual time of the bus: 2 replays twice as
  /// fast; 0 publishes as fast as subscribers take it (lossless ones hold it back).
  double rate = 1.0;
  /// Channels to replay (patterns as the recorder's); the log channel included.
  std::vector<std::string> patterns = {"**"};
  /// Before the first message, wait up to this long (real time) until each
  /// channel has a subscriber; 0 starts at once.
  std::chrono::milliseconds wait_for_subscribers{0};
  /// Called after every published message (from the calling thread).
  std::function<void(const ReplayProgress&)> on_progress;
  /// Set (e.g. from a signal handler) to stop early; checked between messages
  /// and at least every 100 ms while waiting.
  const std::atomic<bool>* cancel = nullptr;
};

struct ReplaySummary {
  std::uint64_t published = 0;
  std::map<std::string, std::uint64_t> channels;  ///< messages published per channel
  /// Channels of the file left out, with why (a foreign encoding, no statebus schema).
  std::map<std::string, std::string> skipped;
  bool truncated = false;  ///< the file was cut short; replayed up to its last complete chunk
  bool cancelled = false;
};

/// Publishes the messages of the MCAP file `path` (written by the recorder)
/// on the bus in their recorded order, each at its recorded virtual time
/// relative to the first, on the bus's virtual clock divided by `rate`.
/// Typed channels are published with their recorded schema, so subscribers
/// of the original types receive them; log records go out on the log channel.
/// Fails with invalid_argument (a corrupt or foreign file, saying where; a
/// message that does not fit its schema; a bad pattern or rate) or the bus's
/// errors (no_daemon, a channel's type clashing with a live publisher's).
Result<ReplaySummary> replay(const Node& node, const std::string& path, const ReplayOptions& options = {});

}  // namespace statebus
