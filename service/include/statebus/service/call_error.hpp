#pragma once
/// CallError: why a call to a service brought no response.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace statebus {

/// Which way a call failed. Each is something the caller can act on.
enum class CallErrc : std::uint8_t {
  no_server,         ///< no server of the service was there within the timeout
  server_gone,       ///< the server's process died, or its server stopped, while the call was pending
  timed_out,         ///< the server is there but did not answer within the timeout
  refused,           ///< the server's handler refused the call (or threw): the reason is the message
  type_mismatch,     ///< the server answers with another response type (the message names both)
  out_of_resources,  ///< the request could not be sent: the bus's memory pools are exhausted
  bus_gone,          ///< the daemon this process connected to died or was replaced
  cancelled,         ///< the client of a pending call was destroyed before the call ended
};

/// "no_server", "server_gone", … for messages and tests.
std::string_view to_string(CallErrc code) noexcept;

/// A failed call: `code()` for programs, `message()` for people (it names
/// the service, and the server's process or the handler's reason).
class CallError {
 public:
  CallError(CallErrc code, std::string message) : code_(code), message_(std::move(message)) {}
  [[nodiscard]] CallErrc code() const noexcept { return code_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

 private:
  CallErrc code_;
  std::string message_;
};

/// The response of a call, or why there is none.
template <class T>
using CallResult = tl::expected<T, CallError>;

}  // namespace statebus
