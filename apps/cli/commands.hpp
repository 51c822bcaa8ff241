#pragma once
// Subcommands of the `statebus` tool. Each adds itself to the parser and
// returns the exit code through `exit_code` when it ran.

#include <CLI/CLI.hpp>

namespace statebus::cli {

void add_daemon_command(CLI::App& app, int& exit_code);
void add_bus_commands(CLI::App& app, int& exit_code);
void add_clock_command(CLI::App& app, int& exit_code);
void add_state_command(CLI::App& app, int& exit_code);

}  // namespace statebus::cli
