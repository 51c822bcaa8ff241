#pragma once
// Subcommands of the `statebus` tool. Each adds itself to the parser and
// returns the exit code through `exit_code` when it ran (exit_status.hpp).

#include <atomic>
#include <optional>

#include <CLI/CLI.hpp>

#include "exit_status.hpp"
#include "statebus/bus/node.hpp"

namespace statebus::cli {

/// Set by SIGINT and SIGTERM once stop_on_signals() ran.
extern std::atomic<bool> g_stop;
void stop_on_signals();
/// Connects as `statebus-cli-<16 random hex digits>`.
Result<Node> connect_cli();

void add_daemon_command(CLI::App& app, int& exit_code);
void add_bus_commands(CLI::App& app, int& exit_code);
void add_clock_command(CLI::App& app, int& exit_code);
void add_state_command(CLI::App& app, int& exit_code);
void add_record_commands(CLI::App& app, int& exit_code);
void add_bridge_command(CLI::App& app, int& exit_code);
void add_service_command(CLI::App& app, int& exit_code);

}  // namespace statebus::cli
