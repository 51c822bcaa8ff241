#pragma once
// An exclusive flock on a file that records its holder's pid. The kernel
// drops the lock when the holder dies, so a crash never leaves it stuck.
// The file lives in a directory others may write to (the run directory):
// it is never opened through a symbolic link (O_NOFOLLOW), and one that is
// not a regular file of one link, or not of the bus's group, is refused
// instead of written.

#include <sys/types.h>

#include <istream>
#include <optional>
#include <string>

namespace statebus::detail {

class FileLock {
 public:
  enum class Outcome { acquired, held_by_other, failed };

  FileLock() = default;
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  /// Tries to lock `path` (created if missing, read-write for its user and
  /// group whatever the umask) without blocking and, on success, writes this
  /// process's pid into it. `holder` gets the pid of the process holding it
  /// when held_by_other; `error` the errno on failed (ELOOP: a symbolic
  /// link; EINVAL: not a regular file of one link).
  static Outcome try_acquire(const std::string& path, FileLock& lock, pid_t& holder, int& error);

  /// Releases the lock; with `remove`, deletes the file first (while locked,
  /// so no other process can have locked the same file in between).
  void release(bool remove = false) noexcept;
  [[nodiscard]] bool held() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
  std::string path_;
};

/// What to tell a user whose lock of `path` failed with `error`
/// (try_acquire's): what is wrong with the file, whose it is, what to do.
std::string lock_failure(const std::string& path, int error);

/// The pid a lock file records, if any.
std::optional<pid_t> read_pid_file(const std::string& path);

/// The pid holding a flock on `path` according to /proc/locks, if any.
std::optional<pid_t> flock_holder(const std::string& path);
/// The holder of a flock on the file (`device`, `inode`) in `locks`, text as
/// /proc/locks has it. That file lists every lock of the machine: each
/// private /tmp is a tmpfs of its own, where inode numbers repeat, so the
/// device must match as well as the inode.
std::optional<pid_t> find_flock_holder(std::istream& locks, dev_t device, ino_t inode);

}  // namespace statebus::detail
