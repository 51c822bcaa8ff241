// The bridge's JSON, topics and discovery, without a broker.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <mqtt_protocol.h>

#include <nlohmann/json.hpp>

#include "bridge_messages.hpp"
#include "bridge_registry.hpp"
#include "envelope.hpp"
#include "homeassistant.hpp"
#include "mqtt_link.hpp"
#include "statebus/bridge/mqtt.hpp"
#include "topics.hpp"

namespace {

using namespace statebus::bridge_detail;
using bridge_test::Reading;
using bridge_test::Setpoint;

const statebus::Schema& reading_schema() { return statebus::schema_of<Reading>(); }

Reading sample_reading() {
  Reading r;
  r.index = 9;
  r.celsius = 21.25;
  std::strcpy(r.room, "kitchen");
  r.level = 200;
  return r;
}

TEST(BridgeEnvelope, ASampleComesBackExactlyAsItWent) {
  statebus::SampleHeader h;
  h.sequence = 17;
  h.publisher_pid = 4242;
  h.publisher_port = 99;
  h.virtual_time_ns = 1'765'432'109'876'543'210;  // a double loses its last digits
  h.real_time_ns = 42'000'000;
  h.fingerprint = reading_schema().fingerprint;
  const Reading sent = sample_reading();
  const std::string json = encode_sample(h, &reading_schema(), &sent, sizeof sent, "A", 1'700'000'000'123'456'789);
  const auto parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed["sequence"], 17);
  EXPECT_EQ(parsed["virtual_time_ns"], 1'765'432'109'876'543'210);
  // Milliseconds beside them, exact as a JavaScript number (Node-RED, browsers).
  EXPECT_EQ(parsed["virtual_time_ms"], 1'765'432'109'876);
  EXPECT_EQ(parsed["real_time_ms"], 42);
  EXPECT_EQ(parsed["wall_time_ms"], 1'700'000'000'123);
  EXPECT_LT(parsed["virtual_time_ms"].get<std::int64_t>(), std::int64_t{1} << 53);
  EXPECT_EQ(parsed["value"]["room"], "kitchen");
  EXPECT_EQ(parsed["origin"], "A");
  const auto in = decode_message(json, &reading_schema());
  ASSERT_TRUE(in) << in.error().reason;
  EXPECT_EQ(in->origin, "A");
  // The publisher by its port (a pid may have several of one channel).
  EXPECT_EQ(in->publisher_sequence, (std::pair<std::int64_t, std::uint64_t>{99, 17}));
  ASSERT_EQ(in->bytes.size(), sizeof(Reading));
  Reading got;
  std::memcpy(&got, in->bytes.data(), sizeof got);
  EXPECT_EQ(got.index, 9u);
  EXPECT_EQ(got.celsius, 21.25);
  EXPECT_STREQ(got.room, "kitchen");
  EXPECT_EQ(got.level, 200);
}

TEST(BridgeEnvelope, BytesWithoutASchemaTravelAsBase64) {
  const std::string bytes("\x00\x01\xfe\xff payload", 12);
  statebus::SampleHeader h;
  const std::string json = encode_sample(h, nullptr, bytes.data(), bytes.size(), "A", 0);
  const auto in = decode_message(json, nullptr);
  ASSERT_TRUE(in) << in.error().reason;
  EXPECT_EQ(in->bytes, bytes);
  for (const std::string text : {"", "a", "ab", "abc", "abcd", "abcde"}) {
    EXPECT_EQ(base64_decode(base64_encode(text)), text);
  }
  EXPECT_FALSE(base64_decode("a$cd"));
  EXPECT_FALSE(base64_decode("abc"));
}

