#include "statebus/internal/channel_types.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "statebus/internal/file_lock.hpp"
#include "statebus/internal/paths.hpp"

namespace statebus::detail {
namespace {

constexpr auto kLockPatience = std::chrono::seconds(2);  // a frozen holder of the folder's lock
constexpr std::size_t kMaxEncodedName = 200;              // file names stay under NAME_MAX (255)

std::string types_dir() { return std::string(kRunDir) + "/types"; }

std::string errno_text(int error) { return std::strerror(error); }

// A file name for the channel: '/' (the only character of channel names a
// file name cannot hold) as '+', and a long name cut and made unique by its
// hash. The file's first line holds the channel's full name.
std::string encoded(std::string_view channel) {
  std::string out(channel);
  for (char& c : out) c = c == '/' ? '+' : c;
  if (out.size() <= kMaxEncodedName) return out;
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (const char c : channel) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return out.substr(0, kMaxEncodedName - 17) + "~" + fingerprint_hex(hash);
}

std::string file_name(std::string_view channel, std::uint64_t fingerprint) {
  return encoded(channel) + "@" + fingerprint_hex(fingerprint);
}

// The folder, created if missing (the bus's group may use it, whatever the
// umask), opened without following a link; -1 and errno on failure.
int open_types_dir() {
  const std::string path = types_dir();
  if (::mkdir(path.c_str(), 02770) == 0) ::chmod(path.c_str(), 02770);
  return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

// The folder's lock, held for one claim, release or read.
class TableLock {
 public:
  static Result<TableLock> take() {
    const int fd = open_types_dir();
    if (fd < 0) {
      const int error = errno;
      return fail(error == EACCES || error == EPERM ? Errc::not_permitted : Errc::system_error,
                  "cannot open the bus's table of channel types " + types_dir() + ": " + errno_text(error) +
                      (error == ELOOP ? " (it is a symbolic link: remove it)" : ""));
    }
    const auto deadline = std::chrono::steady_clock::now() + kLockPatience;
    auto pause = std::chrono::microseconds(50);
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        const int error = errno;
        ::close(fd);
        return fail(Errc::system_error, "cannot lock " + types_dir() + ": " + errno_text(error));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ::close(fd);
        const auto holder = flock_holder(types_dir());
        return fail(Errc::timeout, "the bus's table of channel types (" + types_dir() + ") stayed locked for " +
                                       std::to_string(kLockPatience.count()) + " s" +
                                       (holder ? " by pid " + std::to_string(*holder) : std::string()) +
                                       ": a process stopped in the middle of creating a port; resume or end it");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(5000));
    }
    return TableLock(fd);
  }
  TableLock(TableLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  TableLock& operator=(TableLock&&) = delete;
  ~TableLock() {
    if (fd_ >= 0) ::close(fd_);  // closing drops the flock
  }
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  explicit TableLock(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

// Opens a file of the table without following a link; a file that is not a
// plain file of its own is refused (-1, errno EINVAL).
int open_entry(int dir, const std::string& name, int flags) {
  const int fd = ::openat(dir, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, 0660);
  if (fd < 0) return -1;
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
    ::close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

std::optional<Schema> read_entry(int fd, std::string_view channel) {
  std::string text;
  char buffer[4096];
  for (off_t at = 0;;) {
    const ssize_t got = ::pread(fd, buffer, sizeof buffer, at);
    if (got <= 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
    at += got;
  }
  const auto newline = text.find('\n');
  if (newline == std::string::npos || std::string_view(text).substr(0, newline) != channel) return std::nullopt;
  auto schema = Schema::from_json(std::string_view(text).substr(newline + 1));
  if (!schema) return std::nullopt;
  return std::move(*schema);
}

// True when a process holds the entry open with its lock; false when none
// does (the kernel dropped the lock of every holder that died).
bool held(int fd) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
    return false;
  }
  return true;
}

struct Entry {
  std::string name;
  std::uint64_t fingerprint = 0;
};

// The names of the table's files (not "." and "..").
std::vector<std::string> file_names(int dir) {
  std::vector<std::string> names;
  const int copy = ::dup(dir);
  if (copy < 0) return names;
  DIR* listing = ::fdopendir(copy);
  if (listing == nullptr) {
    ::close(copy);
    return names;
  }
  ::rewinddir(listing);
  while (const dirent* item = ::readdir(listing)) {
    if (item->d_name[0] != '.') names.emplace_back(item->d_name);
  }
  ::closedir(listing);
  return names;
}

// The table's files for `channel`.
std::vector<Entry> entries_of(int dir, std::string_view channel) {
  std::vector<Entry> out;
  const std::string prefix = encoded(channel) + "@";
  for (const std::string& name : file_names(dir)) {
    if (name.size() != prefix.size() + 16 || name.compare(0, prefix.size(), prefix) != 0) continue;
    char* end = nullptr;
    const std::string hex = name.substr(prefix.size());
    const std::uint64_t fingerprint = std::strtoull(hex.c_str(), &end, 16);
    if (end == nullptr || *end != '\0') continue;
    out.push_back({name, fingerprint});
  }
  return out;
}

std::mutex g_claims_mutex;
std::map<std::string, std::weak_ptr<TypeClaim>>& claims() {
  static auto* map = new std::map<std::string, std::weak_ptr<TypeClaim>>();  // outlives static destructors
  return *map;
}

}  // namespace

class TypeClaim {
 public:
  TypeClaim(std::string key, std::string name, int fd) noexcept
      : key_(std::move(key)), name_(std::move(name)), fd_(fd) {}
  TypeClaim(const TypeClaim&) = delete;
  TypeClaim& operator=(const TypeClaim&) = delete;
  ~TypeClaim() {
    {
      std::lock_guard<std::mutex> guard(g_claims_mutex);
      auto found = claims().find(key_);
      if (found != claims().end() && found->second.expired()) claims().erase(found);
    }
    // The file stays, unheld: the type's schema for samples still on their
    // way (a recorder names them by it). A claim of another type on the
    // channel, or the next daemon's start, removes it.
    ::close(fd_);
  }

 private:
  std::string key_;
  std::string name_;
  int fd_;
};

Result<std::shared_ptr<const TypeClaim>> claim_channel_type(std::string_view channel, const Schema& schema,
                                                            std::string_view role) {
  std::string key = std::string(channel) + '\0' + fingerprint_hex(schema.fingerprint);
  std::lock_guard<std::mutex> guard(g_claims_mutex);  // one claim per type and process
  if (auto found = claims().find(key); found != claims().end()) {
    if (auto existing = found->second.lock()) return std::shared_ptr<const TypeClaim>(std::move(existing));
  }

  auto table = TableLock::take();
  if (!table) return tl::make_unexpected(table.error());
  // Another type in use refuses this one; one nobody holds any more is removed.
  for (const Entry& other : entries_of(table->fd(), channel)) {
    if (other.fingerprint == schema.fingerprint) continue;
    const int fd = open_entry(table->fd(), other.name, O_RDONLY);
    if (fd < 0) continue;
    if (!held(fd)) {
      ::unlinkat(table->fd(), other.name.c_str(), 0);
      ::close(fd);
      continue;
    }
    const auto theirs = read_entry(fd, channel);
    ::close(fd);
    const auto holder = flock_holder(types_dir() + "/" + other.name);
    return fail(Errc::type_mismatch,
                "channel '" + std::string(channel) + "' carries " +
                    (theirs ? "'" + theirs->name + "'" : std::string("another type")) + " (fingerprint " +
                    fingerprint_hex(other.fingerprint) + ")" +
                    (holder ? ", used by pid " + std::to_string(*holder) : std::string()) + ", so a " +
                    std::string(role) + " of '" + schema.name + "' (fingerprint " +
                    fingerprint_hex(schema.fingerprint) +
                    ") is refused: use one message type per channel, or end the ports of the other type first");
  }

  const std::string name = file_name(channel, schema.fingerprint);
  int fd = open_entry(table->fd(), name, O_RDWR | O_CREAT);
  if (fd < 0) {
    const int error = errno;
    return fail(error == EACCES || error == EPERM ? Errc::not_permitted : Errc::system_error,
                "cannot use " + types_dir() + "/" + name + ": " + errno_text(error) +
                    (error == EINVAL ? " (not a plain file of its own: remove it)" : ""));
  }
  struct stat st{};
  if (::fstat(fd, &st) == 0 && st.st_size == 0) {  // new: the schema, written under the folder's lock
    ::fchmod(fd, 0660);
    const std::string text = std::string(channel) + "\n" + schema.to_json();
    if (::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      const int error = errno;
      ::unlinkat(table->fd(), name.c_str(), 0);
      ::close(fd);
      return fail(Errc::system_error, "cannot write " + types_dir() + "/" + name + ": " + errno_text(error));
    }
  }
  if (::flock(fd, LOCK_SH) != 0) {
    const int error = errno;
    ::close(fd);
    return fail(Errc::system_error, "cannot lock " + types_dir() + "/" + name + ": " + errno_text(error));
  }
  auto claim = std::make_shared<TypeClaim>(key, name, fd);
  claims()[key] = claim;
  return std::shared_ptr<const TypeClaim>(std::move(claim));
}

namespace {

// Where a channel's type is declared: under its own name, or for a
// service's reply channel `S/_reply/<client>` (one per client) under
// `S/_reply`, where its server declares it once (service/README.md).
std::string_view declared_under(std::string_view channel) {
  constexpr std::string_view kReply = "/_reply/";
  const auto at = channel.rfind(kReply);
  if (at == std::string_view::npos || at + kReply.size() == channel.size()) return channel;
  for (const char c : channel.substr(at + kReply.size())) {
    if (c < '0' || c > '9') return channel;
  }
  return channel.substr(0, at + kReply.size() - 1);
}

}  // namespace

Result<std::optional<Schema>> channel_type(std::string_view channel) {
  auto table = TableLock::take();
  if (!table) return tl::make_unexpected(table.error());
  for (const std::string_view name : {channel, declared_under(channel)}) {
    for (const Entry& entry : entries_of(table->fd(), name)) {
      const int fd = open_entry(table->fd(), entry.name, O_RDONLY);
      if (fd < 0) continue;
      std::optional<Schema> schema;
      if (held(fd)) schema = read_entry(fd, name);
      ::close(fd);
      if (schema) return schema;
    }
  }
  return std::optional<Schema>();
}

void sweep_channel_types() {
  auto table = TableLock::take();
  if (!table) return;
  for (const std::string& name : file_names(table->fd())) {
    const int fd = open_entry(table->fd(), name, O_RDONLY);
    if (fd < 0) continue;
    if (!held(fd)) ::unlinkat(table->fd(), name.c_str(), 0);
    ::close(fd);
  }
}

void remove_channel_types() {
  struct stat st{};
  if (::lstat(types_dir().c_str(), &st) != 0) return;  // never made: nothing to sweep
  sweep_channel_types();
  ::rmdir(types_dir().c_str());  // only once empty
}

std::optional<Schema> known_channel_type(std::string_view channel, std::uint64_t fingerprint) {
  auto table = TableLock::take();
  if (!table) return std::nullopt;
  for (const std::string_view name : {channel, declared_under(channel)}) {
    const int fd = open_entry(table->fd(), file_name(name, fingerprint), O_RDONLY);
    if (fd < 0) continue;
    std::optional<Schema> schema = read_entry(fd, name);
    ::close(fd);
    if (schema) return schema;
  }
  return std::nullopt;
}

}  // namespace statebus::detail
