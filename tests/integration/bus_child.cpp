// statebus-test-child: the other process in multi-process bus tests.
//   statebus-test-child COMMAND NAME|CELL [ARGUMENT...]
// Its commands, each with its usage, are in the tables of child/*.cpp: ports,
// logs, the daemon and a node's lifetime (bus_commands.cpp); the clock, event
// loops and lockstep (clock_commands.cpp); state cells (state_commands.cpp);
// self-proving payloads and stops or deaths at a chosen point (crash_commands.cpp);
// a test server of a service (service_commands.cpp); objects behind an
// interface (object_commands.cpp).
// Run it without arguments for the list.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "child/command.hpp"
#include "statebus/bus.hpp"

namespace {

namespace child = statebus::test::child;

// The one table: every command of every area.
std::vector<child::Command> all_commands() {
  std::vector<child::Command> commands;
  for (auto area : {child::bus_commands, child::clock_commands, child::state_commands, child::crash_commands,
                    child::service_commands, child::object_commands}) {
    const std::vector<child::Command> more = area();
    commands.insert(commands.end(), more.begin(), more.end());
  }
  return commands;
}

int usage(const std::vector<child::Command>& commands) {
  std::fprintf(stderr, "usage: statebus-test-child COMMAND NAME|CELL [ARGUMENT...], a COMMAND of:\n");
  for (const child::Command& command : commands) {
    std::string description = command.description;
    for (std::size_t at = description.find('\n'); at != std::string::npos; at = description.find('\n', at + 1)) {
      description.insert(at + 1, "      ");
    }
    std::fprintf(stderr, "  %s %s\n      %s\n", command.name, command.arguments, description.c_str());
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<child::Command> commands = all_commands();
  if (argc < 2) return usage(commands);
  const auto command = std::find_if(commands.begin(), commands.end(),
                                     [&](const child::Command& c) { return std::strcmp(c.name, argv[1]) == 0; });
  const child::Args args(argv + 2, argv + argc);
  const auto count = static_cast<long>(args.size());
  if (command == commands.end() || count < command->min_args || count > command->max_args) return usage(commands);
  if (command->setup == child::Setup::none) return command->run(args, nullptr);
  auto node = statebus::Node::connect(args[0]);
  if (!node) {
    std::fprintf(stderr, "child: %s\n", node.error().message().c_str());
    return 1;
  }
  return command->run(args, &*node);
}
