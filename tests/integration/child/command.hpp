#pragma once
// A command of statebus-test-child (bus_child.cpp): its entry in the table
// main() dispatches on, and the helpers every command uses.

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>
#include <vector>

#include "statebus/bus.hpp"

namespace statebus::test::child {

/// The command line after the command's name: NAME (or CELL) first.
using Args = std::vector<const char*>;

/// What main() does before it runs a command.
enum class Setup {
  none,  ///< nothing: the command connects, or not, itself
  node,  ///< connects as Node args[0]; if it cannot, prints "child: <message>" to stderr and exits 1
};

/// max_args of a command that ignores the arguments after those it reads.
inline constexpr int kAnyMore = INT_MAX;

/// One entry of the table of commands. main() runs the command named
/// argv[1] when the count of arguments after the name lies in
/// [min_args, max_args]; else it prints every command's usage and exits 2.
struct Command {
  const char* name;
  const char* arguments;    ///< as the usage shows them: "NAME CHANNEL COUNT [HISTORY [TYPE]]"
  const char* description;  ///< what it does and prints; '\n' breaks a line of the usage
  int min_args;
  int max_args;
  Setup setup;
  /// Runs the command and returns the process's exit code. `node` is the
  /// node main() connected (Setup::node), else null.
  int (*run)(const Args& args, const Node* node);
};

/// The commands on ports, logs, the daemon and a node's lifetime (bus_commands.cpp).
std::vector<Command> bus_commands();
/// The commands on the clock, event loops and lockstep (clock_commands.cpp).
std::vector<Command> clock_commands();
/// The commands on state cells (state_commands.cpp).
std::vector<Command> state_commands();
/// The commands with self-proving payloads that stop or die at a chosen point (crash_commands.cpp).
std::vector<Command> crash_commands();
/// The commands on services (service_commands.cpp).
std::vector<Command> service_commands();
/// The commands on objects served behind an interface (object_commands.cpp).
std::vector<Command> object_commands();

/// Prints `line` and a newline on stdout at once: the tests read the replies as they come.
inline void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

/// Says "<code> <message>" of `error`; returns the exit code 1.
inline int fail_with(const Error& error) {
  say(std::string(to_string(error.code())) + " " + error.message());
  return 1;
}

/// Blocks until the test closes this process's stdin (or it ends).
inline void wait_for_stdin_to_close() {
  char buffer[64];
  while (::read(STDIN_FILENO, buffer, sizeof buffer) > 0) {
  }
}

}  // namespace statebus::test::child
