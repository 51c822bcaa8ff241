#pragma once
/// A POSIX shared-memory segment that statebus owns, with the header every
/// such segment starts with: magic, layout version, size, creator identity,
/// a ready word stored last. Openers check all of it before trusting a byte.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "statebus/base/error.hpp"

namespace statebus {

/// The first 64 bytes of every statebus-owned segment.
struct SegmentHeader {
  std::uint64_t magic = 0;
  std::uint16_t major = 0;  ///< layout version: openers refuse another major
  std::uint16_t minor = 0;
  std::uint32_t header_size = 0;
  std::uint64_t total_size = 0;
  std::int32_t creator_pid = 0;
  std::uint32_t reserved = 0;
  std::uint64_t creator_start_time = 0;
  std::atomic<std::uint64_t> heartbeat{0};
  std::atomic<std::uint32_t> ready{0};  ///< 1 once the creator initialised everything (release)
};
static_assert(sizeof(SegmentHeader) <= 64, "the header takes one cache line");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// A mapped segment. Move-only; unmaps on destruction (never unlinks).
class SharedSegment {
 public:
  /// What an opener checks.
  struct Layout {
    std::uint64_t magic;
    std::uint16_t major;
    std::uint16_t minor;
    std::size_t data_size;  ///< bytes after the 64-byte header
    const char* what;       ///< for messages: "clock segment"
  };

  /// Creates /dev/shm/<name> (replacing a stale one), zero-filled, header
  /// written; call publish_ready() once the data is initialised.
  static Result<SharedSegment> create(const std::string& name, const Layout& layout);
  /// Maps an existing segment after checking it: fails with no_daemon
  /// (missing), invalid_argument (foreign, other major version, truncated,
  /// not ready) or no_daemon (creator dead: stale), saying which.
  static Result<SharedSegment> open(const std::string& name, const Layout& layout);

  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&& other) noexcept;
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;
  ~SharedSegment();

  [[nodiscard]] SegmentHeader& header() const noexcept { return *static_cast<SegmentHeader*>(base_); }
  [[nodiscard]] void* data() const noexcept { return static_cast<char*>(base_) + 64; }
  /// Marks the segment initialised (store-release of the ready word).
  void publish_ready() noexcept { header().ready.store(1, std::memory_order_release); }
  /// Leaves the mapping in place for the life of the process (for segments
  /// that lock-free readers may still touch at exit).
  void keep_mapped() noexcept { base_ = nullptr; }
  /// Removes /dev/shm/<name>; processes that mapped it keep their mapping.
  static void unlink(const std::string& name) noexcept;

  /// Which file this is (its inode): a segment removed and created again by
  /// a new daemon is another file under the same name.
  [[nodiscard]] std::uint64_t identity() const noexcept { return identity_; }
  /// Fails with `no_daemon`, saying so, once /dev/shm/<name> is no longer the
  /// file `identity` names: its daemon stopped, died or was replaced, and a
  /// process still on it is split from the bus. One stat() call.
  static Result<void> still_current(const std::string& name, std::uint64_t identity, const char* what);

 private:
  SharedSegment(void* base, std::size_t size, std::uint64_t identity) noexcept
      : base_(base), size_(size), identity_(identity) {}
  void* base_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t identity_ = 0;
};

}  // namespace statebus
