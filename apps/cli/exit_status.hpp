#pragma once
// The exit status of every `statebus` subcommand: one per error code, the
// README's table ("Exit status"). 0: done; 2: the command line was wrong
// (a malformed value or name, a name or file that is not there); 1: the
// bus or the system failed or refused; 3: the daemon wedged and
// `--exit-on-wedge` was given.

#include <string_view>

#include "statebus/base/error.hpp"

namespace statebus::cli {

inline constexpr int kUsageError = 2;  ///< also every error of the command-line parser

/// The exit status for an error of `code`.
int exit_status(Errc code) noexcept;

/// Prints "statebus COMMAND: MESSAGE" on stderr; returns exit_status(code).
int report(std::string_view command, const Error& error);

/// Prints "statebus COMMAND: MESSAGE" on stderr; returns kUsageError.
int usage_error(std::string_view command, std::string_view message);

}  // namespace statebus::cli
