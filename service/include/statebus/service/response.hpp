#pragma once
/// CallResponse<Res>: a call's response read in place in shared memory, or
/// the CallError that says why there is none.

#include <optional>
#include <utility>

#include "statebus/bus/sample_header.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/service/call_error.hpp"

namespace statebus {
namespace detail {
template <class Value>
struct ReplyCodec;
}  // namespace detail

/// What Client::call returns: the response, read where the server wrote it
/// (no copy, whatever its size), or why there is none. It reads as the
/// expected it is: `if (answer) use(answer->field); else
/// log(answer.error().message());`. Move-only; a response holds a chunk of
/// the server's pool until it dies, so keep the value (`value()` copies
/// it) rather than the response. It belongs to its client's thread, as a
/// Sample to its subscriber's, and may outlive the Client.
template <class Res>
class [[nodiscard]] CallResponse {
 public:
  CallResponse(CallError error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  CallResponse(CallResponse&& other) noexcept
      : sample_(std::exchange(other.sample_, std::nullopt)), error_(std::move(other.error_)) {}
  CallResponse& operator=(CallResponse&& other) noexcept {
    if (this != &other) {
      sample_ = std::exchange(other.sample_, std::nullopt);
      error_ = std::move(other.error_);
    }
    return *this;
  }
  CallResponse(const CallResponse&) = delete;
  CallResponse& operator=(const CallResponse&) = delete;
  ~CallResponse() = default;

  [[nodiscard]] bool has_value() const noexcept { return sample_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }
  /// The response; only when has_value().
  const Res* operator->() const noexcept { return static_cast<const Res*>(static_cast<const void*>(sample_->data())); }
  const Res& operator*() const noexcept { return *operator->(); }
  const Res& value() const noexcept { return *operator->(); }
  /// Its header (the server's process, real and virtual time, reply_to); only when has_value().
  const SampleHeader& header() const noexcept { return sample_->header(); }
  /// Why there is no response; only when !has_value().
  [[nodiscard]] const CallError& error() const noexcept { return *error_; }

 private:
  friend struct detail::ReplyCodec<CallResponse<Res>>;
  explicit CallResponse(BytesSample sample) noexcept : sample_(std::move(sample)) {}
  std::optional<BytesSample> sample_;
  std::optional<CallError> error_;
};

}  // namespace statebus
