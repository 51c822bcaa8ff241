#pragma once
/// Error and Result: what every statebus call that can fail returns.
///
/// Setup calls (start a daemon, connect, open a channel) return Result<T>.
/// An Error carries a code for programs and a message for people: what was
/// wrong, which name or value, and what to do about it.

#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace statebus {

/// What kind of failure an Error reports.
enum class Errc {
  invalid_argument,  ///< a name, size or value the caller passed is not acceptable
  no_daemon,         ///< no statebus daemon answers on this machine (or bus)
  already_running,   ///< a daemon (or a process of that name) is already running
  name_in_use,       ///< another live process holds that name
  payload_too_large, ///< the payload does not fit the daemon's largest memory pool
  out_of_resources,  ///< shared memory, ports or slots are exhausted
  system_error,      ///< an operating-system call failed (errno in the message)
  not_permitted,     ///< the operating system refused (namespaces, permissions)
  type_mismatch,     ///< the two sides of a channel (or cell) use different types
  timeout,           ///< nothing happened within the time given
  daemon_wedged,     ///< the daemon stopped making progress (a lock left held by a killed process)
  not_found,         ///< no cell (or channel, file) of that name exists
  stale_bus,         ///< a bus segment outlived its daemon, or this process is on a replaced bus
  already_connected, ///< this process is already on the bus under another name
  corrupt_segment,   ///< a shared-memory segment holds values no statebus process writes (the message names the field)
};

/// The name of an error code, for messages and tests.
constexpr std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::no_daemon: return "no_daemon";
    case Errc::already_running: return "already_running";
    case Errc::name_in_use: return "name_in_use";
    case Errc::payload_too_large: return "payload_too_large";
    case Errc::out_of_resources: return "out_of_resources";
    case Errc::system_error: return "system_error";
    case Errc::not_permitted: return "not_permitted";
    case Errc::type_mismatch: return "type_mismatch";
    case Errc::timeout: return "timeout";
    case Errc::daemon_wedged: return "daemon_wedged";
    case Errc::not_found: return "not_found";
    case Errc::stale_bus: return "stale_bus";
    case Errc::already_connected: return "already_connected";
    case Errc::corrupt_segment: return "corrupt_segment";
  }
  return "unknown";
}

/// A failure a person can act on: `code()` for programs, `message()` for people.
class Error {
 public:
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  [[nodiscard]] Errc code() const noexcept { return code_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

 private:
  Errc code_;
  std::string message_;
};

/// The result of a call that can fail: a T or an Error.
template <class T>
using Result = tl::expected<T, Error>;

/// Shorthand for returning a failure: `return fail(Errc::no_daemon, "...");`
inline tl::unexpected<Error> fail(Errc code, std::string message) {
  return tl::make_unexpected(Error(code, std::move(message)));
}

/// "No such file or directory (errno 2)": an errno for error messages.
inline std::string errno_text(int error) {
  return std::string(std::strerror(error)) + " (errno " + std::to_string(error) + ")";
}

}  // namespace statebus
