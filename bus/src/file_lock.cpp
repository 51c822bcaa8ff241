#include "statebus/internal/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace statebus::detail {

FileLock::FileLock(FileLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

FileLock::~FileLock() { release(); }

FileLock::Outcome FileLock::try_acquire(const std::string& path, FileLock& lock, pid_t& holder, int& error) {
  // Loop: the file may be unlinked by its previous holder between our open()
  // and flock(); then we hold a lock on a name nobody sees, and must retry.
  for (int attempt = 0; attempt < 16; ++attempt) {
    // Created new (O_EXCL: never through a link planted in its place), or
    // the one there opened without following a link.
    bool created = true;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0660);
    if (fd < 0 && errno == EEXIST) {
      created = false;
      fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) continue;  // gone meanwhile: create it again
    }
    if (fd < 0) {
      error = errno;
      return Outcome::failed;
    }
    struct stat opened{};
    if (::fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode) || opened.st_nlink != 1) {
      error = EINVAL;  // a device, a fifo, or a hard link to some other file: not ours to write
      ::close(fd);
      return Outcome::failed;
    }
    if (created) ::fchmod(fd, 0660);  // the bus's user and group may take the name over, whatever the umask
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      error = errno;
      ::close(fd);
      if (error != EWOULDBLOCK) return Outcome::failed;
      holder = read_pid_file(path).value_or(0);
      return Outcome::held_by_other;
    }
    struct stat by_fd{};
    struct stat by_path{};
    if (::fstat(fd, &by_fd) == 0 && ::lstat(path.c_str(), &by_path) == 0 && by_fd.st_ino == by_path.st_ino &&
        by_fd.st_dev == by_path.st_dev) {
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        error = errno;
        ::close(fd);
        return Outcome::failed;
      }
      lock.release();
      lock.fd_ = fd;
      lock.path_ = path;
      return Outcome::acquired;
    }
    ::close(fd);
  }
  error = EAGAIN;
  return Outcome::failed;
}

void FileLock::release(bool remove) noexcept {
  if (fd_ < 0) return;
  if (remove) ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

std::string lock_failure(const std::string& path, int error) {
  struct stat st{};
  const std::string owner =
      ::lstat(path.c_str(), &st) == 0 ? " (its owner: uid " + std::to_string(st.st_uid) + ", gid " + std::to_string(st.st_gid) + ")" : "";
  switch (error) {
    case ELOOP:
      return "cannot lock " + path + ": it is a symbolic link" + owner +
             ", and statebus never writes through one (someone may be trying to make it overwrite another file): "
             "remove it";
    case EINVAL:
      return "cannot lock " + path + ": it is not a plain file of its own" + owner + ": remove it";
    case EACCES:
    case EPERM:
      return "cannot lock " + path + ": permission denied" + owner +
             ": it belongs to a user outside the bus's group, or the run directory is not the bus's";
    default: return "cannot lock " + path + ": " + std::string(std::strerror(error));
  }
}

std::optional<pid_t> read_pid_file(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (in >> pid && pid > 0) return static_cast<pid_t>(pid);
  return std::nullopt;
}

std::optional<pid_t> find_flock_holder(std::istream& locks, dev_t device, ino_t inode) {
  // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF": MAJOR:MINOR in hex, then the inode.
  std::string line;
  const std::string inode_text = ":" + std::to_string(inode);
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string id, kind, mode, access, pid, where;
    if (!(fields >> id >> kind)) continue;
    if (kind == "->") fields >> kind;  // a waiter; same layout after the arrow
    if (!(fields >> mode >> access >> pid >> where)) continue;
    if (where.size() <= inode_text.size() ||
        where.compare(where.size() - inode_text.size(), inode_text.size(), inode_text) != 0) {
      continue;
    }
    unsigned major_number = 0, minor_number = 0;
    if (std::sscanf(where.c_str(), "%x:%x:", &major_number, &minor_number) != 2) continue;
    if (major_number == major(device) && minor_number == minor(device)) return static_cast<pid_t>(std::stol(pid));
  }
  return std::nullopt;
}

std::optional<pid_t> flock_holder(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  std::ifstream locks("/proc/locks");
  return find_flock_holder(locks, st.st_dev, st.st_ino);
}

}  // namespace statebus::detail
