#pragma once
/// Waited: how a wait that hands nothing back ended.
///
/// Every wait in statebus ends one of three ways, and the type says which:
/// ready (what it waited for is there), timed_out (the time given ran out:
/// not an error), or failed (it can never come: an Error says why, e.g.
/// Errc::no_daemon once the bus is gone). It tests true only when ready, so
///
///     if (sub.wait(1s)) take_all();
///     auto waited = sub.wait(1s);
///     if (waited.failed()) return restart(waited.error());
///
/// both read as they should. Waits that hand back a value return
/// std::optional<T> (nothing: timed out) or Result<T>.

#include <cstdint>
#include <optional>
#include <utility>

#include "statebus/base/error.hpp"

namespace statebus {

class [[nodiscard]] Waited {
 public:
  enum class Status : std::uint8_t { ready, timed_out, failed };

  static Waited ready() noexcept { return Waited(Status::ready); }
  static Waited timed_out() noexcept { return Waited(Status::timed_out); }
  static Waited failed(Error why) noexcept { return Waited(std::move(why)); }
  /// ready if `ready`, else timed_out: for waits that cannot fail.
  static Waited ready_if(bool ready) noexcept { return Waited(ready ? Status::ready : Status::timed_out); }

  [[nodiscard]] Status status() const noexcept { return status_; }
  [[nodiscard]] bool is_ready() const noexcept { return status_ == Status::ready; }
  [[nodiscard]] bool is_timed_out() const noexcept { return status_ == Status::timed_out; }
  [[nodiscard]] bool failed() const noexcept { return status_ == Status::failed; }
  /// Why it failed; only when failed().
  [[nodiscard]] const Error& error() const noexcept { return *error_; }
  /// True only when ready.
  explicit operator bool() const noexcept { return status_ == Status::ready; }

 private:
  explicit Waited(Status status) noexcept : status_(status) {}
  explicit Waited(Error why) noexcept : status_(Status::failed), error_(std::move(why)) {}
  Status status_;
  std::optional<Error> error_;
};

/// "ready", "timed_out", "failed": for messages and tests.
constexpr const char* to_string(Waited::Status status) noexcept {
  switch (status) {
    case Waited::Status::ready: return "ready";
    case Waited::Status::timed_out: return "timed_out";
    case Waited::Status::failed: return "failed";
  }
  return "unknown";
}

}  // namespace statebus
