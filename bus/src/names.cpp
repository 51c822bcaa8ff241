#include "statebus/bus/names.hpp"

#include <algorithm>
#include <string>
#include <vector>

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

bool is_internal_channel(std::string_view channel) noexcept {
  for (std::size_t at = 0; at < channel.size(); ++at) {
    if (channel[at] == '_' && (at == 0 || channel[at - 1] == '/')) return true;
  }
  return false;
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

// ---------------------------------------------------------------- patterns

Result<ChannelPattern> ChannelPattern::parse(std::string_view text) {
  ChannelPattern out;
  out.text_ = std::string(text);
  if (text.empty()) return fail(Errc::invalid_argument, "a channel pattern is empty; give a channel name, `*` or `**`");
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = std::min(text.find('/', begin), text.size());
    std::string part(text.substr(begin, end - begin));
    if (part == "*" || part == "**") {
      out.exact_ = false;
    } else if (part.find('*') != std::string::npos) {
      return fail(Errc::invalid_argument, "channel pattern '" + out.text_ + "': part '" + part +
                                              "' mixes '*' with other characters; a wildcard is a whole part "
                                              "(`*`: any one part, `**`: any number of parts)");
    } else if (auto valid = validate_channel_name(part); !valid) {
      return fail(Errc::invalid_argument, "channel pattern '" + out.text_ + "': part '" + part +
                                              "' is not valid: " + valid.error().message());
    }
    out.parts_.push_back(std::move(part));
    if (end == text.size()) break;
    begin = end + 1;
  }
  const auto parts = std::count_if(out.parts_.begin(), out.parts_.end(), [](const std::string& p) { return p != "**"; });
  if (static_cast<std::size_t>(parts) > kMaxChannelParts) {
    return fail(Errc::invalid_argument, "channel pattern '" + out.text_ + "' has more than " +
                                            std::to_string(kMaxChannelParts) + " parts; no channel name can match it");
  }
  if (out.exact_) {
    if (auto valid = validate_channel_name(text); !valid) {
      return fail(Errc::invalid_argument, "channel pattern '" + out.text_ + "': " + valid.error().message());
    }
  }
  return out;
}

bool ChannelPattern::matches(std::string_view channel) const noexcept {
  if (exact_) return channel == text_;
  // The pattern positions reachable after each part of the name: O(pattern ×
  // name) whatever the wildcards (backtracking is exponential in `**`s).
  const std::size_t n = parts_.size();
  std::vector<char> now(n + 1, 0);
  std::vector<char> next(n + 1, 0);
  auto close_over_double_stars = [&](std::vector<char>& state) {
    for (std::size_t p = 0; p < n; ++p) {
      if (state[p] && parts_[p] == "**") state[p + 1] = 1;  // `**` may match no part at all
    }
  };
  now[0] = 1;
  close_over_double_stars(now);
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = std::min(channel.find('/', begin), channel.size());
    const std::string_view part = channel.substr(begin, end - begin);
    std::fill(next.begin(), next.end(), 0);
    for (std::size_t p = 0; p < n; ++p) {
      if (!now[p]) continue;
      if (parts_[p] == "**") {
        next[p] = 1;  // takes this part and may take more
      } else if (parts_[p] == "*" || parts_[p] == part) {
        next[p + 1] = 1;
      }
    }
    close_over_double_stars(next);
    now.swap(next);
    if (end == channel.size()) break;
    begin = end + 1;
  }
  return now[n] != 0;
}

}  // namespace statebus
