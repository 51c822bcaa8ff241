// Home Assistant discovery for the heating demo's types, checked against the
// configuration keys Home Assistant documents for each MQTT component
// (home-assistant.io/integrations/<component>.mqtt, "Configuration
// Variables"; the keys statebus may send, not every key there is).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "climate.hpp"
#include "home/messages.hpp"
#include "homeassistant.hpp"

namespace {

using nlohmann::json;
using namespace statebus::bridge_detail;

// Keys every MQTT entity takes.
const std::set<std::string> kCommon = {"availability", "availability_mode", "availability_template",
                                       "availability_topic", "default_entity_id", "device", "enabled_by_default",
                                       "encoding", "entity_category", "icon", "json_attributes_template",
                                       "json_attributes_topic", "name", "object_id", "origin", "payload_available",
                                       "payload_not_available", "platform", "qos", "unique_id"};

// Each component's own keys. Laid out by hand: clang-format would give each
// key of the climate's list a line of its own.
// clang-format off
const std::map<std::string, std::set<std::string>> kDocumented = {
    {"sensor",
     {"device_class", "expire_after", "force_update", "last_reset_value_template", "options", "state_class",
      "state_topic", "suggested_display_precision", "unit_of_measurement", "value_template"}},
    {"binary_sensor",
     {"device_class", "expire_after", "force_update", "off_delay", "payload_off", "payload_on", "state_topic",
      "value_template"}},
    {"number",
     {"command_template", "command_topic", "device_class", "max", "min", "mode", "optimistic", "payload_reset",
      "retain", "state_topic", "step", "unit_of_measurement", "value_template"}},
    {"switch",
     {"command_template", "command_topic", "device_class", "optimistic", "payload_off", "payload_on", "retain",
      "state_off", "state_on", "state_topic", "value_template"}},
    {"select",
     {"command_template", "command_topic", "optimistic", "options", "retain", "state_topic", "value_template"}},
    {"climate",
     {"action_template", "action_topic", "current_temperature_template", "current_temperature_topic", "max_temp",
      "min_temp", "mode_command_template", "mode_command_topic", "mode_state_template", "mode_state_topic", "modes",
      "optimistic", "precision", "retain", "temp_step", "temperature_command_template", "temperature_command_topic",
      "temperature_state_template", "temperature_state_topic", "temperature_unit"}},
};
// clang-format on

const std::set<std::string> kDeviceKeys = {"identifiers", "name", "manufacturer", "model", "sw_version",
                                           "hw_version", "configuration_url", "connections", "suggested_area",
                                           "via_device", "serial_number", "model_id"};
const std::set<std::string> kOriginKeys = {"name", "sw_version", "support_url"};
const std::set<std::string> kAvailabilityKeys = {"topic", "payload_available", "payload_not_available",
                                                 "value_template"};

const DiscoveryContext kContext{"homeassistant", "house1", "A"};

// Every payload only uses documented keys; the configs by entity id.
std::map<std::string, json> check(const std::vector<DiscoveryMessage>& messages) {
  std::map<std::string, json> by_id;
  for (const DiscoveryMessage& m : messages) {
    const std::string component = m.topic.substr(kContext.ha_prefix.size() + 1, m.topic.find('/', 14) - 14);
    const auto documented = kDocumented.find(component);
    EXPECT_NE(documented, kDocumented.end()) << m.topic;
    if (documented == kDocumented.end()) continue;
    const json config = json::parse(m.payload);
    for (const auto& [key, value] : config.items()) {
      EXPECT_TRUE(kCommon.count(key) != 0 || documented->second.count(key) != 0)
          << component << " has no documented key '" << key << "' (" << m.topic << ")";
    }
    for (const auto& [key, value] : config["device"].items()) EXPECT_TRUE(kDeviceKeys.count(key)) << key;
    for (const auto& [key, value] : config["origin"].items()) EXPECT_TRUE(kOriginKeys.count(key)) << key;
    EXPECT_TRUE(config["origin"].contains("name"));
    for (const json& source : config["availability"]) {
      for (const auto& [key, value] : source.items()) EXPECT_TRUE(kAvailabilityKeys.count(key)) << key;
    }
    EXPECT_EQ(m.topic, kContext.ha_prefix + "/" + component + "/" + config["unique_id"].get<std::string>() + "/config");
    by_id[config["unique_id"].get<std::string>()] = config;
  }
  return by_id;
}

TEST(HomeAssistantDiscovery, ChannelSensorsTakeUnitsClassesAndStateClassesFromTheSchema) {
  auto configs = check(discover_channel(kContext, "home/sensor/temperature",
                                        statebus::schema_of<home::TemperatureReading>()));
  ASSERT_EQ(configs.size(), 4U);
  const json& room = configs.at("A_home_sensor_temperature_celsius");
  EXPECT_EQ(room["name"], "Temperature Room");  // the declared label
  EXPECT_EQ(room["unit_of_measurement"], "°C");
  EXPECT_EQ(room["device_class"], "temperature");
  EXPECT_EQ(room["state_class"], "measurement");
  // NaN arrives as null: Home Assistant gets None (unknown), never "null" as a number.
  EXPECT_NE(room["value_template"].get<std::string>().find("is number"), std::string::npos);
  const json& index = configs.at("A_home_sensor_temperature_index");
  EXPECT_EQ(index["state_class"], "total_increasing");  // declared a counter
  EXPECT_FALSE(index.contains("unit_of_measurement"));
  // Available while the bridge is online and a publisher offers the channel.
  ASSERT_EQ(room["availability"].size(), 2U);
  EXPECT_EQ(room["availability"][0]["topic"], "house1/$status/A");
  EXPECT_EQ(room["availability"][1]["topic"], "house1/$alive/home/sensor/temperature");
  EXPECT_EQ(room["availability_mode"], "all");
  EXPECT_EQ(configs.at("A_home_sensor_temperature_heater_on")["device_class"], "running");
}

TEST(HomeAssistantDiscovery, CountersAreTotalsAndIndicesAreNeither) {
  auto configs =
      check(discover_cell(kContext, "home/heating/status", statebus::schema_of<home::HeatingStatus>(), false));
  EXPECT_EQ(configs.at("A_home_heating_status_switches")["state_class"], "total_increasing");
  EXPECT_EQ(configs.at("A_home_heating_status_decisions")["state_class"], "total_increasing");
  EXPECT_FALSE(configs.at("A_home_heating_status_last_reading").contains("state_class"));
  EXPECT_EQ(configs.at("A_home_heating_status_celsius")["state_class"], "measurement");
  EXPECT_EQ(configs.at("A_home_heating_status_switches")["name"], "Status Switches");
}

TEST(HomeAssistantDiscovery, ASettableCellOffersTheDeclaredRangeAndStep) {
  auto configs = check(discover_cell(kContext, "home/setpoint", statebus::schema_of<home::Setpoint>(), true));
  const json& target = configs.at("A_home_setpoint_celsius");
  EXPECT_EQ(target["min"], 5.0);
  EXPECT_EQ(target["max"], 30.0);
  EXPECT_EQ(target["step"], 0.5);
  EXPECT_EQ(target["unit_of_measurement"], "°C");
  EXPECT_EQ(target["command_topic"], "house1/state/home/setpoint/set");
  const json& band = configs.at("A_home_setpoint_band");
  EXPECT_EQ(band["min"], 0.1);
  EXPECT_EQ(band["max"], 5.0);
  EXPECT_EQ(configs.at("A_home_setpoint_mode")["options"], json::array({"off", "heat"}));
}

TEST(HomeAssistantDiscovery, TheHeatingIsAThermostat) {
  auto climate = statebus::parse_mqtt_climate(
      "heating:target=home/setpoint.celsius,current=home/sensor/temperature.celsius,mode=home/setpoint.mode,"
      "action=home/heating/status.heater_on");
  ASSERT_TRUE(climate) << climate.error().message();
  auto entity = resolve_climate(*climate, "house1", statebus::schema_of<home::Setpoint>(),
                                [](const std::string& name) { return name == "home/heating/status"; });
  ASSERT_TRUE(entity) << entity.error();
  auto configs = check({discover_climate(kContext, *entity)});
  const json& c = configs.at("A_climate_heating");
  EXPECT_EQ(c["min_temp"], 5.0);
  EXPECT_EQ(c["max_temp"], 30.0);
  EXPECT_EQ(c["temp_step"], 0.5);
  EXPECT_EQ(c["temperature_unit"], "C");
  EXPECT_EQ(c["modes"], json::array({"off", "heat"}));
  EXPECT_EQ(c["current_temperature_topic"], "house1/home/sensor/temperature");  // a channel
  EXPECT_EQ(c["action_topic"], "house1/state/home/heating/status");             // a cell
  EXPECT_EQ(c["temperature_command_topic"], "house1/state/home/setpoint/set");
  EXPECT_EQ(c["temperature_command_template"], "{\"celsius\":{{ value }}}");
  EXPECT_EQ(c["mode_command_template"], "{\"mode\":\"{{ value }}\"}");

  auto wrong = resolve_climate(*statebus::parse_mqtt_climate("h:target=home/setpoint.mode,current=x.y"), "house1",
                               statebus::schema_of<home::Setpoint>(), [](const std::string&) { return false; });
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().find("not a number field"), std::string::npos) << wrong.error();
  for (const char* bad :
       {"heating", "heating:target=home/setpoint.celsius", "he at:target=a.b,current=c.d",
        "h:target=a.b,current=c.d,mode=e.f", "h:target=a,current=c.d", "h:target=a.b,current=c.d,x=y.z"}) {
    EXPECT_FALSE(statebus::parse_mqtt_climate(bad)) << bad;
  }
}

}  // namespace
