#pragma once
/// One bus segment a process maps for good (the clock's, the state cells'):
/// its data for lock-free readers, kept mapped until the process ends so
/// that no pointer into it ever dangles, and the identity of its file for
/// bus_health(). Internal: not installed.

#include <atomic>
#include <cstdint>
#include <mutex>

#include "statebus/base/error.hpp"
#include "statebus/internal/shared_segment.hpp"

namespace statebus::detail {

/// T is the segment's data as it starts the segment. attach() and create()
/// replace an earlier mapping (a process that joins a new bus); the old one
/// stays mapped. Thread-safe; get() is lock-free. Constant-initialised (a
/// constexpr constructor, no member that needs a constructor to run), so a
/// global one is usable from other globals' constructors and destructors.
template <class T>
class BusSegment {
 public:
  constexpr BusSegment(const char* name, const SharedSegment::Layout& layout) noexcept : name_(name), layout_(layout) {}

  /// The data, or null before attach() or create().
  [[nodiscard]] T* get() const noexcept { return data_.load(std::memory_order_acquire); }

  /// Maps the segment its daemon created (checked as SharedSegment::open does).
  Result<T*> attach() {
    auto segment = SharedSegment::open(name_, layout_);
    if (!segment) return tl::make_unexpected(segment.error());
    std::lock_guard<std::mutex> guard(mutex_);
    return keep(*segment, static_cast<T*>(segment->data()));
  }
  /// The data, attaching on first use (once, whatever the threads).
  Result<T*> attached() {
    if (T* data = get()) return data;
    std::lock_guard<std::mutex> guard(mutex_);
    if (T* data = get()) return data;
    auto segment = SharedSegment::open(name_, layout_);
    if (!segment) return tl::make_unexpected(segment.error());
    return keep(*segment, static_cast<T*>(segment->data()));
  }
  /// Creates it (the daemon): `init(bytes)` builds T at the start of the
  /// zero-filled data and returns Result<void>; readers are let in (ready)
  /// only after it succeeded.
  template <class Init>
  Result<T*> create(Init&& init) {
    auto segment = SharedSegment::create(name_, layout_);
    if (!segment) return tl::make_unexpected(segment.error());
    if (auto made = init(segment->data()); !made) return tl::make_unexpected(made.error());
    segment->publish_ready();
    std::lock_guard<std::mutex> guard(mutex_);
    return keep(*segment, static_cast<T*>(segment->data()));
  }

  /// Fails with no_daemon or stale_bus once the file mapped is no longer the
  /// bus's (SharedSegment::still_current); fine before any mapping.
  [[nodiscard]] Result<void> still_current(const char* what) const {
    if (get() == nullptr) return {};
    return SharedSegment::still_current(name_, identity_.load(std::memory_order_relaxed), what);
  }
  void unlink() const noexcept { SharedSegment::unlink(name_); }

 private:
  // Under mutex_.
  T* keep(SharedSegment& segment, T* data) noexcept {
    identity_.store(segment.identity(), std::memory_order_relaxed);
    segment.keep_mapped();
    data_.store(data, std::memory_order_release);
    return data;
  }

  const char* name_;  // a string literal
  SharedSegment::Layout layout_;
  std::atomic<T*> data_{nullptr};
  std::atomic<std::uint64_t> identity_{0};
  std::mutex mutex_;
};

}  // namespace statebus::detail
