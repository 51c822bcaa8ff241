#include "statebus/service/call_error.hpp"

namespace statebus {

std::string_view to_string(CallErrc code) noexcept {
  switch (code) {
    case CallErrc::no_server: return "no_server";
    case CallErrc::server_gone: return "server_gone";
    case CallErrc::timed_out: return "timed_out";
    case CallErrc::refused: return "refused";
    case CallErrc::type_mismatch: return "type_mismatch";
    case CallErrc::out_of_resources: return "out_of_resources";
    case CallErrc::bus_gone: return "bus_gone";
    case CallErrc::cancelled: return "cancelled";
  }
  return "unknown";
}

}  // namespace statebus
