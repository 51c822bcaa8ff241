#pragma once
// This process's membership of its bus, the joining side of the daemon's
// registry (process_registry.hpp): once per process, before its iceoryx
// runtime exists, it hands the daemon a pidfd of itself and gets its place
// (process_slot.hpp), and keeps the connection open for the rest of its
// life. When the daemon's end closes (it stopped or died), the connection
// says so at once: daemon_left() is exact, with no /proc and no pid.
// Internal to bus/src.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "statebus/base/error.hpp"

namespace statebus::detail {

/// Joins the bus whose daemon listens on the registry socket and sets this
/// process's place. Waits up to `timeout` for the daemon's answer. Fails
/// with no_daemon (no daemon listens, or it did not answer in time: it says
/// which), not_permitted (the socket is closed to this user), system_error
/// (no pidfd on this kernel), or what the daemon refused with. Call once
/// per process, under the caller's lock.
Result<std::uint32_t> join_bus(std::string_view node, std::chrono::milliseconds timeout);

/// True once this process joined a bus and its daemon's end of the
/// connection has closed (the daemon stopped or died). Thread-safe; one
/// poll() without waiting.
bool daemon_left() noexcept;

}  // namespace statebus::detail
