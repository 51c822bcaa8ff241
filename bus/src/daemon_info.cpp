#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

#include "statebus/base/process.hpp"
#include "statebus/bus/daemon_info.hpp"
#include "statebus/internal/bus_access.hpp"
#include "statebus/internal/paths.hpp"

// The client's side of the daemon info file (the daemon writes it:
// daemon/src/run_directory.cpp, write_info).

namespace statebus {

Result<DaemonInfo> find_daemon() {
  std::ifstream in(detail::kDaemonInfo);
  if (!in && errno == EACCES) return tl::make_unexpected(detail::not_in_bus_group(detail::kRunDir));
  if (!in) {
    return fail(Errc::no_daemon, "no statebus daemon is running on this machine: start one with `statebus daemon` "
                                 "(or statebus::Daemon::start() in this process)");
  }
  DaemonInfo info;
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    const unsigned long long value = std::strtoull(line.c_str() + eq + 1, nullptr, 10);
    if (key == "pid") info.pid = static_cast<pid_t>(value);
    if (key == "start_time") info.start_time = value;
    if (key == "max_payload") info.max_payload = static_cast<std::uint32_t>(value);
    if (key == "max_chunk") info.max_chunk = static_cast<std::uint32_t>(value);
    if (key == "instance") info.instance = value;
    if (key == "pid_namespace") info.pid_namespace = value;
  }
  if (info.pid <= 0 || info.max_chunk == 0) {
    return fail(Errc::no_daemon, std::string(detail::kDaemonInfo) +
                                     " is incomplete or foreign; start the daemon again with `statebus daemon`");
  }
  // Its pid names a process only in its own PID namespace; from another,
  // only joining the registry can tell whether it lives.
  const auto ours = pid_namespace();
  const bool same_namespace = info.pid_namespace == 0 || !ours || *ours == info.pid_namespace;
  if (same_namespace && liveness({info.pid, info.start_time}) == Liveness::dead) {
    return fail(Errc::no_daemon, "the statebus daemon (pid " + std::to_string(info.pid) +
                                     ") has died; start a new one with `statebus daemon`, "
                                     "which also removes what the old one left");
  }
  return info;
}

}  // namespace statebus
