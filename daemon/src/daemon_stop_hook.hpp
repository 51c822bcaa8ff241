#pragma once
// A test hook inside Daemon::stop(): called once every process on the bus
// has been told (its registry connection closed), before RouDi stops
// answering. Tests use it to freeze a stopping daemon exactly there.
// Internal: not installed; nothing but tests sets it.

namespace statebus::detail {

using DaemonStopHook = void (*)();

/// Sets the hook for the stops of this process's daemons (nullptr: none).
void set_after_goodbye_hook(DaemonStopHook hook) noexcept;

}  // namespace statebus::detail
