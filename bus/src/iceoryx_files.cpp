#include "statebus/internal/iceoryx_files.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "iceoryx_hoofs/platform/fcntl.hpp"
#include "iceoryx_hoofs/platform/socket.hpp"
#include "interposition.hpp"
#include "statebus/internal/bus_access.hpp"
#include "statebus/internal/member_groups.hpp"

namespace statebus::detail {

Result<void> check_runtime_socket(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0 || st.st_uid == ::geteuid() || ::geteuid() == 0) return {};
  return fail(Errc::not_permitted, path + " belongs to " + user_name(st.st_uid) +
                                       ": iceoryx puts this node's socket there and may not replace another "
                                       "user's file; choose another node name, or have that user (or root) "
                                       "remove it");
}

bool iceoryx_files_in_effect() noexcept {
  return bound_to_object_of(reinterpret_cast<const void*>(&iceoryx_files_in_effect),
                            {"_Z8iox_openPKcij", "_Z8iox_bindiPK8sockaddrj"});
}

std::string iceoryx_files_not_in_effect() {
  return not_interposed("opens and binds iceoryx's files in /tmp",
                        "a link planted there could make it write another file");
}

}  // namespace statebus::detail

// iceoryx's own definitions are plain calls of open() and bind(); these
// take their place (see iceoryx_files.hpp).
int iox_open(const char* pathname, int flags, mode_t mode) {
  return ::open(pathname, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

int iox_bind(int sockfd, const struct sockaddr* addr, socklen_t addrlen) {
  const int bound = ::bind(sockfd, addr, addrlen);
  const auto group = statebus::detail::bus_group();
  if (bound != 0 || !group || *group == ::getegid() || addr == nullptr || addr->sa_family != AF_UNIX) return bound;
  const int saved = errno;
  sockaddr_un path{};
  std::memcpy(&path, addr, std::min<std::size_t>(addrlen, sizeof path));
  path.sun_path[sizeof path.sun_path - 1] = '\0';
  // Just made by this process in a sticky directory: no one else may
  // replace it meanwhile. A link is never followed all the same.
  if (path.sun_path[0] != '\0') {
    (void)::fchownat(AT_FDCWD, path.sun_path, static_cast<uid_t>(-1), *group, AT_SYMLINK_NOFOLLOW);
  }
  errno = saved;
  return bound;
}
