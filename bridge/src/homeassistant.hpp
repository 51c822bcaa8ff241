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

/// One part of a climate entity: where its value is sent, and the field.
struct ClimatePart {
  std::string topic;              ///< the channel's or cell's state topic
  std::string path;               ///< the field in its value: `celsius`, `limits.low`
  const FieldSchema* field = nullptr;  ///< for the target and mode: their schema (range, step, enumerators)
};

/// A thermostat: the target (an owned, settable cell's field), the current
/// temperature, and optionally the mode (a field of the target's cell) and
/// the action (a bool: heating or idle).
struct ClimateEntity {
  std::string name;
  std::string set_topic;  ///< the target cell's `/set`
  ClimatePart target, current, mode, action;
};

/// The `climate` entity (home-assistant.io/integrations/climate.mqtt).
DiscoveryMessage discover_climate(const DiscoveryContext& context, const ClimateEntity& climate);

/// The field at `path` (`celsius`, `limits.low`) of `schema`, or nullptr.
const FieldSchema* find_field(const Schema& schema, std::string_view path);

}  // namespace statebus::bridge_detail
