#pragma once
// Whose groups iceoryx sees. iceoryx decides which memory segments a
// process may use by the groups of its user in the user database
// (getgrouplist), both in RouDi (the segments it offers a process) and in
// the process (the segments it maps). A member of the bus's group by a
// supplementary group the database does not list (setpriv, a container's
// --group-add, `sg`), or the daemon's own user started under the bus's
// group, was offered none and crashed at its first publisher, though the
// kernel lets it map every segment (they are for the bus's group).
// statebus takes the place of the lookup (iox_getgrouplist) and answers
// as the kernel checks, as far as the bus is concerned:
// - while RouDi handles a message of a process on the bus: the bus's
//   group if that process had it when it joined (the kernel's SO_PEERCRED
//   and SO_PEERGROUPS on its registry connection), else none;
// - elsewhere, once this process knows its bus: the bus's group if this
//   process has it (primary or supplementary), else none;
// - before that: the user database, as iceoryx would.
// Internal to the bus and the daemon (bus/internal).

#include <sys/types.h>

#include <optional>
#include <string>

namespace statebus::detail {

/// The bus this process is on (or serves) belongs to `group`.
void set_bus_group(gid_t group) noexcept;
/// The group set_bus_group() gave, if any.
std::optional<gid_t> bus_group() noexcept;
/// True if this process has `group` as its primary or a supplementary group,
/// or is root (which opens every file of the bus anyway).
bool process_in_group(gid_t group) noexcept;

/// While alive, iceoryx's lookups in this thread (RouDi's message thread)
/// see the groups of a process that is (`in_bus_group`) or is not in the
/// bus's group.
class MemberGroupsScope {
 public:
  explicit MemberGroupsScope(bool in_bus_group) noexcept;
  ~MemberGroupsScope();
  MemberGroupsScope(const MemberGroupsScope&) = delete;
  MemberGroupsScope& operator=(const MemberGroupsScope&) = delete;

 private:
  int previous_;
};

/// True if the process at the other end of `connection` (a connected unix
/// socket) had `group`, as primary or supplementary, when it connected, or
/// was root.
bool peer_in_group(int connection, gid_t group) noexcept;

/// True if iceoryx's lookups in this process go through the definition above.
bool member_groups_in_effect() noexcept;
/// Why it matters and what to do, when they do not.
std::string member_groups_not_in_effect();

}  // namespace statebus::detail
