#pragma once
// The bus a benchmark process runs on: a private one of its own where the
// system permits namespaces (statebus::testkit::isolate_bus), else the
// machine's, with a daemon of its own or, where one already runs, that one.

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "statebus/daemon/daemon.hpp"
#include "statebus/testing/private_bus.hpp"

namespace statebus::bench {

/// What a benchmark may do with a daemon already running on the machine's bus.
enum class LiveDaemon {
  use,     ///< measure on it (its memory pools, not `options`, then apply)
  refuse,  ///< the benchmark would disturb it (it moves the clock, starts daemons): stop
};

/// The daemon's default pools with room for two processes' 4 MiB
/// publishers: each keeps its last chunk (as iceoryx does), and with the
/// samples in flight that needs more than the default's three 4 MiB chunks.
inline DaemonOptions with_room_for_4mib_pairs() {
  DaemonOptions options;
  for (auto& pool : options.memory.pools) {
    if (pool.payload_size >= 4u << 20) pool.count = std::max<std::uint32_t>(pool.count, 8);
  }
  return options;
}

/// Gives this process a bus; call first in main(), before any thread. The
/// daemon it starts lives until exit. Prints what went wrong, naming
/// `program`, and returns false when the benchmark cannot run.
inline bool start_bus(const char* program, LiveDaemon live = LiveDaemon::use, const DaemonOptions& options = {}) {
  const auto isolation = testkit::isolate_bus();
  if (!isolation) {
    std::fprintf(stderr, "%s: %s\n", program, isolation.error().message().c_str());
    return false;
  }
  if (*isolation == testkit::Isolation::shared_machine) {
    if (const auto running = find_daemon()) {
      if (live == LiveDaemon::refuse) {
        std::fprintf(stderr,
                     "%s: this benchmark would disturb the statebus daemon running on this machine (pid %d), "
                     "and it cannot have a bus of its own (%s): stop that daemon, or allow namespaces\n",
                     program, static_cast<int>(running->pid), testkit::isolation_reason().c_str());
        return false;
      }
      std::fprintf(stderr, "%s: measuring on the statebus daemon running on this machine (pid %d), as no bus of "
                           "its own can be had (%s)\n",
                   program, static_cast<int>(running->pid), testkit::isolation_reason().c_str());
      return true;
    }
  }
  static Result<Daemon> daemon = Daemon::start(options);  // kept until exit, after the process's node
  if (!daemon) {
    std::fprintf(stderr, "%s: %s\n", program, daemon.error().message().c_str());
    return false;
  }
  return true;
}

}  // namespace statebus::bench
