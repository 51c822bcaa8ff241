#pragma once
/// Reply<Res>: what a server's handler returns, a response or a refusal.

#include <optional>
#include <string>
#include <utility>

namespace statebus {

/// A handler's refusal of a call; the call fails as refused, with
/// `reason` as the message. Make one with refuse("…").
struct Refusal {
  std::string reason;
};

/// Refuses the call being handled: `return refuse("at most 120 minutes");`.
inline Refusal refuse(std::string reason) { return Refusal{std::move(reason)}; }

/// The response to a call, or a refusal. A handler returns a Res (which
/// converts) or refuse("why").
template <class Res>
class Reply {
 public:
  // One copy of the response into the reply (a by-value parameter made two).
  Reply(const Res& response) : response_(response) {}        // NOLINT(google-explicit-constructor): `return Res{…};`
  Reply(Res&& response) : response_(std::move(response)) {}  // NOLINT(google-explicit-constructor)
  Reply(Refusal refusal) : refusal_(std::move(refusal.reason)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool refused() const noexcept { return !response_.has_value(); }
  /// The response; only when not refused().
  [[nodiscard]] const Res& response() const noexcept { return *response_; }
  /// Why it was refused; only when refused().
  [[nodiscard]] const std::string& reason() const noexcept { return refusal_; }

 private:
  std::optional<Res> response_;
  std::string refusal_;
};

/// What a handler that writes its response in place returns: nothing (the
/// response it wrote is sent: `return {};`) or refuse("why") (nothing is
/// sent but the refusal).
template <>
class Reply<void> {
 public:
  Reply() = default;
  Reply(Refusal refusal)
      : refused_(true), refusal_(std::move(refusal.reason)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool refused() const noexcept { return refused_; }
  [[nodiscard]] const std::string& reason() const noexcept { return refusal_; }

 private:
  bool refused_ = false;
  std::string refusal_;
};

}  // namespace statebus
