#include "statebus/internal/shared_segment.hpp"

#include "statebus/internal/bus_access.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include "statebus/base/process.hpp"

namespace statebus {
namespace {

std::string path_of(const std::string& name) { return "/dev/shm/" + name; }

}  // namespace

Result<SharedSegment> SharedSegment::create(const std::string& name, const Layout& layout) {
  const std::size_t size = 64 + layout.data_size;
  ::shm_unlink(("/" + name).c_str());  // a stale one: its creator is gone (the caller holds the daemon lock)
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, detail::kBusFileMode);
  if (fd < 0 && errno == EEXIST) {
    // Another user's, in sticky /dev/shm: neither removable nor ours to use.
    struct stat st{};
    const std::string owner =
        ::lstat(path_of(name).c_str(), &st) == 0 ? detail::user_name(st.st_uid) : std::string("another user");
    return fail(Errc::not_permitted, "cannot create " + path_of(name) + ": a file of " + owner +
                                         " is there, which the daemon may not replace; remove it as that user or "
                                         "root (sudo rm " + path_of(name) + ") and start again");
  }
  if (fd < 0) return fail(Errc::system_error, "cannot create " + path_of(name) + ": " + errno_text(errno));
  ::fchmod(fd, detail::kBusFileMode);  // the daemon's user and group, as iceoryx's segments (whatever the umask)
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int error = errno;
    ::close(fd);
    ::shm_unlink(("/" + name).c_str());
    return fail(error == ENOSPC ? Errc::out_of_resources : Errc::system_error,
                "cannot size " + path_of(name) + ": " + errno_text(error));
  }
  // Its pages are taken now: a process touching one later never meets a
  // full /dev/shm (SIGBUS).
  if (const int error = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); error != 0 && error != EOPNOTSUPP) {
    ::close(fd);
    ::shm_unlink(("/" + name).c_str());
    return fail(error == ENOSPC ? Errc::out_of_resources : Errc::system_error,
                "cannot reserve " + std::to_string(size) + " bytes for " + path_of(name) + ": " + errno_text(error) +
                    (error == ENOSPC ? " (make /dev/shm larger, or free room in it)" : ""));
  }
  struct stat st{};
  const std::uint64_t identity = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return fail(Errc::system_error, "cannot map " + path_of(name) + ": " + errno_text(errno));
  auto* header = new (base) SegmentHeader();
  header->magic = layout.magic;
  header->major = layout.major;
  header->minor = layout.minor;
  header->header_size = 64;
  header->total_size = size;
  const ProcessId self = this_process();
  header->creator_pid = self.pid;
  header->creator_start_time = self.start_time;
  return SharedSegment(base, size, identity);
}

Result<SharedSegment> SharedSegment::open(const std::string& name, const Layout& layout) {
  const std::string path = path_of(name);
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EACCES) return tl::make_unexpected(detail::not_in_bus_group(path));
    if (errno == ENOENT) {
      return fail(Errc::no_daemon, std::string("no ") + layout.what + " (" + path +
                                       "): start the bus with `statebus daemon`");
    }
    return fail(Errc::system_error, "cannot open " + path + ": " + errno_text(errno));
  }
  struct stat st{};
  const std::size_t expected = 64 + layout.data_size;
  if (::fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < 64) {
    ::close(fd);
    return fail(Errc::invalid_argument, path + " is truncated (" + std::to_string(st.st_size) +
                                            " bytes): remove it, or restart `statebus daemon`, which replaces it");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return fail(Errc::system_error, "cannot map " + path + ": " + errno_text(errno));
  SharedSegment segment(base, size, static_cast<std::uint64_t>(st.st_ino));
  const SegmentHeader& h = segment.header();
  if (h.magic != layout.magic) {
    return fail(Errc::invalid_argument, path + " is not a statebus " + layout.what +
                                            " (foreign magic): remove it or stop whatever created it");
  }
  if (h.major != layout.major) {
    return fail(Errc::invalid_argument, path + " has layout version " + std::to_string(h.major) + "." +
                                            std::to_string(h.minor) + ", this program reads " +
                                            std::to_string(layout.major) + ".x: run the same statebus version");
  }
  if (h.total_size != size || size < expected) {
    return fail(Errc::invalid_argument, path + " is truncated (" + std::to_string(size) + " of " +
                                            std::to_string(expected) + " bytes): restart `statebus daemon`");
  }
  if (h.ready.load(std::memory_order_acquire) != 1) {
    return fail(Errc::invalid_argument, path + " is not initialised (its creator, pid " +
                                            std::to_string(h.creator_pid) + ", died while creating it?)");
  }
  if (!is_alive({h.creator_pid, h.creator_start_time})) {
    return fail(Errc::stale_bus, path + " is stale: its daemon (pid " + std::to_string(h.creator_pid) +
                                     ") has ended; start `statebus daemon`, which replaces it");
  }
  return segment;
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), size_(other.size_), identity_(other.identity_) {}

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, size_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = other.size_;
    identity_ = other.identity_;
  }
  return *this;
}

SharedSegment::~SharedSegment() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

void SharedSegment::unlink(const std::string& name) noexcept { ::shm_unlink(("/" + name).c_str()); }

Result<void> SharedSegment::still_current(const std::string& name, std::uint64_t identity, const char* what) {
  struct stat st{};
  if (::stat(path_of(name).c_str(), &st) != 0) {
    return fail(Errc::no_daemon, std::string("the bus's ") + what + " this process uses was removed (" + path_of(name) +
                                     "): its daemon stopped or died; this process lost the bus: restart it once a "
                                     "daemon runs again");
  }
  if (static_cast<std::uint64_t>(st.st_ino) != identity) {
    return fail(Errc::stale_bus, std::string("the bus's ") + what + " this process uses (" + path_of(name) +
                                     ") was replaced by a new daemon's; this process is still on the old bus: "
                                     "restart it to join the new one");
  }
  return {};
}

}  // namespace statebus
