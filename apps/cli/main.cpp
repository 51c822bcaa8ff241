// statebus: one tool with subcommands for the bus (daemon, …).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "exit_status.hpp"

// An exception that escapes (the check sees CLI11's setup throw) ends the tool by std::terminate.
// NOLINTNEXTLINE(bugprone-exception-escape)
int main(int argc, char** argv) {
  CLI::App app{"statebus: shared state, messages and time for processes on one machine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "statebus 0.1.0");
  int exit_code = 0;
  statebus::cli::add_daemon_command(app, exit_code);
  statebus::cli::add_bus_commands(app, exit_code);
  statebus::cli::add_clock_command(app, exit_code);
  statebus::cli::add_state_command(app, exit_code);
  statebus::cli::add_record_commands(app, exit_code);
  statebus::cli::add_service_command(app, exit_code);
#ifdef STATEBUS_WITH_BRIDGE
  statebus::cli::add_bridge_command(app, exit_code);
#endif
  // An unknown first word is an unknown command, not a missing one.
  if (argc >= 2 && argv[1][0] != '-') {
    bool known = false;
    std::string names;
    for (const CLI::App* command : app.get_subcommands({})) {
      known = known || command->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + command->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "statebus: unknown command '%s'; the commands are %s (statebus --help)\n", argv[1],
                   names.c_str());
      return statebus::cli::kUsageError;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version end here too (0); every other parse error is a
    // wrong command line: the one exit status for that (exit_status.hpp).
    return app.exit(error) == 0 ? 0 : statebus::cli::kUsageError;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "statebus: %s\n", error.what());
    return 1;
  }
  return exit_code;
}
