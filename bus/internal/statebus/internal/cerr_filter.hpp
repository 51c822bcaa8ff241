#pragma once
// iceoryx reports a failed POSIX call straight to std::cerr, past its own
// logger and its log level: "…/unix_domain_socket.cpp:238 { … -> iox_setsockopt }
// :::  [ 9 ]  Bad file descriptor". RouDi does so whenever it answers a
// client killed a moment before, which is normal operation for statebus,
// and adds "invalid file descriptor for unix domain socket" on its own.
// The filter drops exactly such lines from std::cerr; every other line
// passes unchanged, in order.
//
// Thread safety: install from one thread; the filter itself serialises the
// threads writing to std::cerr line by line.

namespace statebus::detail {

/// Installs the filter on std::cerr (once per process; later calls do nothing).
void filter_iceoryx_posix_errors() noexcept;

}  // namespace statebus::detail
