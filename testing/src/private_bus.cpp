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

namespace statebus::testkit {
namespace {

std::optional<Isolation> g_isolation;
std::string g_reason = "isolate_bus() was not called";

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

// True when the user asked for the machine's bus (STATEBUS_ISOLATION=off):
// the test command runs the bus tests so once more, as they run where no
// namespace can be made.
bool isolation_turned_off() {
  const char* value = std::getenv("STATEBUS_ISOLATION");
  return value != nullptr && std::strcmp(value, "off") == 0;
}

struct StatPair {
  dev_t dev;
  ino_t ino;
  bool operator==(const StatPair& other) const { return dev == other.dev && ino == other.ino; }
};

std::optional<StatPair> identity_of(const char* path) {
  struct stat info {};
  if (::stat(path, &info) != 0) return std::nullopt;
  return StatPair{info.st_dev, info.st_ino};
}

// In a chroot, "/" is a directory inside some mount of the machine, not a
// mount point, and the kernel changes propagation only at a mount's root
// (EINVAL otherwise). Binding "/" onto itself to make it one would not help:
// the bind would itself propagate to the machine's namespace while its
// parent is still shared. And the kernel refuses a user namespace to a
// chrooted process, so the "less privileged mount namespace" rule (copies of
// shared mounts become slaves) is not to be had either.
//
// This mount namespace is ours alone, though, and we are root in it: step
// out of the chroot (chroot into a subdirectory while the working directory
// stays behind, then climb ".." to the namespace's real root), make every
// mount of this namespace private there, and chroot back into the very same
// directory by descriptor. Nothing outside this namespace changes; only
// the propagation of our own copies of the mounts does, which is what the
// tmpfs mounts that follow need.
Result<void> make_mounts_private_from_a_chroot() {
  const int old_root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  const int old_cwd = ::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  const auto give_up = [&](const std::string& what) {
    const int error = errno;
    if (old_root >= 0) {
      // Whatever failed, end up inside the chroot we started in.
      if (::fchdir(old_root) == 0 && ::chroot(".") == 0 && old_cwd >= 0 && ::fchdir(old_cwd) == 0) {
      }
      ::close(old_root);
    }
    if (old_cwd >= 0) ::close(old_cwd);
    return fail(Errc::not_permitted, "\"/\" is not a mount point here (a chroot) and " + what + ": " +
                                         errno_text(error) + "; run the tests outside the chroot, or with "
                                         "STATEBUS_ISOLATION=off and -j1 to share this machine's bus");
  };
  if (old_root < 0 || old_cwd < 0) return give_up("it cannot be opened");
  if (::chdir("/") != 0 || ::chroot("/tmp") != 0) return give_up("cannot step out of it (chroot)");
  // The working directory is now above the root, where ".." is not stopped.
  for (int depth = 0;; ++depth) {
    const auto here = identity_of(".");
    const auto up = identity_of("..");
    if (!here || !up || depth > 4096) return give_up("cannot climb to the namespace's root");
    if (*here == *up) break;
    if (::chdir("..") != 0) return give_up("cannot climb to the namespace's root");
  }
  if (::chroot(".") != 0) return give_up("cannot enter the namespace's root");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return give_up("its mounts cannot be made private");
  }
  const bool back = ::fchdir(old_root) == 0 && ::chroot(".") == 0 && ::fchdir(old_cwd) == 0;
  if (!back) return give_up("cannot re-enter it");
  ::close(old_root);
  ::close(old_cwd);
  return {};
}

// Our mounts must not propagate back to the machine. A new mount namespace
// starts with copies of the machine's mounts, and copies of shared mounts
// stay peers of the originals: a tmpfs mounted on /tmp here would appear on
// the machine too, unless every mount of this namespace is made private.
// True when the process is chrooted (and had to step out to do it).
Result<bool> make_mounts_private() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) return false;
  if (errno != EINVAL)
    return fail(Errc::system_error, "cannot make / private in the new namespace: " + errno_text(errno));
  // EINVAL: "/" is not a mount point.
  if (auto made = make_mounts_private_from_a_chroot(); !made) return tl::make_unexpected(made.error());
  return true;
}

}  // namespace

Result<Isolation> isolate_bus() {
  if (g_isolation) return *g_isolation;
  if (isolation_turned_off()) {
    g_reason = "STATEBUS_ISOLATION=off";
    g_isolation = Isolation::shared_machine;
    return *g_isolation;
  }
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  std::string how = "private user and mount namespaces";
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
    // Without user namespaces (refused in a chroot, or by policy), root can
    // still have a mount namespace.
    if (::unshare(CLONE_NEWNS) != 0) {
      const int mount_ns_error = errno;
      g_reason = "namespaces are not permitted here: a user namespace (" + errno_text(user_ns_error) +
                 "), a mount namespace (" + errno_text(mount_ns_error) + ")";
      g_isolation = Isolation::shared_machine;
      return *g_isolation;
    }
    how = "a private mount namespace (no user namespace: " + errno_text(user_ns_error) + ")";
  }
  auto made = make_mounts_private();
  if (!made) return tl::make_unexpected(made.error());
  if (*made) how += ", entered from a chroot";
  if (auto tmp = mount_private_tmp(); !tmp) return tl::make_unexpected(tmp.error());
  if (::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    const int error = errno;
    return fail(Errc::system_error, "cannot mount a private tmpfs on /dev/shm: " + errno_text(error) +
                                        (error == ENOENT ? " (the bus needs /dev/shm: create it)" : ""));
  }
  g_reason = how;
  g_isolation = Isolation::private_namespace;
  return *g_isolation;
}

std::string isolation_reason() { return g_reason; }

Result<Daemon*> shared_daemon() {
  // Function-local static initialised by start() itself: its construction
  // completes after iceoryx's own statics (logger, runtime) exist, so it is
  // destroyed before them at exit, and after this process's node.
  static Result<Daemon> daemon = Daemon::start();
  if (!daemon) return tl::make_unexpected(daemon.error());
  return &*daemon;
}

}  // namespace statebus::testkit
