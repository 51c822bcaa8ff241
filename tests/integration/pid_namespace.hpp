#pragma once
// A statebus-test-child command run in a PID namespace of its own (as in a
// container sharing /tmp and /dev/shm), and the ways to find it from the
// test's namespace: its pid here (the leaf of unshare's tree) and there.

#include <sys/types.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "statebus/testing/child_process.hpp"

namespace statebus::test {

inline const std::string kUnshare = "/usr/bin/unshare";  // util-linux

/// True if a PID namespace can be made here (unshare --pid needs
/// CAP_SYS_ADMIN in the user namespace the test runs in).
inline bool can_make_pid_namespace() {
  auto probe = testkit::ChildProcess::spawn({kUnshare, "--pid", "--fork", "--mount-proc", "--kill-child", "true"});
  return probe && probe->wait(std::chrono::seconds(10)) == 0;
}

/// The command line of statebus-test-child `command` in a PID namespace of
/// its own, with /proc to match. Not its init: the namespace's first process
/// ignores the signals it sends itself, so a shell is pid 1 and the command
/// its child (pid 2 there). Killing unshare kills the whole namespace.
inline std::vector<std::string> in_own_pid_namespace(const std::string& command) {
  return {kUnshare,       "--pid",   "--fork", "--mount-proc",
          "--kill-child", "/bin/sh", "-c",     std::string(STATEBUS_TEST_CHILD) + " " + command + "; exit $?"};
}

/// The last descendant of `parent`, following first children (unshare's
/// shell, then the command under it).
inline std::optional<pid_t> leaf_of(pid_t parent) {
  std::optional<pid_t> leaf;
  for (pid_t at = parent;;) {
    std::ifstream children("/proc/" + std::to_string(at) + "/task/" + std::to_string(at) + "/children");
    pid_t child = 0;
    if (!(children >> child)) return leaf;
    leaf = at = child;
  }
}

/// The pid of `pid` (a pid of this namespace) in its own, innermost PID
/// namespace: the last field of NSpid in /proc/<pid>/status.
inline std::optional<pid_t> pid_in_own_namespace(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    std::optional<pid_t> last;
    for (pid_t field = 0; fields >> field;) last = field;
    return last;
  }
  return std::nullopt;
}

}  // namespace statebus::test
