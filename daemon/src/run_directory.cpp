#include "run_directory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include "iceoryx_hoofs/posix_wrapper/posix_access_rights.hpp"
#include "statebus/base/process.hpp"
#include "statebus/internal/bus_access.hpp"
#include "statebus/internal/channel_types.hpp"
#include "statebus/internal/file_lock.hpp"
#include "statebus/internal/paths.hpp"
#include "statebus/internal/unique_fd.hpp"

namespace statebus {
namespace detail {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

std::string data_segment_path() {
  return std::string("/dev/shm/") + iox::posix::PosixGroup::getGroupOfCurrentProcess().getName().c_str();
}

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

Result<void> ensure_run_dir() {
  if (::mkdir(detail::kRunDir, 0770) != 0 && errno != EEXIST) {
    return fail(Errc::system_error, std::string("cannot create ") + detail::kRunDir + ": " + errno_text(errno));
  }
  struct stat st {};
  if (::lstat(detail::kRunDir, &st) != 0 || S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
    return fail(Errc::system_error, std::string(detail::kRunDir) +
                                        " exists but is not a directory (a symbolic link or a file, uid " +
                                        std::to_string(st.st_uid) + "); remove it and start again");
  }
  // Files in a directory another user controls could be replaced under us:
  // only our own or root's will do.
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return fail(Errc::not_permitted, std::string(detail::kRunDir) + " belongs to uid " + std::to_string(st.st_uid) +
                                         ", not to this user (uid " + std::to_string(::geteuid()) +
                                         ") or root: the daemon does not trust files in a directory another user "
                                         "controls; remove it (as its owner or root) and start again");
  }
  if (st.st_uid == ::geteuid()) {
    // The bus's user and group only: members put their name locks here
    // (setgid: each of the bus's group; sticky: none removes another's);
    // everyone else may neither look in nor create anything.
    if (st.st_gid != ::getegid()) (void)::chown(detail::kRunDir, static_cast<uid_t>(-1), ::getegid());
    ::chmod(detail::kRunDir, 03770);
  } else if ((st.st_mode & 0002) != 0) {
    return fail(Errc::not_permitted, std::string(detail::kRunDir) +
                                         " belongs to root and anyone may write in it: the daemon does not trust "
                                         "it; remove it (as root) and start again");
  }
  return {};
}

Result<FileLock::Outcome> try_daemon_lock(FileLock& lock, pid_t& holder, int& error) {
  auto outcome = FileLock::Outcome::failed;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (auto dir = ensure_run_dir(); !dir) return tl::make_unexpected(dir.error());
    outcome = FileLock::try_acquire(kDaemonLock, lock, holder, error);
    if (outcome != FileLock::Outcome::failed || error != ENOENT) break;
  }
  return outcome;
}

// Removes what nodes that ended without leaving left behind: their name
// locks and iceoryx sockets, and the claims of services whose server died.
// Safe while a daemon runs (a live node or server holds its lock).
void remove_dead_nodes(std::vector<std::string>& removed) {
  DIR* dir = ::opendir(detail::kRunDir);
  if (dir == nullptr) return;
  std::vector<std::string> names;
  std::vector<std::string> claims;
  const std::string service_prefix = detail::kServiceLockPrefix;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string file = entry->d_name;
    const bool lock_file = file.size() > 5 && file.compare(file.size() - 5, 5, ".lock") == 0;
    if (lock_file && file.rfind("node-", 0) == 0 && file.size() > 10) names.push_back(file.substr(5, file.size() - 10));
    if (lock_file && file.rfind(service_prefix, 0) == 0) claims.push_back(std::string(detail::kRunDir) + "/" + file);
  }
  ::closedir(dir);
  for (const std::string& path : claims) {
    detail::FileLock lock;
    pid_t holder = 0;
    int error = 0;
    if (detail::FileLock::try_acquire(path, lock, holder, error) != detail::FileLock::Outcome::acquired) continue;
    removed.push_back(path);  // its server died: the kernel dropped its lock
    lock.release(/*remove=*/true);
  }
  for (const std::string& name : names) {
    detail::FileLock lock;
    pid_t holder = 0;
    int error = 0;
    if (detail::FileLock::try_acquire(detail::node_lock_path(name), lock, holder, error) !=
        detail::FileLock::Outcome::acquired) {
      continue;  // that node still lives
    }
    for (const std::string& path :
         {"/tmp/" + detail::runtime_name(name), "/tmp/" + detail::runtime_name(name) + ".lock"}) {
      if (exists(path) && ::unlink(path.c_str()) == 0) removed.push_back(path);
    }
    removed.push_back(detail::node_lock_path(name));
    lock.release(/*remove=*/true);
  }
}

