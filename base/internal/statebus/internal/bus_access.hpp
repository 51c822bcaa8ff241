#pragma once
/// Who may use a bus: the daemon's user and the members of its group. Every
/// shared-memory file of a bus (iceoryx's and statebus's) is read-write for
/// them (0660) and closed to everyone else. The group is the daemon
/// process's: run `statebus daemon` under the group that should share the
/// bus (`sg GROUP -c 'statebus daemon'`, systemd's `Group=`). Internal to
/// statebus.

#include <sys/types.h>

#include <string>

#include "statebus/base/error.hpp"

namespace statebus::detail {

/// The mode of every shared-memory file of a bus.
inline constexpr unsigned kBusFileMode = 0660;

/// Succeeds if this process may read and write `path` (a file of the bus);
/// else fails with `not_permitted`: "permission denied: … belongs to the
/// bus's group G; this process (user U) is not in it …". A missing file
/// passes (the caller says what is missing).
Result<void> check_bus_access(const std::string& path);

/// The `not_permitted` error for `path`, which this process may not use.
Error not_in_bus_group(const std::string& path);

/// "name (uid N)", or "uid N" for a user the user database does not know.
std::string user_name(uid_t uid);
/// "name (gid N)", or "gid N" for a group the group database does not know.
std::string group_name(gid_t gid);
/// Whether the group database names `gid` (iceoryx names the groups that
/// may use its memory, so a daemon's group must have a name).
bool group_has_name(gid_t gid);

/// Succeeds if the user database knows this process's user: RouDi finds
/// the memory a process may use through its user's name, and tells a user
/// it does not know of none. Else `not_permitted`, saying what to do.
Result<void> check_named_user();

}  // namespace statebus::detail
