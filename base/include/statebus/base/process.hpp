#pragma once
/// Identity of processes on this machine: a pid plus the process's start time,
/// because pids are reused and a pid alone cannot tell a live owner from a
/// dead one whose number was handed out again.

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace statebus {

/// A process as the kernel knows it: pid and start time (clock ticks after boot).
struct ProcessId {
  pid_t pid = 0;
  std::uint64_t start_time = 0;

  friend bool operator==(const ProcessId& a, const ProcessId& b) noexcept {
    return a.pid == b.pid && a.start_time == b.start_time;
  }
};

/// The calling process. Thread-safe; reads /proc once and caches it per pid.
ProcessId this_process() noexcept;

/// The calling process's PID namespace (the inode of /proc/self/ns/pid),
/// or nothing if /proc cannot tell. Pids mean something only inside one
/// namespace: compare before looking a pid up. Thread-safe.
std::optional<std::uint64_t> pid_namespace() noexcept;

/// The start time of `pid`, or nothing if no such process exists.
/// Thread-safe; reads /proc/<pid>/stat; no allocation beyond a small buffer.
std::optional<std::uint64_t> process_start_time(pid_t pid) noexcept;


/// What can be known about a process from outside it.
enum class Liveness {
  alive,    ///< it runs (or is stopped): same pid, same start time
  dead,     ///< the kernel says so: no such pid in this PID namespace, a zombie, or another process under its pid
  unknown,  ///< it may run: /proc could not be read (out of file descriptors, hidepid, no /proc)
};

/// The liveness of `id`. Dead only on the kernel's word (kill(pid, 0) finds
/// no such process, or /proc shows a zombie or another start time); any
/// other failure is unknown. A pid of another PID namespace means nothing
/// here: callers that may hold one must not ask. Thread-safe.
Liveness liveness(const ProcessId& id) noexcept;

/// True unless `id` is proven dead (liveness() is `dead`): a process that
/// cannot be looked at counts as alive.
bool is_alive(const ProcessId& id) noexcept;

}  // namespace statebus
