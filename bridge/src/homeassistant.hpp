#pragma once
// Home Assistant MQTT discovery: one entity per number, boolean and enum
// field of a bridged channel or cell (per home-assistant.io's discovery
// schema), all on one device: the bridge.

#include <string>
#include <string_view>
#include <vector>

#include "statebus/base/schema.hpp"

namespace statebus::bridge_detail {

struct DiscoveryMessage {
  std::string topic;    ///< `<ha prefix>/<component>/<unique id>/config`
  std::string payload;  ///< JSON, sent retained
};

struct DiscoveryContext {
  std::string ha_prefix;  ///< `homeassistant` by default
  std::string prefix;     ///< the bridge's topic prefix
  std::string client_id;  ///< the device's identifier
};

/// Read-only entities (sensor, binary_sensor) for a channel's fields.
std::vector<DiscoveryMessage> discover_channel(const DiscoveryContext& context, std::string_view channel,
                                               const Schema& schema);
/// Entities for a cell's fields; `settable`: number, switch and select that
/// write through the cell's `/set` topic.
std::vector<DiscoveryMessage> discover_cell(const DiscoveryContext& context, std::string_view cell, const Schema& schema,
                                            bool settable);

}  // namespace statebus::bridge_detail
