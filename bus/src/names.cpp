#include "statebus/bus/names.hpp"

#include <string>

namespace statebus {
namespace {

constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
constexpr bool is_name_char(char c) noexcept { return is_alnum(c) || c == '_' || c == '-'; }

std::string quoted(std::string_view s) {
  constexpr std::size_t kShown = 80;
  std::string out = "'";
  out += s.substr(0, kShown);
  if (s.size() > kShown) out += "…";
  out += "'";
  return out;
}

std::string describe_char(char c) {
  if (c >= 0x20 && c < 0x7f) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned char>(c));
  return buf;
}

}  // namespace

Result<void> validate_node_name(std::string_view name) {
  if (name.empty()) {
    return fail(Errc::invalid_argument, "node name is empty: give the process a name such as 'heating'");
  }
  if (name.size() > kMaxNodeNameLength) {
    return fail(Errc::invalid_argument, "node name " + quoted(name) + " has " + std::to_string(name.size()) +
                                            " characters; at most " + std::to_string(kMaxNodeNameLength) +
                                            " are allowed");
  }
  if (!is_alnum(name.front())) {
    return fail(Errc::invalid_argument,
                "node name " + quoted(name) + " must start with a letter or digit");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i])) {
      return fail(Errc::invalid_argument, "node name " + quoted(name) + " has " + describe_char(name[i]) +
                                              " at position " + std::to_string(i) +
                                              "; use letters, digits, '_' and '-'");
    }
  }
  return {};
}

Result<void> validate_channel_name(std::string_view name) {
  if (name.empty()) {
    return fail(Errc::invalid_argument,
                "channel name is empty: use parts separated by '/', such as 'home/sensor/temperature'");
  }
  std::size_t parts = 0;
  std::size_t part_start = 0;
  std::size_t event_start = std::string_view::npos;  // the third part on is iceoryx's "event"
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '/') {
      if (i == part_start) {
        return fail(Errc::invalid_argument, "channel name " + quoted(name) + " has an empty part at position " +
                                                std::to_string(i) +
                                                " (leading, trailing or doubled '/')");
      }
      const std::size_t length = i - part_start;
      ++parts;
      if (parts <= 2 && length > kMaxIceoryxIdLength) {
        return fail(Errc::invalid_argument,
                    "channel name " + quoted(name) + ": part " + std::to_string(parts) + " has " +
                        std::to_string(length) + " characters; at most " +
                        std::to_string(kMaxIceoryxIdLength) + " are allowed");
      }
      if (parts == 3) event_start = part_start;
      part_start = i + 1;
      continue;
    }
    if (!is_name_char(name[i])) {
      return fail(Errc::invalid_argument, "channel name " + quoted(name) + " has " + describe_char(name[i]) +
                                              " at position " + std::to_string(i) +
                                              "; use letters, digits, '_', '-' and '/' between parts");
    }
  }
  const std::string_view first = name.substr(0, name.find('/'));
  if (first == "Introspection" || first == "ServiceDiscovery") {
    return fail(Errc::invalid_argument, "channel name " + quoted(name) + " starts with '" + std::string(first) +
                                            "', which iceoryx keeps for its own channels");
  }
  if (parts > kMaxChannelParts) {
    return fail(Errc::invalid_argument, "channel name " + quoted(name) + " has " + std::to_string(parts) +
                                            " parts; at most " + std::to_string(kMaxChannelParts) +
                                            " are allowed");
  }
  if (event_start != std::string_view::npos && name.size() - event_start > kMaxEventLength) {
    return fail(Errc::invalid_argument,
                "channel name " + quoted(name) + ": parts 3 and on have " +
                    std::to_string(name.size() - event_start) + " characters together; at most " +
                    std::to_string(kMaxEventLength) + " are allowed");
  }
  return {};
}

}  // namespace statebus
