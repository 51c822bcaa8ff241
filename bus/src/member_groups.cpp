#include "statebus/internal/member_groups.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <vector>

#include "iceoryx_hoofs/platform/grp.hpp"
#include "interposition.hpp"

namespace statebus::detail {
namespace {

constexpr gid_t kNoGroup = static_cast<gid_t>(-1);
std::atomic<gid_t> g_bus_group{kNoGroup};

// -1: no message of a process on the bus is being handled in this thread;
// 0: its process is not in the bus's group; 1: it is.
thread_local int t_in_bus_group = -1;

bool contains(const std::vector<gid_t>& groups, gid_t group) {
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

// getgrouplist()'s contract: the groups in `groups` if `*ngroups` leaves
// room (then their number), else -1; `*ngroups` says how many there are.
int answer(bool in_bus_group, gid_t group, gid_t* groups, int* ngroups) noexcept {
  const int count = in_bus_group ? 1 : 0;
  if (*ngroups < count) {
    *ngroups = count;
    return -1;
  }
  if (in_bus_group) groups[0] = group;
  *ngroups = count;
  return count;
}

}  // namespace

void set_bus_group(gid_t group) noexcept { g_bus_group.store(group, std::memory_order_release); }

std::optional<gid_t> bus_group() noexcept {
  const gid_t group = g_bus_group.load(std::memory_order_acquire);
  if (group == kNoGroup) return std::nullopt;
  return group;
}

bool process_in_group(gid_t group) noexcept {
  // Root opens every file of the bus anyway: served as a member.
  if (::geteuid() == 0 || ::getegid() == group) return true;
  const int count = ::getgroups(0, nullptr);
  if (count <= 0) return false;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  const int got = ::getgroups(count, groups.data());
  if (got < 0) return false;
  groups.resize(static_cast<std::size_t>(got));
  return contains(groups, group);
}

MemberGroupsScope::MemberGroupsScope(bool in_bus_group) noexcept : previous_(t_in_bus_group) {
  t_in_bus_group = in_bus_group ? 1 : 0;
}

MemberGroupsScope::~MemberGroupsScope() { t_in_bus_group = previous_; }

bool peer_in_group(int connection, gid_t group) noexcept {
  ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0 && (peer.uid == 0 || peer.gid == group)) {
    return true;  // root opens every file of the bus anyway: served as a member
  }
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(connection, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
      groups.resize(bytes / sizeof(gid_t));
      return contains(groups, group);
    }
    if (errno != ERANGE) return false;
    groups.resize(bytes / sizeof(gid_t) + 1);  // the kernel said how many
  }
  return false;
}

bool member_groups_in_effect() noexcept {
  return bound_to_object_of(reinterpret_cast<const void*>(&member_groups_in_effect), {"_Z16iox_getgrouplistPKcjPjPi"});
}

std::string member_groups_not_in_effect() {
  return not_interposed("looks up its users' groups",
                        "a member of the bus's group by a group the user database does not list would be offered "
                        "no memory");
}

}  // namespace statebus::detail

// iceoryx's own definition is a plain getgrouplist(); this takes its place
// (see member_groups.hpp).
int iox_getgrouplist(const char* user, gid_t group, gid_t* groups, int* ngroups) {
  using namespace statebus::detail;
  const auto bus = bus_group();
  if (!bus) return ::getgrouplist(user, group, groups, ngroups);
  const bool in_bus_group = t_in_bus_group >= 0 ? t_in_bus_group == 1 : process_in_group(*bus);
  return answer(in_bus_group, *bus, groups, ngroups);
}
