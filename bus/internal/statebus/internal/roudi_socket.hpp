#pragma once
// Whether RouDi listens on its socket.

namespace statebus::detail {

/// True if a process has bound RouDi's socket. A datagram connect() sends
/// nothing; it fails at once with ECONNREFUSED if nobody is bound.
bool roudi_socket_bound() noexcept;

}  // namespace statebus::detail
