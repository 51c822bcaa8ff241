#include "statebus/internal/bus_access.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

namespace statebus::detail {
namespace {

// The group database's name of `gid`, if it has one.
std::optional<std::string> name_of_group(gid_t gid) {
  std::vector<char> buffer(4096);
  group entry{};
  group* found = nullptr;
  if (::getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return std::string(found->gr_name);
  }
  return std::nullopt;
}

// The user database's name of `uid`, if it has one.
std::optional<std::string> name_of_user(uid_t uid) {
  std::vector<char> buffer(4096);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return std::string(found->pw_name);
  }
  return std::nullopt;
}

}  // namespace

std::string group_name(gid_t gid) {
  const auto name = name_of_group(gid);
  return name ? *name + " (gid " + std::to_string(gid) + ")" : "gid " + std::to_string(gid);
}

bool group_has_name(gid_t gid) { return name_of_group(gid).has_value(); }

std::string user_name(uid_t uid) {
  const auto name = name_of_user(uid);
  return name ? *name + " (uid " + std::to_string(uid) + ")" : "uid " + std::to_string(uid);
}

Result<void> check_named_user() {
  const uid_t uid = ::geteuid();
  if (name_of_user(uid)) return {};
  return fail(Errc::not_permitted,
              "this process's user (uid " + std::to_string(uid) +
                  ") has no entry in the user database (/etc/passwd): the bus's daemon finds the memory a "
                  "process may use through its user's name; add the user (useradd -u " + std::to_string(uid) +
                  " NAME, or mount the host's /etc/passwd into the container) or run as a user that has one");
}

Error not_in_bus_group(const std::string& path) {
  struct stat st{};
  const std::string group = ::stat(path.c_str(), &st) == 0 ? group_name(st.st_gid) : std::string("unknown");
  const std::string owner = ::stat(path.c_str(), &st) == 0 ? user_name(st.st_uid) : std::string("unknown");
  return Error(Errc::not_permitted, "permission denied: " + path + " belongs to the bus of user " + owner +
                                        " and its group " + group + "; this process (user " + user_name(::geteuid()) +
                                        ") is not in that group: run it as a member of the group, or ask the "
                                        "bus's owner to start the daemon under a group you share");
}

Result<void> check_bus_access(const std::string& path) {
  if (::faccessat(AT_FDCWD, path.c_str(), R_OK | W_OK, AT_EACCESS) == 0 || errno == ENOENT) return {};
  if (errno == EACCES || errno == EPERM) return tl::make_unexpected(not_in_bus_group(path));
  return fail(Errc::system_error, "cannot check access to " + path + ": " + errno_text(errno));
}

}  // namespace statebus::detail
