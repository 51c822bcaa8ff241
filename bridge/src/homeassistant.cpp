#include "homeassistant.hpp"

#include <nlohmann/json.hpp>

#include "topics.hpp"

namespace statebus::bridge_detail {
namespace {

using json = nlohmann::json;

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
bool is_temperature(const std::string& name) { return name.find("celsius") != std::string::npos; }

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

json base_config(const DiscoveryContext& context, std::string_view thing, const Leaf& leaf, const std::string& id) {
  std::string short_name(thing);
  if (const auto slash = short_name.rfind('/'); slash != std::string::npos) short_name = short_name.substr(slash + 1);
  json config = {
      {"name", short_name + " " + leaf.path},
      {"unique_id", id},
      {"availability_topic", status_topic(context.prefix, context.client_id)},
      {"payload_available", "online"},
      {"payload_not_available", "offline"},
      {"device",
       {{"identifiers", json::array({context.client_id})},
        {"name", "statebus " + context.prefix},
        {"manufacturer", "statebus"},
        {"model", "MQTT bridge"}}},
  };
  if (is_temperature(leaf.field->name)) {
    config["device_class"] = "temperature";
    config["unit_of_measurement"] = "°C";
  }
  return config;
}

DiscoveryMessage message(const DiscoveryContext& context, const std::string& component, const std::string& id,
                         json config) {
  config["default_entity_id"] = component + "." + id;
  return {context.ha_prefix + "/" + component + "/" + id + "/config", config.dump()};
}

std::vector<DiscoveryMessage> discover(const DiscoveryContext& context, std::string_view thing, const Schema& schema,
                                       const std::string& state_topic, const std::string& set_topic) {
  std::vector<Leaf> all;
  leaves(schema.fields, "", all);
  std::vector<DiscoveryMessage> out;
  for (const Leaf& leaf : all) {
    const std::string id = entity_id(context.client_id + "_" + std::string(thing) + "_" + leaf.path);
    json config = base_config(context, thing, leaf, id);
    config["state_topic"] = state_topic;
    const FieldKind kind = leaf.field->kind;
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
      if (set_topic.empty()) {
        out.push_back(message(context, "sensor", id, config));
      } else {
        json options = json::array();
        for (const auto& [number, name] : leaf.field->enumerators) options.push_back(name);
        config["options"] = options;
        config["command_topic"] = set_topic;
        config["command_template"] = write_template(leaf.path, "\"{{ value }}\"");
        out.push_back(message(context, "select", id, config));
      }
    } else if (is_number(kind)) {
      config["value_template"] = "{{ " + value + " }}";
      if (set_topic.empty()) {
        config["state_class"] = "measurement";
        out.push_back(message(context, "sensor", id, config));
      } else {
        const bool temperature = is_temperature(leaf.field->name);
        config["command_topic"] = set_topic;
        config["command_template"] = write_template(leaf.path, "{{ value }}");
        config["mode"] = "box";
        config["min"] = temperature ? 5 : -1000000;
        config["max"] = temperature ? 35 : 1000000;
        config["step"] = temperature ? 0.5 : is_float(kind) ? 0.001 : 1;
        out.push_back(message(context, "number", id, config));
      }
    }
  }
  return out;
}

}  // namespace

std::vector<DiscoveryMessage> discover_channel(const DiscoveryContext& context, std::string_view channel,
                                               const Schema& schema) {
  return discover(context, channel, schema, channel_topic(context.prefix, channel), "");
}

std::vector<DiscoveryMessage> discover_cell(const DiscoveryContext& context, std::string_view cell, const Schema& schema,
                                            bool settable) {
  return discover(context, cell, schema, cell_topic(context.prefix, cell),
                  settable ? cell_set_topic(context.prefix, cell) : "");
}

}  // namespace statebus::bridge_detail
