#include "statebus/testing/private_bus.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <algorithm>
#include <vector>
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

// "/tmp/x/y" -> "x": the entry of /tmp that `path` lives under, if any.
std::optional<std::string> tmp_entry(const std::string& path) {
  const std::string prefix = "/tmp/";
  if (path.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string rest = path.substr(prefix.size());
  const std::string entry = rest.substr(0, rest.find('/'));
  if (entry.empty()) return std::nullopt;
  return entry;
}

std::string real_path(const char* path) {
  char buffer[PATH_MAX];
  return ::realpath(path, buffer) != nullptr ? std::string(buffer) : std::string();
}

// A fresh /tmp hides whatever the process needs from the old one: a build
// tree under /tmp holds the test executable, its children and its working
// directory. Bind those entries of the old /tmp into the new one.
Result<void> mount_private_tmp() {
  std::vector<std::string> keep;
  for (const std::string& path : {real_path("/proc/self/exe"), real_path(".")}) {
    if (auto entry = tmp_entry(path); entry && std::find(keep.begin(), keep.end(), *entry) == keep.end()) {
      keep.push_back(*entry);
    }
  }
  const int old_tmp = ::open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (old_tmp < 0) return fail(Errc::system_error, "cannot open /tmp: " + errno_text(errno));
  if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    const int error = errno;
    ::close(old_tmp);
    return fail(Errc::system_error, "cannot mount a private tmpfs on /tmp: " + errno_text(error));
  }
  for (const std::string& entry : keep) {
    const std::string from = "/proc/self/fd/" + std::to_string(old_tmp) + "/" + entry;
    const std::string to = "/tmp/" + entry;
    if (::mkdir(to.c_str(), 0755) != 0 || ::mount(from.c_str(), to.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      const int error = errno;
      ::close(old_tmp);
      return fail(Errc::system_error, "cannot keep " + to + " visible in the private /tmp: " + errno_text(error));
    }
  }
  ::close(old_tmp);
  // The working directory may have been under the old /tmp: enter it again.
  if (const std::string cwd = real_path("."); !cwd.empty() && tmp_entry(cwd)) {
    if (::chdir(cwd.c_str()) != 0) return fail(Errc::system_error, "cannot re-enter " + cwd + ": " + errno_text(errno));
  }
  return {};
}

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
  if (auto tmp = mount_private_tmp(); !tmp) return tl::make_unexpected(tmp.error());
  if (::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    return fail(Errc::system_error, "cannot mount a private tmpfs on /dev/shm: " + errno_text(errno));
  }
  g_isolation = Isolation::private_namespace;
  return *g_isolation;
}

Result<Daemon*> shared_daemon() {
  // Function-local static initialised by start() itself: its construction
  // completes after iceoryx's own statics (logger, runtime) exist, so it is
  // destroyed before them at exit, and after this process's node.
  static Result<Daemon> daemon = Daemon::start();
  if (!daemon) return tl::make_unexpected(daemon.error());
  return &*daemon;
}

}  // namespace statebus::testing
