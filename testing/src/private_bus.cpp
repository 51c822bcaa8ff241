#include "statebus/testing/private_bus.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

namespace statebus::testing {
namespace {

std::optional<Isolation> g_isolation;

bool write_file(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

int thread_count() {
  int count = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    ::closedir(dir);
  }
  return count;
}

std::string errno_text(int error) { return std::string(std::strerror(error)) + " (errno " + std::to_string(error) + ")"; }

}  // namespace

Result<Isolation> isolate_bus() {
  if (g_isolation) return *g_isolation;
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) {
    // Inside the new user namespace we are root, mapped to our own ids outside.
    if (!write_file("/proc/self/setgroups", "deny") ||
        !write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n") ||
        !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n")) {
      return fail(Errc::system_error, "entered a user namespace but could not map ids: " + errno_text(errno));
    }
  } else {
    const int user_ns_error = errno;
    if (user_ns_error == EINVAL && thread_count() > 1) {
      return fail(Errc::invalid_argument,
                  "isolate_bus() must run before this process starts any thread (it has " +
                      std::to_string(thread_count()) + ")");
    }
    // Without user namespaces, root can still have a mount namespace.
    if (::unshare(CLONE_NEWNS) != 0) {
      g_isolation = Isolation::shared_machine;
      return *g_isolation;
    }
  }
  // Our mounts must not propagate back to the machine.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return fail(Errc::system_error, "cannot make / private in the new namespace: " + errno_text(errno));
  }
  for (const char* dir : {"/tmp", "/dev/shm"}) {
    if (::mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
      return fail(Errc::system_error,
                  std::string("cannot mount a private tmpfs on ") + dir + ": " + errno_text(errno));
    }
  }
  g_isolation = Isolation::private_namespace;
  return *g_isolation;
}

Result<Daemon*> shared_daemon() {
  // Function-local static: destroyed at exit after everything created later,
  // including the process's iceoryx runtime, so no node outlives the daemon.
  static std::optional<Daemon> daemon;
  if (!daemon) {
    auto started = Daemon::start();
    if (!started) return tl::make_unexpected(started.error());
    daemon.emplace(std::move(*started));
  }
  return &*daemon;
}

}  // namespace statebus::testing
