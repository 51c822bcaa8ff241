#include "homeassistant.hpp"

#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "topics.hpp"

namespace statebus::bridge_detail {
namespace {

using json = nlohmann::json;

constexpr const char* kVersion = STATEBUS_VERSION;  // the project's, from CMake

// Home Assistant takes ids of [A-Za-z0-9_-] only.
std::string entity_id(std::string_view text) {
  std::string id;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    id += ok ? c : '_';
  }
  return id;
}

bool is_number(FieldKind kind) { return kind >= FieldKind::int8 && kind <= FieldKind::float64; }
bool is_float(FieldKind kind) { return kind == FieldKind::float32 || kind == FieldKind::float64; }

// Home Assistant refuses an entity whose device class it does not know, so
// a declared quantity becomes one only where it is in these lists
// (home-assistant.io/integrations/sensor#device-class, …/number#device-class;
// their shared measurement classes).
bool is_measurement_class(const std::string& quantity) {
  static const std::set<std::string> known = {
      "apparent_power", "aqi", "atmospheric_pressure", "battery", "carbon_dioxide", "carbon_monoxide", "current",
      "data_rate", "data_size", "distance", "duration", "energy", "frequency", "gas", "humidity", "illuminance",
      "irradiance", "moisture", "monetary", "nitrogen_dioxide", "ozone", "ph", "pm1", "pm10", "pm25", "power",
      "power_factor", "precipitation", "precipitation_intensity", "pressure", "reactive_power", "signal_strength",
      "sound_pressure", "speed", "temperature", "volatile_organic_compounds", "voltage", "volume", "water", "weight",
      "wind_speed"};
  return known.count(quantity) != 0;
}

// What a field means: its declaration, or for an undeclared field named
// like a temperature, °C.
FieldInfo meaning(const FieldSchema& field) {
  FieldInfo info = field.info;
  if (info.unit.empty() && info.quantity.empty() && field.name.find("celsius") != std::string::npos) {
    info.unit = "°C";
    info.quantity = "temperature";
  }
  return info;
}

// `outside_celsius` → `Outside celsius`; `limits.low` → `Limits low`.
std::string readable(const std::string& path) {
  std::string text = path;
  for (char& c : text) c = (c == '_' || c == '.') ? ' ' : c;
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 'a' + 'A');
  return text;
}

// The lowest and highest value a field's kind holds, for a number entity
// whose field declares no range (Home Assistant's own default is 1…100).
std::pair<double, double> kind_limits(FieldKind kind) {
  switch (kind) {
    case FieldKind::int8: return {-128, 127};
    case FieldKind::uint8: return {0, 255};
    case FieldKind::int16: return {-32768, 32767};
    case FieldKind::uint16: return {0, 65535};
    case FieldKind::int32: return {-2147483648.0, 2147483647.0};
    case FieldKind::uint32: return {0, 4294967295.0};
    case FieldKind::uint64: return {0, 9007199254740991.0};  // exact in a double
    default: return {-9007199254740991.0, 9007199254740991.0};
  }
}

struct Leaf {
  std::string path;      ///< `celsius`, `limits.low`
  const FieldSchema* field;
};

void leaves(const std::vector<FieldSchema>& fields, const std::string& prefix, std::vector<Leaf>& out) {
  for (const FieldSchema& f : fields) {
    const std::string path = prefix.empty() ? f.name : prefix + "." + f.name;
    if (f.kind == FieldKind::structure && f.count == 0) {
      leaves(f.fields, path, out);
    } else if (f.count == 0 && f.kind != FieldKind::text && f.kind != FieldKind::structure) {
      out.push_back({path, &f});
    }
  }
}

// `value_json.value.limits.low`
std::string accessor(const std::string& path) { return "value_json.value." + path; }

// `{"limits":{"low":VALUE}}` with VALUE a template.
std::string write_template(const std::string& path, const std::string& value) {
  std::string head, tail;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = path.find('.', start);
    head += "{\"" + path.substr(start, dot == std::string::npos ? dot : dot - start) + "\":";
    tail += "}";
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return head + value + tail;
}

