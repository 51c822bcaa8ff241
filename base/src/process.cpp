#include "statebus/base/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <array>
#include <cerrno>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace statebus {
namespace {

struct StatFields {
  char state = '?';
  std::uint64_t start_time = 0;
};

// /proc/<pid>/stat: "pid (comm) state ppid ... starttime(22nd field) ...".
// comm may hold spaces and parentheses, so parse from the last ')'.
std::optional<StatFields> read_stat(pid_t pid) noexcept {
  std::array<char, 64> path{};
  std::snprintf(path.data(), path.size(), "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path.data(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::array<char, 1024> buf{};
  const ssize_t n = ::read(fd, buf.data(), buf.size() - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  const char* close_paren = std::strrchr(buf.data(), ')');
  if (close_paren == nullptr || close_paren[1] == '\0') return std::nullopt;
  StatFields fields;
  const char* p = close_paren + 2;  // at the state field (field 3)
  fields.state = *p;
  // Skip from field 3 to field 22.
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return std::nullopt;
    ++p;
  }
  fields.start_time = std::strtoull(p, nullptr, 10);
  return fields;
}

}  // namespace

std::optional<std::uint64_t> process_start_time(pid_t pid) noexcept {
  if (pid <= 0) return std::nullopt;
  const auto fields = read_stat(pid);
  if (!fields || fields->state == 'Z' || fields->state == 'X') return std::nullopt;
  return fields->start_time;
}

namespace {
// Bumped in a forked child, so that it computes its own identity; no
// getpid() per call on hot paths (state stores record their writer).
std::atomic<unsigned> g_fork_generation{1};
const int g_fork_hook = ::pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1); });
}  // namespace

ProcessId this_process() noexcept {
  static thread_local ProcessId cached{};
  static thread_local unsigned generation = 0;
  const unsigned now = g_fork_generation.load(std::memory_order_relaxed);
  if (generation != now) {
    const pid_t pid = ::getpid();
    cached = ProcessId{pid, process_start_time(pid).value_or(0)};
    generation = now;
  }
  return cached;
}

std::optional<std::uint64_t> pid_namespace() noexcept {
  struct stat ns{};
  if (::stat("/proc/self/ns/pid", &ns) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(ns.st_ino);
}

Liveness liveness(const ProcessId& id) noexcept {
  if (id.pid <= 0) return Liveness::dead;
  // No /proc needed, nor a descriptor: ESRCH is the kernel's word that no
  // process has this pid (EPERM: one does, of another user).
  if (::kill(id.pid, 0) != 0 && errno == ESRCH) return Liveness::dead;
  const auto fields = read_stat(id.pid);
  if (!fields) return Liveness::unknown;
  if (fields->state == 'Z' || fields->state == 'X' || fields->start_time != id.start_time) return Liveness::dead;
  return Liveness::alive;
}

bool is_alive(const ProcessId& id) noexcept { return liveness(id) != Liveness::dead; }

}  // namespace statebus