TEST(BridgeEnvelope, EachBadMessageIsRefusedWithItsCategory) {
  const std::pair<const char*, const char*> cases[] = {
      {"{", "malformed JSON"},
      {"[1]", "wrong type"},
      {R"({"index":1,"celsius":1,"room":"x","level":1,"more":1})", "unknown field"},
      {R"({"index":1,"celsius":1,"room":"x"})", "missing field"},
      {R"({"index":-1,"celsius":1,"room":"x","level":1})", "out of range"},
      {R"({"index":1,"celsius":1,"room":"a room name far too long","level":1})", "out of range"},
      {R"({"index":1,"celsius":"hot","room":"x","level":1})", "wrong type"},
      {R"({"value":{"index":1,"celsius":1,"room":"x","level":1},"fingerprint":"00"})", "type mismatch"},
      {R"({"value":{"index":1,"celsius":1,"room":"x","level":1},"x":1})", "unknown field"},
  };
  for (const auto& [payload, category] : cases) {
    const auto in = decode_message(payload, &reading_schema());
    ASSERT_FALSE(in) << payload;
    EXPECT_EQ(in.error().category, category) << payload << ": " << in.error().reason;
  }
  EXPECT_EQ(decode_message(R"({"a":1})", nullptr).error().category, "no schema");
}

TEST(BridgeEnvelope, AWriteChangesTheFieldsItNamesOrNothing) {
  const statebus::Schema& schema = statebus::schema_of<Setpoint>();
  Setpoint value{20.0, 0.5};
  ASSERT_TRUE(apply_write(schema, R"({"celsius": 22})", &value));
  EXPECT_EQ(value.celsius, 22.0);
  EXPECT_EQ(value.band, 0.5);
  EXPECT_EQ(apply_write(schema, R"({"celsius": 23, "band": "wide"})", &value).error().category, "wrong type");
  EXPECT_EQ(value.celsius, 22.0);  // all or none
  EXPECT_EQ(apply_write(schema, R"({"mode": 1})", &value).error().category, "unknown field");
  EXPECT_EQ(apply_write(schema, "21.5", &value).error().category, "wrong type");  // two fields: name one
}

TEST(BridgeTopics, PatternsBecomeFiltersAndTopicsAreSortedByKind) {
  EXPECT_EQ(mqtt_filter("p", "home/**"), "p/home/#");
  EXPECT_EQ(mqtt_filter("p", "home/*/temperature"), "p/home/+/temperature");
  EXPECT_EQ(mqtt_filter("p/state", "home/setpoint"), "p/state/home/setpoint");
  EXPECT_EQ(parse_topic("p", "p/home/a").kind, TopicKind::channel);
  EXPECT_EQ(parse_topic("p", "p/$schema/home/a").kind, TopicKind::channel_schema);
  EXPECT_EQ(parse_topic("p", "p/$schema/state/home/s").name, "home/s");
  EXPECT_EQ(parse_topic("p", "p/state/home/s/set").kind, TopicKind::cell_set);
  EXPECT_EQ(parse_topic("p", "p/state/home/s").kind, TopicKind::cell);
  EXPECT_EQ(parse_topic("p", "p/status").kind, TopicKind::other);
  EXPECT_EQ(parse_topic("p", "p/$alive/home/a").kind, TopicKind::other);
  EXPECT_EQ(parse_topic("p", "p/$status/bridge-a").kind, TopicKind::other);
  EXPECT_EQ(status_topic("p", "bridge-a"), "p/$status/bridge-a");
  EXPECT_EQ(parse_topic("p", "q/home/a").kind, TopicKind::other);
}

TEST(BridgeLink, BrokerUrlsAreCheckedWithTheReason) {
  EXPECT_EQ(parse_broker_url("mqtt://h:1884")->port, 1884);
  EXPECT_EQ(parse_broker_url("mqtts://h")->port, 8883);
  EXPECT_TRUE(parse_broker_url("mqtts://h")->tls);
  EXPECT_NE(parse_broker_url("http://h").error().message().find("mqtt://HOST:PORT"), std::string::npos);
  EXPECT_NE(parse_broker_url("mqtt://h:99999").error().message().find("1–65535"), std::string::npos);
  EXPECT_FALSE(parse_broker_url("mqtt://:1883"));
}

TEST(BridgeLink, TheWaitBeforeEachTryDoublesFromOneSecondToThirty) {
  std::vector<long> waits;
  for (int attempt = 1; attempt <= 8; ++attempt) waits.push_back(reconnect_delay(attempt).count());
  EXPECT_EQ(waits, (std::vector<long>{1, 2, 4, 8, 16, 30, 30, 30}));
}