// What every entity's config has: its name and id, availability (the
// bridge's status, and `alive_topic` too unless empty), the device, the origin.
json common_config(const DiscoveryContext& context, const std::string& name, const std::string& id,
                   const std::string& alive_topic) {
  auto source = [](const std::string& topic) {
    return json{{"topic", topic}, {"payload_available", "online"}, {"payload_not_available", "offline"}};
  };
  json availability = json::array({source(status_topic(context.prefix, context.client_id))});
  // A channel's entities are available while a publisher offers it, too.
  if (!alive_topic.empty()) availability.push_back(source(alive_topic));
  return {
      {"name", name},
      {"unique_id", id},
      {"availability", availability},
      {"availability_mode", "all"},
      {"device",
       {{"identifiers", json::array({context.client_id})},
        {"name", "statebus " + context.prefix},
        {"manufacturer", "statebus"},
        {"model", "MQTT bridge"},
        {"sw_version", kVersion}}},
      {"origin", {{"name", "statebus"}, {"sw_version", kVersion}}},
  };
}

json base_config(const DiscoveryContext& context, std::string_view thing, const Leaf& leaf, const std::string& id,
                 const std::string& alive_topic) {
  std::string short_name(thing);
  if (const auto slash = short_name.rfind('/'); slash != std::string::npos) short_name = short_name.substr(slash + 1);
  const FieldInfo info = meaning(*leaf.field);
  json config = common_config(context, readable(short_name) + " " + (info.label.empty() ? readable(leaf.path) : info.label),
                              id, alive_topic);
  if (!info.unit.empty()) config["unit_of_measurement"] = info.unit;
  if (is_number(leaf.field->kind) && is_measurement_class(info.quantity)) config["device_class"] = info.quantity;
  return config;
}

DiscoveryMessage message(const DiscoveryContext& context, const std::string& component, const std::string& id,
                         json config) {
  config["default_entity_id"] = component + "." + id;
  return {context.ha_prefix + "/" + component + "/" + id + "/config", config.dump()};
}

// `{{ value_json.value.x }}`, or `None` (Home Assistant's "unknown") for a
// null: a float field that holds NaN is rendered as null, never a number.
std::string number_template(const std::string& value) {
  return "{% if " + value + " is number %}{{ " + value + " }}{% else %}None{% endif %}";
}

std::vector<DiscoveryMessage> discover(const DiscoveryContext& context, std::string_view thing, const Schema& schema,
                                       const std::string& state_topic, const std::string& set_topic,
                                       const std::string& alive_topic) {
  std::vector<Leaf> all;
  leaves(schema.fields, "", all);
  std::vector<DiscoveryMessage> out;
  for (const Leaf& leaf : all) {
    const std::string id = entity_id(context.client_id + "_" + std::string(thing) + "_" + leaf.path);
    json config = base_config(context, thing, leaf, id, alive_topic);
    config["state_topic"] = state_topic;
    const FieldKind kind = leaf.field->kind;
    const FieldInfo info = meaning(*leaf.field);
    const std::string value = accessor(leaf.path);
    if (kind == FieldKind::boolean) {
      config["value_template"] = "{{ 'ON' if " + value + " else 'OFF' }}";
      if (set_topic.empty()) {
        const std::string& n = leaf.field->name;
        if (n == "on" || (n.size() > 3 && n.compare(n.size() - 3, 3, "_on") == 0)) config["device_class"] = "running";
        out.push_back(message(context, "binary_sensor", id, config));
      } else {
        config["command_topic"] = set_topic;
        config["state_on"] = "ON";
        config["state_off"] = "OFF";
        config["payload_on"] = write_template(leaf.path, "true");
        config["payload_off"] = write_template(leaf.path, "false");
        out.push_back(message(context, "switch", id, config));
      }
    } else if (kind == FieldKind::enumeration) {
      config["value_template"] = "{{ " + value + " }}";
      json options = json::array();
      for (const auto& [number, name] : leaf.field->enumerators) options.push_back(name);
      if (set_topic.empty()) {
        if (!options.empty()) {  // Home Assistant's enum sensor: one of these states
          config["device_class"] = "enum";
          config["options"] = options;
        }
        out.push_back(message(context, "sensor", id, config));
      } else {
        config["options"] = options;
        config["command_topic"] = set_topic;
        config["command_template"] = write_template(leaf.path, "\"{{ value }}\"");
        out.push_back(message(context, "select", id, config));
      }
    } else if (is_number(kind)) {
      config["value_template"] = number_template(value);
      if (set_topic.empty()) {
        // A counter only grows; a measured quantity (a float, or one with a
        // unit) is a measurement; an index or number of nothing is neither.
        if (info.counter) {
          config["state_class"] = "total_increasing";
        } else if (is_float(kind) || !info.unit.empty() || !info.quantity.empty()) {
          config["state_class"] = "measurement";
        }
        out.push_back(message(context, "sensor", id, config));
      } else {
        const auto [low, high] = kind_limits(kind);
        config["command_topic"] = set_topic;
        config["command_template"] = write_template(leaf.path, "{{ value }}");
        config["mode"] = "box";
        config["min"] = info.min.value_or(low);
        config["max"] = info.max.value_or(high);
        config["step"] = info.step != 0 ? info.step : is_float(kind) ? 0.001 : 1;
        out.push_back(message(context, "number", id, config));
      }
    }
  }
  return out;
}

}  // namespace

