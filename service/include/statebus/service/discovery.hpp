#pragma once
/// What services are on the bus, and who serves them.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/bus/node.hpp"

namespace statebus {

/// One service as the bus shows it.
struct ServiceInfo {
  std::string name;
  std::string request_type;   ///< its calls' type name ("" if no typed port declared one)
  std::string response_type;  ///< its replies' ("" when no server declared one since the daemon started)
  /// The process serving it, from the service's claim (the kernel holds it
  /// while that process lives); nothing if no server runs.
  std::optional<pid_t> server;
};

/// Every service with a port on the bus (a server, or clients waiting for
/// one), sorted by name. Blocks up to about a second for the daemon's port
/// list; fails as list_channels does.
Result<std::vector<ServiceInfo>> list_services(const Node& node);
/// The services among `channels` (as list_channels gave them, with their
/// schemas), sorted by name.
std::vector<ServiceInfo> services_of(const Node& node, const std::vector<ChannelInfo>& channels);

}  // namespace statebus
