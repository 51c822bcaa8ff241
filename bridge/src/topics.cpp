#include "topics.hpp"

namespace statebus::bridge_detail {
namespace {
bool starts_with(std::string_view text, std::string_view head) { return text.substr(0, head.size()) == head; }
bool ends_with(std::string_view text, std::string_view tail) {
  return text.size() >= tail.size() && text.substr(text.size() - tail.size()) == tail;
}
}  // namespace

std::string channel_topic(const std::string& prefix, std::string_view channel) { return prefix + "/" + std::string(channel); }
std::string channel_schema_topic(const std::string& prefix, std::string_view channel) {
  return prefix + "/$schema/" + std::string(channel);
}
std::string alive_topic(const std::string& prefix, std::string_view channel) { return prefix + "/$alive/" + std::string(channel); }
std::string cell_topic(const std::string& prefix, std::string_view cell) { return prefix + "/state/" + std::string(cell); }
std::string cell_schema_topic(const std::string& prefix, std::string_view cell) {
  return prefix + "/$schema/state/" + std::string(cell);
}
std::string cell_set_topic(const std::string& prefix, std::string_view cell) { return cell_topic(prefix, cell) + "/set"; }
std::string status_topic(const std::string& prefix, std::string_view client_id) {
  return prefix + "/$status/" + std::string(client_id);
}
std::string clock_topic(const std::string& prefix) { return prefix + "/$clock"; }

std::string mqtt_filter(const std::string& base, std::string_view pattern) {
  std::string filter = base;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = pattern.find('/', start);
    const std::string_view part = pattern.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (part == "**") return filter + "/#";  // MQTT's # must come last; the rest is matched again
    filter += "/";
    filter += part == "*" ? std::string_view("+") : part;
    if (slash == std::string_view::npos) return filter;
    start = slash + 1;
  }
}

ParsedTopic parse_topic(const std::string& prefix, std::string_view topic) {
  if (!starts_with(topic, prefix) || topic.size() <= prefix.size() + 1 || topic[prefix.size()] != '/') return {};
  std::string_view rest = topic.substr(prefix.size() + 1);
  if (starts_with(rest, "$schema/state/")) return {TopicKind::cell_schema, std::string(rest.substr(14))};
  if (starts_with(rest, "$schema/")) return {TopicKind::channel_schema, std::string(rest.substr(8))};
  if (starts_with(rest, "$")) return {};
  if (starts_with(rest, "state/")) {
    rest.remove_prefix(6);
    if (ends_with(rest, "/set")) return {TopicKind::cell_set, std::string(rest.substr(0, rest.size() - 4))};
    return {TopicKind::cell, std::string(rest)};
  }
  if (rest == "status") return {};
  return {TopicKind::channel, std::string(rest)};
}

}  // namespace statebus::bridge_detail