TEST(BridgeLink, EachFailureIsNamedInItsOwnTermsAndLastingOnesAreTold) {
  const auto refused = describe_failure(MOSQ_ERR_ERRNO, ECONNREFUSED, 0, "", "id");
  EXPECT_EQ(refused.why, "Connection refused");
  EXPECT_FALSE(refused.lasting);
  const auto lost = describe_failure(MOSQ_ERR_CONN_LOST, 0, 0, "", "id");
  EXPECT_EQ(lost.why, "the connection was lost");
  EXPECT_FALSE(lost.lasting);
  const auto denied = describe_failure(MOSQ_ERR_CONN_LOST, 0, MQTT_RC_NOT_AUTHORIZED, "", "id");
  EXPECT_EQ(denied.why, "the broker refused: Not authorized");
  EXPECT_TRUE(denied.lasting);
  const auto password = describe_failure(MOSQ_ERR_CONN_LOST, 0, MQTT_RC_BAD_USERNAME_OR_PASSWORD, "", "id");
  EXPECT_EQ(password.why, "the broker refused: Bad User Name or Password");
  EXPECT_TRUE(password.lasting);
  const auto busy = describe_failure(MOSQ_ERR_CONN_LOST, 0, MQTT_RC_SERVER_BUSY, "", "id");
  EXPECT_EQ(busy.why, "the broker refused: Server busy");
  EXPECT_FALSE(busy.lasting);
  const auto taken = describe_failure(MOSQ_ERR_CONN_LOST, 0, MQTT_RC_SESSION_TAKEN_OVER, "", "kitchen");
  EXPECT_NE(taken.why.find("session taken over by another client with id kitchen"), std::string::npos);
  EXPECT_TRUE(taken.lasting);
  const auto tls = describe_failure(MOSQ_ERR_TLS, 0, 0, "certificate verify failed", "id");
  EXPECT_EQ(tls.why, "TLS: certificate verify failed");
  EXPECT_TRUE(tls.lasting);
}

TEST(BridgeHomeAssistant, ACellBecomesSettableEntitiesAndAChannelSensors) {
  const DiscoveryContext context{"homeassistant", "p", "box"};
  const auto cell = discover_cell(context, "home/setpoint", statebus::schema_of<Setpoint>(), true);
  ASSERT_EQ(cell.size(), 2u);
  EXPECT_EQ(cell[0].topic, "homeassistant/number/box_home_setpoint_celsius/config");
  const auto number = nlohmann::json::parse(cell[0].payload);
  EXPECT_EQ(number["command_template"], R"({"celsius":{{ value }}})");
  EXPECT_EQ(number["value_template"],
            "{% if value_json.value.celsius is number %}{{ value_json.value.celsius }}{% else %}None{% endif %}");
  EXPECT_EQ(number["device"]["identifiers"][0], "box");
  const auto channel = discover_channel(context, "home/sensor/temperature", reading_schema());
  ASSERT_EQ(channel.size(), 3u);  // index, celsius, level; the text field has no entity
  EXPECT_EQ(nlohmann::json::parse(channel[1].payload)["device_class"], "temperature");
  EXPECT_EQ(nlohmann::json::parse(channel[1].payload)["state_topic"], "p/home/sensor/temperature");
  // Each entity is available while its own bridge is.
  EXPECT_EQ(number["availability"][0]["topic"], "p/$status/box");
}

// Each bus has its own table of bridges: `--state '**'` never sends it, and
// no MQTT message writes it.
TEST(BridgeRegistry, TheBridgesOwnCellIsNeverBridged) {
  EXPECT_TRUE(is_bridges_cell("statebus/bridges"));
  EXPECT_FALSE(is_bridges_cell("statebus/daemon"));
  EXPECT_FALSE(is_bridges_cell("home/bridges"));
}

TEST(BridgeOptions, AClientIdThatCannotNameATopicLevelIsRefused) {
  for (const char* id : {"a/b", "a+", "#"}) {
    statebus::MqttOptions options;
    options.out.push_back({"home/**", 0});
    options.client_id = id;
    const auto checked = statebus::MqttBridge::check_options(options);
    ASSERT_FALSE(checked) << id;
    EXPECT_NE(checked.error().message().find("PREFIX/$status/ID"), std::string::npos) << checked.error().message();
  }
}

}  // namespace
