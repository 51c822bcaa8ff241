#pragma once
// The files iceoryx makes in /tmp, a directory every user may write to,
// made the statebus way. iceoryx opens its lock files (iox_open) and binds
// its sockets (iox_bind) through functions statebus takes the place of:
// - a file is never opened through a symbolic link (O_NOFOLLOW): one
//   planted in /tmp would make the daemon create or write the file it
//   points to, with the daemon's rights;
// - a process whose bus group (member_groups.hpp) is not its primary
//   group gives its runtime socket to that group, so that the daemon, of
//   the same group, may answer it there.
// Internal to the bus and the daemon (bus/internal).

#include <string>

#include "statebus/base/error.hpp"

namespace statebus::detail {

/// Succeeds if this process may bind its runtime socket `path` (in /tmp):
/// nothing is there, or what is there is this process's user's (iceoryx
/// replaces it). Another user's file there is `not_permitted`, naming the
/// owner and what to do, instead of iceoryx's endless complaint.
Result<void> check_runtime_socket(const std::string& path);

/// True if iceoryx's opens and binds in this process go through the
/// definitions above (see interposition.hpp).
bool iceoryx_files_in_effect() noexcept;
/// Why it matters and what to do, when they do not.
std::string iceoryx_files_not_in_effect();

}  // namespace statebus::detail
