#pragma once
/// What a client learns about the running daemon without connecting: its
/// info file, read by find_daemon(). The daemon itself is the daemon
/// module's (statebus/daemon/daemon.hpp), which writes that file.

#include <sys/types.h>

#include <cstdint>

#include "statebus/base/error.hpp"

namespace statebus {

/// What a client can learn about the running daemon without connecting.
struct DaemonInfo {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  std::uint32_t max_payload = 0;
  std::uint32_t max_chunk = 0;
  /// Unique to one start of a daemon (a daemon restarted in place keeps its
  /// pid but not this).
  std::uint64_t instance = 0;
  /// The daemon's PID namespace (pid_namespace()); `pid` means something
  /// only inside it. 0: unknown.
  std::uint64_t pid_namespace = 0;
};

/// The running daemon, if one is alive on this machine (or namespace).
/// Fails with Errc::no_daemon and a message saying why (none started, or it died:
/// said only on the kernel's word, and only from the daemon's own PID
/// namespace; elsewhere, joining it tells). Thread-safe; reads one small
/// file and /proc.
Result<DaemonInfo> find_daemon();

}  // namespace statebus
