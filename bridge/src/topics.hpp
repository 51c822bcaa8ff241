#pragma once
// Where each thing of a bus goes on the broker (bridge/README.md, "Topics"),
// and which inbound topic is what.

#include <string>
#include <string_view>

namespace statebus::bridge_detail {

std::string channel_topic(const std::string& prefix, std::string_view channel);
std::string channel_schema_topic(const std::string& prefix, std::string_view channel);
std::string alive_topic(const std::string& prefix, std::string_view channel);
std::string cell_topic(const std::string& prefix, std::string_view cell);
std::string cell_schema_topic(const std::string& prefix, std::string_view cell);
std::string cell_set_topic(const std::string& prefix, std::string_view cell);
/// One bridge's availability: `online` or `offline` (its last will).
std::string status_topic(const std::string& prefix, std::string_view client_id);
std::string clock_topic(const std::string& prefix);

/// The MQTT filter that covers a channel pattern under `base` (`*` → `+`,
/// `**` → `#`; a filter may cover more than the pattern: match again).
std::string mqtt_filter(const std::string& base, std::string_view pattern);

enum class TopicKind { channel, channel_schema, cell, cell_schema, cell_set, other };
struct ParsedTopic {
  TopicKind kind = TopicKind::other;
  std::string name;  ///< the channel or cell
};
/// What an inbound topic under `prefix` is.
ParsedTopic parse_topic(const std::string& prefix, std::string_view topic);

}  // namespace statebus::bridge_detail