// Removes what a daemon that died without stopping left behind. Called only
// while we hold the daemon lock and no RouDi holds iceoryx's own lock, so
// nothing here can belong to a live daemon. A file this process may not
// remove (another user's, in a sticky directory) would stop RouDi or make
// it write through it: refused, naming its owner.
Result<std::vector<std::string>> remove_leftovers() {
  std::vector<std::string> removed;
  for (const std::string& path :
       {std::string(detail::kDaemonInfo), std::string("/dev/shm/statebus-clock"),
        std::string("/dev/shm/statebus-state"), std::string(detail::kIceoryxMgmtShm), data_segment_path(),
        std::string(detail::kRoudiSocket), std::string(detail::kRoudiLock), std::string(detail::kRoudiUniqueLock)}) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (::unlink(path.c_str()) == 0) {
      removed.push_back(path);
      continue;
    }
    const int error = errno;
    return fail(error == EPERM || error == EACCES ? Errc::not_permitted : Errc::system_error,
                "cannot remove " + path + " (" + errno_text(error) + "), which belongs to " + user_name(st.st_uid) +
                    " and group " + group_name(st.st_gid) +
                    ": the bus's daemon puts its own file there. If no bus of that user runs, remove it as that "
                    "user or root (sudo rm " +
                    path + ") and start again");
  }
  remove_dead_nodes(removed);
  return removed;
}

// One line for all that was removed (after 90 ended processes, ~180 files).
// `previous_daemon`: the daemon whose files these were, if known; nothing
// for what only ended nodes left (`nodes_only`).
void say_removed(const std::vector<std::string>& removed, std::optional<pid_t> previous_daemon, bool nodes_only) {
  if (removed.empty()) return;
  constexpr std::size_t kNamed = 10;
  std::string paths;
  for (std::size_t i = 0; i < removed.size() && i < kNamed; ++i) paths += (i == 0 ? "" : ", ") + removed[i];
  if (removed.size() > kNamed) paths += " and " + std::to_string(removed.size() - kNamed) + " more";
  const std::string who = nodes_only        ? "nodes that ended"
                          : previous_daemon ? "daemon pid " + std::to_string(*previous_daemon) + " and nodes that ended"
                                            : "a daemon and nodes that ended";
  spdlog::warn("removed {} stale files (left by {}): {}", removed.size(), who, paths);
}

// True when an iceoryx daemon holds iceoryx's own lock (statebus's RouDi or
// iox-roudi). Only looks: the file is opened read-only, never created,
// never through a link (a link is no daemon's lock, and remove_leftovers()
// removes it).
bool iceoryx_daemon_running() {
  UniqueFd lock(::open(detail::kRoudiUniqueLock, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!lock.valid() || ::fstat(lock.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) return false;  // released with the descriptor
  return errno == EWOULDBLOCK;
}

Result<void> write_info(const DaemonInfo& info) {
  const std::string tmp = std::string(detail::kDaemonInfo) + ".tmp";
  // A new file (never one planted in its place, never through a link), for
  // its user to write and its group to read, whatever the umask.
  ::unlink(tmp.c_str());
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640));
  if (!out.valid() || ::fchmod(out.get(), 0640) != 0) {
    return fail(Errc::system_error, "cannot create " + tmp + ": " + errno_text(errno));
  }
  const std::string text =
      "pid=" + std::to_string(info.pid) + "\nstart_time=" + std::to_string(info.start_time) +
      "\nmax_payload=" + std::to_string(info.max_payload) + "\nmax_chunk=" + std::to_string(info.max_chunk) +
      "\ninstance=" + std::to_string(info.instance) + "\npid_namespace=" + std::to_string(info.pid_namespace) + "\n";
  if (::write(out.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return fail(Errc::system_error, "cannot write " + tmp + ": " + errno_text(errno));
  }
  out.reset();
  // rename() is atomic: a client sees the whole file or none.
  if (::rename(tmp.c_str(), detail::kDaemonInfo) != 0) {
    return fail(Errc::system_error, std::string("cannot create ") + detail::kDaemonInfo + ": " + errno_text(errno));
  }
  return {};
}

}  // namespace detail

Result<std::vector<std::string>> remove_stale_bus() {
  std::vector<std::string> removed;
  const auto previous_daemon = detail::read_pid_file(detail::kDaemonLock);
  detail::FileLock lock;
  pid_t holder = 0;
  int error = 0;
  const auto outcome = detail::try_daemon_lock(lock, holder, error);
  if (!outcome) return tl::make_unexpected(outcome.error());
  switch (*outcome) {
    case detail::FileLock::Outcome::acquired: break;
    case detail::FileLock::Outcome::held_by_other:  // a daemon lives: only what ended nodes left
      detail::remove_dead_nodes(removed);
      detail::say_removed(removed, std::nullopt, /*nodes_only=*/true);
      return removed;
    case detail::FileLock::Outcome::failed:
      return fail(error == EACCES || error == EPERM ? Errc::not_permitted : Errc::system_error,
                  detail::lock_failure(detail::kDaemonLock, error));
  }
  if (detail::iceoryx_daemon_running()) {  // an iox-roudi: its files are not ours to remove
    detail::remove_dead_nodes(removed);
    detail::say_removed(removed, std::nullopt, /*nodes_only=*/true);
    return removed;
  }
  auto leftovers = detail::remove_leftovers();
  if (!leftovers) return tl::make_unexpected(leftovers.error());
  removed.insert(removed.end(), leftovers->begin(), leftovers->end());
  detail::say_removed(removed, previous_daemon);
  detail::remove_channel_types();
  lock.release(/*remove=*/true);
  ::rmdir(detail::kRunDir);  // only once empty
  return removed;
}

}  // namespace statebus
