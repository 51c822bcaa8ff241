#include "statebus/service/discovery.hpp"

#include <chrono>
#include <map>
#include <string_view>

#include "statebus/bus/discovery.hpp"
#include "statebus/internal/file_lock.hpp"
#include "statebus/internal/paths.hpp"
#include "statebus/service/detail/service_wire.hpp"

namespace statebus {
namespace {

constexpr std::string_view kCall = "/_call";
constexpr std::string_view kRefused = "/_refused";  // the server's: a service nobody calls yet

bool ends_with(std::string_view text, std::string_view end) {
  return text.size() >= end.size() && text.substr(text.size() - end.size()) == end;
}

}  // namespace

Result<std::vector<ServiceInfo>> list_services(const Node& node) {
  auto channels = list_channels(node, std::chrono::milliseconds(1000));
  if (!channels) return tl::make_unexpected(std::move(channels.error()));
  return services_of(node, *channels);
}

std::vector<ServiceInfo> services_of(const Node& node, const std::vector<ChannelInfo>& channels) {
  std::map<std::string, ServiceInfo> services;
  for (const ChannelInfo& channel : channels) {
    if (ends_with(channel.name, kRefused)) services[channel.name.substr(0, channel.name.size() - kRefused.size())];
    if (!ends_with(channel.name, kCall)) continue;
    ServiceInfo& info = services[channel.name.substr(0, channel.name.size() - kCall.size())];
    if (channel.schema) info.request_type = channel.schema->name;
  }
  std::vector<ServiceInfo> out;
  for (auto& [name, info] : services) {
    info.name = name;
    if (info.request_type.empty()) {
      if (auto request = fetch_schema(node, name + std::string(kCall), std::chrono::milliseconds(0))) {
        info.request_type = request->name;
      }
    }
    if (auto response = fetch_schema(node, name + "/_reply", std::chrono::milliseconds(0))) {
      info.response_type = response->name;
    }
    const std::string claim = detail::service_lock_path(name);
    info.server = detail::flock_holder(claim);  // the kernel's word, not the file's
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace statebus
