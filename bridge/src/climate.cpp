#include "climate.hpp"

#include "statebus/bus/names.hpp"
#include "topics.hpp"

namespace statebus {
namespace {

Error bad_climate(std::string_view text, const std::string& why) {
  return Error(Errc::invalid_argument,
               "--ha-climate '" + std::string(text) + "': " + why +
                   " (give NAME:target=CELL.FIELD,current=NAME.FIELD[,mode=CELL.FIELD][,action=NAME.FIELD])");
}

bool is_number(FieldKind kind) { return kind >= FieldKind::int8 && kind <= FieldKind::float64; }

}  // namespace

Result<MqttClimate> parse_mqtt_climate(std::string_view text) {
  MqttClimate climate;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return tl::make_unexpected(bad_climate(text, "no NAME: first"));
  climate.name = std::string(text.substr(0, colon));
  for (const char c : climate.name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return tl::make_unexpected(bad_climate(text, "the name takes A-Z a-z 0-9 _ - only"));
  }
  std::string_view rest = text.substr(colon + 1);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto equals = part.find('=');
    if (equals == std::string_view::npos) return tl::make_unexpected(bad_climate(text, "'" + std::string(part) + "' is not KEY=NAME.FIELD"));
    const std::string key(part.substr(0, equals));
    const std::string value(part.substr(equals + 1));
    const auto [name, field] = bridge_detail::split_field(value);
    if (field.empty()) return tl::make_unexpected(bad_climate(text, key + "=" + value + " names no field after '.'"));
    if (auto valid = validate_channel_name(name); !valid) return tl::make_unexpected(bad_climate(text, valid.error().message()));
    std::string* slot = key == "target"    ? &climate.target
                        : key == "current" ? &climate.current
                        : key == "mode"    ? &climate.mode
                        : key == "action"  ? &climate.action
                                           : nullptr;
    if (slot == nullptr) return tl::make_unexpected(bad_climate(text, "unknown key '" + key + "'"));
    *slot = value;
  }
  if (climate.target.empty() || climate.current.empty()) {
    return tl::make_unexpected(bad_climate(text, "target= and current= are both needed"));
  }
  if (!climate.mode.empty() && bridge_detail::split_field(climate.mode).first != bridge_detail::split_field(climate.target).first) {
    return tl::make_unexpected(bad_climate(text, "mode= must be a field of the target's cell"));
  }
  return climate;
}

namespace bridge_detail {

std::pair<std::string, std::string> split_field(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return {std::string(text), ""};
  return {std::string(text.substr(0, dot)), std::string(text.substr(dot + 1))};
}

tl::expected<ClimateEntity, std::string> resolve_climate(const MqttClimate& climate, const std::string& prefix,
                                                         const Schema& target_schema,
                                                         const std::function<bool(const std::string&)>& is_cell) {
  auto part = [&](const std::string& text) {
    const auto [name, path] = split_field(text);
    return ClimatePart{is_cell(name) ? cell_topic(prefix, name) : channel_topic(prefix, name), path, nullptr};
  };
  ClimateEntity entity;
  entity.name = climate.name;
  const auto [cell, target_path] = split_field(climate.target);
  entity.set_topic = cell_set_topic(prefix, cell);
  entity.target = {cell_topic(prefix, cell), target_path, find_field(target_schema, target_path)};
  if (entity.target.field == nullptr || !is_number(entity.target.field->kind) || entity.target.field->count != 0) {
    return tl::make_unexpected("the target " + climate.target + " is not a number field of " + target_schema.name);
  }
  entity.current = part(climate.current);
  if (!climate.mode.empty()) {
    const std::string mode_path = split_field(climate.mode).second;
    entity.mode = {entity.target.topic, mode_path, find_field(target_schema, mode_path)};
    if (entity.mode.field == nullptr || entity.mode.field->kind != FieldKind::enumeration) {
      return tl::make_unexpected("the mode " + climate.mode + " is not an enum field of " + target_schema.name);
    }
  }
  if (!climate.action.empty()) entity.action = part(climate.action);
  return entity;
}

}  // namespace bridge_detail
}  // namespace statebus
