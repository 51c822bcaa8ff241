#pragma once
/// Node and channel names: their validation before iceoryx sees them, and
/// channel patterns (`home/*`, `**`) that match channel names.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "statebus/base/error.hpp"

namespace statebus {

/// Longest node (process) name.
inline constexpr std::size_t kMaxNodeNameLength = 64;
/// Most parts in a channel name (`home/sensor/temperature` has three).
inline constexpr std::size_t kMaxChannelParts = 8;
/// Longest of iceoryx's service and instance strings (parts 1 and 2).
inline constexpr std::size_t kMaxIceoryxIdLength = 100;
/// Longest event string (parts 3 and on together), iceoryx's limit.
inline constexpr std::size_t kMaxEventLength = 100;

/// Checks a node name: 1–64 of [A-Za-z0-9_-], first a letter or digit.
/// Fails with Errc::invalid_argument saying which rule the name breaks.
/// Thread-safe, no allocation on success.
Result<void> validate_node_name(std::string_view name);

/// Checks a channel name: 1–8 non-empty parts of [A-Za-z0-9_-] separated by
/// '/', mapped onto iceoryx's service/instance/event strings: parts 1 and 2
/// within 100 characters each, parts 3 and on within 100 together. Fails
/// with Errc::invalid_argument saying which rule the name breaks.
/// Thread-safe, no allocation on success.
Result<void> validate_channel_name(std::string_view name);

/// True if a part of `channel` starts with '_': a channel a library keeps
/// for itself (a service's `S/_call`, `S/_reply/…`, `S/_refused`), which
/// tools that carry channels elsewhere (the MQTT bridge) leave alone.
bool is_internal_channel(std::string_view channel) noexcept;

/// A channel name whose parts may be `*` (any one part) or `**` (any number
/// of parts, none included): `home/actuator/*`, `home/**`, `**`. The
/// recorder, replay and the MQTT bridge choose their channels with them.
class ChannelPattern {
 public:
  /// Fails with Errc::invalid_argument, naming the part and the rule, for a pattern
  /// that is not a channel name with wildcards.
  static Result<ChannelPattern> parse(std::string_view text);
  /// True if `channel` matches the pattern.
  [[nodiscard]] bool matches(std::string_view channel) const noexcept;
  /// True if the pattern has no wildcard: it names one channel.
  [[nodiscard]] bool exact() const noexcept { return exact_; }
  /// The pattern as parsed.
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
  std::vector<std::string> parts_;
  bool exact_ = true;
};

}  // namespace statebus
