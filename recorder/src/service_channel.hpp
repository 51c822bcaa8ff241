#pragma once
// A service's channels as the recorder names them: `S/_call`,
// `S/_reply/<client port>`, `S/_refused` (service/README.md). A recorder
// asked for `S` by its exact name records these too; the calls view
// (calls.cpp) reads a reply channel's client port from its name. Internal
// to recorder/src; plain string work, no bus.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace statebus::detail {

/// Which of a service's channels `channel` is.
enum class ServiceChannelKind { call, reply, refused };

struct ServiceChannelName {
  std::string_view service;
  ServiceChannelKind kind;
  std::uint64_t client_port = 0;  ///< a reply channel's client (its request port)
};

/// `channel` read as a channel of some service, or nothing: `S/_call`,
/// `S/_refused`, or `S/_reply/<decimal port>` with S not empty.
inline std::optional<ServiceChannelName> parse_service_channel(std::string_view channel) {
  const auto tail = [&](std::string_view suffix) -> std::optional<std::string_view> {
    if (channel.size() <= suffix.size() || channel.substr(channel.size() - suffix.size()) != suffix)
      return std::nullopt;
    return channel.substr(0, channel.size() - suffix.size());
  };
  if (auto service = tail("/_call")) return ServiceChannelName{*service, ServiceChannelKind::call};
  if (auto service = tail("/_refused")) return ServiceChannelName{*service, ServiceChannelKind::refused};
  constexpr std::string_view kReply = "/_reply/";
  const auto at = channel.rfind(kReply);
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  const std::string_view digits = channel.substr(at + kReply.size());
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  std::uint64_t port = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (port > (UINT64_MAX - digit) / 10) return std::nullopt;
    port = port * 10 + digit;
  }
  return ServiceChannelName{channel.substr(0, at), ServiceChannelKind::reply, port};
}

/// True if `channel` is one of the channels of service `service`.
inline bool is_channel_of_service(std::string_view service, std::string_view channel) {
  const auto parsed = parse_service_channel(channel);
  return parsed && parsed->service == service;
}

}  // namespace statebus::detail
