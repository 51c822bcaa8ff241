#pragma once
// The daemon's files: the run directory, the daemon info file, and what
// daemons and nodes that died leave behind (their removal). Internal to daemon/src.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/daemon/daemon.hpp"
#include "statebus/internal/file_lock.hpp"

namespace statebus::detail {

/// iceoryx's data segment of this process's group, in /dev/shm.
std::string data_segment_path();
/// Bytes of the file at `path` (0 if none).
std::uint64_t file_size(const std::string& path);
/// Creates the run directory (the daemon's user's, writable by its group,
/// setgid and sticky, closed to everyone else), or checks the one there:
/// a directory owned by this user, or root's and not world-writable.
Result<void> ensure_run_dir();
/// Makes or checks the run directory (ensure_run_dir), then tries the
/// daemon's lock in it (FileLock::try_acquire); again if the directory went
/// meanwhile (the last process of a bus that is going removes it once empty).
Result<FileLock::Outcome> try_daemon_lock(FileLock& lock, pid_t& holder, int& error);
/// Removes what nodes that ended without leaving left behind: their name
/// locks and iceoryx sockets. Safe while a daemon runs.
void remove_dead_nodes(std::vector<std::string>& removed);
/// Removes what a daemon that died without stopping left behind. Only while
/// holding the daemon lock, with no RouDi holding iceoryx's own lock. A
/// file it may not remove (another user's) is `not_permitted`, naming its owner.
Result<std::vector<std::string>> remove_leftovers();
/// One warning for all that was removed, naming `previous_daemon` if known;
/// `nodes_only`: only what ended nodes left.
void say_removed(const std::vector<std::string>& removed, std::optional<pid_t> previous_daemon,
                 bool nodes_only = false);
/// True when an iceoryx daemon holds iceoryx's own lock (statebus's RouDi or iox-roudi).
bool iceoryx_daemon_running();
/// Writes the daemon info file that find_daemon() reads (atomically).
Result<void> write_info(const DaemonInfo& info);

}  // namespace statebus::detail
