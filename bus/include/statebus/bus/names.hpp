#pragma once
/// Validation of node and channel names, before iceoryx sees them.

#include <cstddef>
#include <string>
#include <string_view>

#include "statebus/base/error.hpp"

namespace statebus {

/// Longest node (process) name.
inline constexpr std::size_t kMaxNodeNameLength = 64;
/// Most parts in a channel name (`home/sensor/temperature` has three).
inline constexpr std::size_t kMaxChannelParts = 8;
/// Longest of iceoryx's service and instance strings (parts 1 and 2).
inline constexpr std::size_t kMaxIceoryxIdLength = 100;
/// Longest event string (parts 3 and on): iceoryx's 100, less 10 that statebus
/// keeps for the companion channel that carries a channel's schema.
inline constexpr std::size_t kMaxEventLength = 90;

/// Checks a node name: 1–64 of [A-Za-z0-9_-], first a letter or digit.
/// Thread-safe, no allocation on success.
Result<void> validate_node_name(std::string_view name);

/// Checks a channel name: 1–8 non-empty parts of [A-Za-z0-9_-] separated by
/// '/', mapped onto iceoryx's service/instance/event strings: parts 1 and 2
/// within 100 characters each, parts 3 and on within 90 together. Thread-safe, no allocation on success.
Result<void> validate_channel_name(std::string_view name);

}  // namespace statebus
