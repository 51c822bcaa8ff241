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
/// both read as they should. A wait that hands back a value (take_for(),
/// the recorder's wait_for()) returns WaitedFor<T>: the value when ready,
/// else the same timed_out or failed.

#include <cstdint>
#include <optional>
#include <type_traits>
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
  [[nodiscard]] const Error& error() const& noexcept { return *error_; }
  [[nodiscard]] Error&& error() && noexcept { return std::move(*error_); }
  /// True only when ready.
  explicit operator bool() const noexcept { return status_ == Status::ready; }

 private:
  explicit Waited(Status status) noexcept : status_(status) {}
  explicit Waited(Error why) noexcept : status_(Status::failed), error_(std::move(why)) {}
  Status status_;
  std::optional<Error> error_;
};

/// How a wait that hands back a T ended: ready with the T, timed_out, or
/// failed with an Error. It tests true only when it holds the T, and reads
/// as an optional where one was used before:
///
///     if (auto sample = sub.take_for(1s)) use(sample->value());
///     auto hit = recorder.wait_for<Reading>("home/temp", hot, virtual_timeout(30s));
///     ASSERT_TRUE(hit) << to_string(hit.status());
template <class T>
class [[nodiscard]] WaitedFor {
 public:
  /// Timed out: nothing yet (as an empty optional).
  WaitedFor() noexcept = default;
  /// Ready, holding `value`.
  WaitedFor(T value) noexcept(std::is_nothrow_move_constructible_v<T>)  // NOLINT: implicit, as an optional's
      : value_(std::move(value)) {}
  /// How a wait without a value ended, for a wait built on one: timed_out
  /// or failed as `waited` is. A ready `waited` has no T to hold: it reads
  /// as timed_out.
  WaitedFor(Waited waited) noexcept  // NOLINT: implicit, so a failed Waited passes on as it is
      : error_(waited.failed() ? std::optional<Error>(std::move(waited).error()) : std::nullopt) {}
  static WaitedFor timed_out() noexcept { return WaitedFor(Waited::timed_out()); }
  static WaitedFor failed(Error why) noexcept { return WaitedFor(Waited::failed(std::move(why))); }

  [[nodiscard]] Waited::Status status() const noexcept {
    return value_ ? Waited::Status::ready : error_ ? Waited::Status::failed : Waited::Status::timed_out;
  }
  [[nodiscard]] bool is_ready() const noexcept { return value_.has_value(); }
  [[nodiscard]] bool has_value() const noexcept { return value_.has_value(); }
  [[nodiscard]] bool is_timed_out() const noexcept { return !value_ && !error_; }
  [[nodiscard]] bool failed() const noexcept { return error_.has_value(); }
  /// Why it failed; only when failed().
  [[nodiscard]] const Error& error() const noexcept { return *error_; }
  /// The status without the value (a copy of the error when failed).
  [[nodiscard]] Waited waited() const {
    return value_ ? Waited::ready() : error_ ? Waited::failed(*error_) : Waited::timed_out();
  }
  explicit operator bool() const noexcept { return value_.has_value(); }

  /// The value; only when ready (value() throws std::bad_optional_access otherwise).
  [[nodiscard]] T& operator*() & noexcept { return *value_; }
  [[nodiscard]] const T& operator*() const& noexcept { return *value_; }
  [[nodiscard]] T&& operator*() && noexcept { return std::move(*value_); }
  [[nodiscard]] T* operator->() noexcept { return &*value_; }
  [[nodiscard]] const T* operator->() const noexcept { return &*value_; }
  [[nodiscard]] T& value() & { return value_.value(); }
  [[nodiscard]] const T& value() const& { return value_.value(); }
  [[nodiscard]] T&& value() && { return std::move(value_.value()); }

 private:
  std::optional<T> value_;
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
