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

/// The start time of `pid`, or nothing if no such process exists.
/// Thread-safe; reads /proc/<pid>/stat; no allocation beyond a small buffer.
std::optional<std::uint64_t> process_start_time(pid_t pid) noexcept;

/// True if `pid` is stopped (SIGSTOP, a terminal stop or a debugger): alive
/// but running none of its code until it is continued. Thread-safe; reads
/// /proc/<pid>/stat.
bool is_stopped(pid_t pid) noexcept;

/// True if the process `id` still runs (same pid and same start time).
/// A zombie counts as gone.
bool is_alive(const ProcessId& id) noexcept;

}  // namespace statebus
