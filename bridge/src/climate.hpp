#pragma once
// Home Assistant thermostats (`--ha-climate`): the option's text, and the
// climate entity it makes once its target cell is known.

#include <functional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "homeassistant.hpp"
#include "statebus/bridge/mqtt.hpp"

namespace statebus::bridge_detail {

/// `home/setpoint.celsius` → {`home/setpoint`, `celsius`} (names hold no '.').
std::pair<std::string, std::string> split_field(std::string_view text);

/// The entity for `climate`, whose target cell is `target_schema` (sent on
/// `prefix`); `is_cell(name)` says whether a name is a cell (else a
/// channel). Fails with the reason when a field is missing or of the wrong kind.
tl::expected<ClimateEntity, std::string> resolve_climate(const MqttClimate& climate, const std::string& prefix,
                                                         const Schema& target_schema,
                                                         const std::function<bool(const std::string&)>& is_cell);

}  // namespace statebus::bridge_detail