std::vector<DiscoveryMessage> discover_channel(const DiscoveryContext& context, std::string_view channel,
                                               const Schema& schema) {
  return discover(context, channel, schema, channel_topic(context.prefix, channel), "",
                  alive_topic(context.prefix, channel));
}

std::vector<DiscoveryMessage> discover_cell(const DiscoveryContext& context, std::string_view cell, const Schema& schema,
                                            bool settable) {
  return discover(context, cell, schema, cell_topic(context.prefix, cell),
                  settable ? cell_set_topic(context.prefix, cell) : "", "");
}

const FieldSchema* find_field(const Schema& schema, std::string_view path) {
  const std::vector<FieldSchema>* scope = &schema.fields;
  const FieldSchema* found = nullptr;
  for (std::size_t start = 0;;) {
    const std::size_t dot = path.find('.', start);
    const std::string_view name = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    found = nullptr;
    for (const FieldSchema& f : *scope) found = f.name == name ? &f : found;
    if (found == nullptr || dot == std::string_view::npos) return found;
    scope = &found->fields;
    start = dot + 1;
  }
}

DiscoveryMessage discover_climate(const DiscoveryContext& context, const ClimateEntity& climate) {
  const std::string id = entity_id(context.client_id + "_climate_" + climate.name);
  const FieldInfo target = meaning(*climate.target.field);
  json config = common_config(context, readable(climate.name), id, "");
  config.update({
      {"current_temperature_topic", climate.current.topic},
      {"current_temperature_template", number_template(accessor(climate.current.path))},
      {"temperature_state_topic", climate.target.topic},
      {"temperature_state_template", number_template(accessor(climate.target.path))},
      {"temperature_command_topic", climate.set_topic},
      {"temperature_command_template", write_template(climate.target.path, "{{ value }}")},
      {"temperature_unit", target.unit == "°F" ? "F" : "C"},
  });
  if (target.min) config["min_temp"] = *target.min;
  if (target.max) config["max_temp"] = *target.max;
  if (target.step != 0) config["temp_step"] = target.step;
  // Home Assistant's modes are these words; an enum names its own.
  static const std::set<std::string> kModes = {"auto", "off", "cool", "heat", "dry", "fan_only", "heat_cool"};
  json modes = json::array();
  if (climate.mode.field != nullptr) {
    for (const auto& [number, name] : climate.mode.field->enumerators) {
      if (kModes.count(name) != 0) modes.push_back(name);
    }
    config["mode_state_topic"] = climate.mode.topic;
    config["mode_state_template"] = "{{ " + accessor(climate.mode.path) + " }}";
    config["mode_command_topic"] = climate.set_topic;
    config["mode_command_template"] = write_template(climate.mode.path, "\"{{ value }}\"");
  } else {
    modes.push_back("heat");  // a thermostat without a mode field only heats
  }
  config["modes"] = modes;
  if (!climate.action.topic.empty()) {
    config["action_topic"] = climate.action.topic;
    config["action_template"] = "{{ 'heating' if " + accessor(climate.action.path) + " else 'idle' }}";
  }
  config["default_entity_id"] = "climate." + id;
  return {context.ha_prefix + "/climate/" + id + "/config", config.dump()};
}

}  // namespace statebus::bridge_detail
