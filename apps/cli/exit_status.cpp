#include "exit_status.hpp"

#include <cstdio>
#include <string>

namespace statebus::cli {

int exit_status(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument:
    case Errc::not_found: return kUsageError;
    case Errc::daemon_wedged: return 3;
    case Errc::no_daemon:
    case Errc::already_running:
    case Errc::name_in_use:
    case Errc::payload_too_large:
    case Errc::out_of_resources:
    case Errc::system_error:
    case Errc::not_permitted:
    case Errc::type_mismatch:
    case Errc::timeout:
    case Errc::stale_bus:
    case Errc::already_connected:
    case Errc::corrupt_segment: return 1;
  }
  return 1;
}

int report(std::string_view command, const Error& error) {
  std::fprintf(stderr, "statebus %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               error.message().c_str());
  return exit_status(error.code());
}

int usage_error(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "statebus %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(message.size()), message.data());
  return kUsageError;
}

}  // namespace statebus::cli
