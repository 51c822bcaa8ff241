#pragma once
// The launcher's child programs: the sensor, the heating and the web
// process, each started, watched for its "ready" line, and restarted.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "home/messages.hpp"
#include "home/supervisor.hpp"

namespace home::launcher {

struct Program {
  std::string name;
  std::vector<std::string> argv;
  std::optional<Supervised> process;
  int restarts = 0;
};

/// The directory of this executable (the programs sit beside it).
std::string program_dir();

/// Starts `p` with its stderr in `out_dir`/<name>.log and waits (10 s) for
/// its "ready" line, passing on a "listening on …" line; false after
/// logging why it did not start.
bool start(Program& p, const std::string& out_dir);

/// The sensor restarts where the room was: from the last reading, at the
/// time of day it is (`since_start` of virtual time since the day began).
void resume_sensor_args(Program& sensor, const HeatingStatus& last, std::chrono::nanoseconds since_start);

/// Resident memory of a process, KiB (0 if it cannot be read).
long rss_kib(pid_t pid);

}  // namespace home::launcher
