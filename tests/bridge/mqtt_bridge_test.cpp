// Buses bridged through a real mosquitto broker. Each "machine" is a
// statebus-test-machine child with a private bus of its own and a bridge,
// driven over its stdin; the broker is Debian's, on 127.0.0.1 and a free port.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bridge_messages.hpp"
#include "statebus/base/schema.hpp"
#include "statebus/testing/child_process.hpp"
#include "statebus/testing/mqtt_broker.hpp"

namespace {

using namespace std::chrono_literals;
using statebus::testkit::ChildProcess;

constexpr const char* kPub = "/usr/bin/mosquitto_pub";
constexpr const char* kSub = "/usr/bin/mosquitto_sub";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string fingerprint() {
  return statebus::fingerprint_hex(statebus::schema_of<bridge_test::Reading>().fingerprint);
}

// One bus with its bridge, in a child process.
class Machine {
 public:
  Machine(ChildProcess process, std::string log) : process_(std::move(process)), log_(std::move(log)) {}
  /// Sends one command and returns its answer line ("" if none came in time).
  std::string ask(const std::string& command, std::chrono::milliseconds timeout = 30s) {
    process_.write(command + "\n");
    return process_.read_line(timeout).value_or("");
  }
  [[nodiscard]] std::string log() const { return read_file(log_); }
  std::string describe() { return process_.describe(); }
  void kill() {
    process_.signal(SIGKILL);
    process_.wait(10s);
  }

 private:
  ChildProcess process_;
  std::string log_;
};

class MqttBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override { start_broker(); }

  void start_broker(const std::string& extra_config = "") {
    auto broker = statebus::testkit::MqttBroker::start(extra_config);
    ASSERT_TRUE(broker) << broker.error().message();
    broker_ = std::make_unique<statebus::testkit::MqttBroker>(std::move(*broker));
  }

  /// A machine; skips the test where no private bus can be made.
  Machine* machine(const std::string& name) {
    const std::string log = broker_->folder() + "/" + name + ".log";
    auto child = ChildProcess::spawn({STATEBUS_TEST_MACHINE, name}, log);
    EXPECT_TRUE(child) << child.error().message();
    if (!child) return nullptr;
    const auto first = child->read_line(20s);
    if (first == std::optional<std::string>("shared")) {
      skipped_ = true;
      return nullptr;
    }
    EXPECT_EQ(first, std::optional<std::string>("isolated")) << child->describe();
    const auto ready = child->read_line(20s);
    EXPECT_EQ(ready, std::optional<std::string>("ok ready")) << child->describe();
    machines_.push_back(std::make_unique<Machine>(std::move(*child), log));
    return machines_.back().get();
  }

  std::string bridge_args(const std::string& id) const {
    return " --broker " + broker_->url() + " --prefix t --client-id " + id;
  }

  /// mosquitto_pub one message; its exit status.
  int mqtt_pub(const std::string& topic, const std::string& payload, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {kPub, "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-t", topic, "-m",
                                     payload};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = ChildProcess::spawn(argv);
    if (!child) return -1;
    const auto status = child->wait(10s);
    return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  }

  /// A mosquitto_sub printing `topic payload` lines.
  ChildProcess mqtt_sub(const std::string& filter, const std::vector<std::string>& more = {}) {
    std::vector<std::string> argv{kSub, "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-t", filter};
    for (const std::string& other : more) argv.insert(argv.end(), {"-t", other});
    argv.insert(argv.end(), {"-v", "-V", "mqttv5"});
    auto child = ChildProcess::spawn(argv);
    EXPECT_TRUE(child);
    return std::move(*child);
  }
  // A mosquitto_sub whose subscription is in place: a probe published on a
  // topic of its own has come back (retained messages it was sent before
  // the probe are read and dropped).
  ChildProcess mqtt_sub_subscribed(const std::string& filter) {
    ChildProcess sub = mqtt_sub(filter, {"statebus-test/probe"});
    std::optional<std::string> line;
    for (int i = 0; i < 50 && line != std::optional<std::string>("statebus-test/probe 1"); ++i) {
      EXPECT_EQ(mqtt_pub("statebus-test/probe", "1"), 0);
      line = sub.read_line(200ms);
      while (line && *line != "statebus-test/probe 1") line = sub.read_line(200ms);
    }
    EXPECT_EQ(line, std::optional<std::string>("statebus-test/probe 1")) << "never subscribed: " << sub.describe();
    return sub;
  }

  std::unique_ptr<statebus::testkit::MqttBroker> broker_;
  std::vector<std::unique_ptr<Machine>> machines_;
  bool skipped_ = false;
};

#define MACHINE(var, name)                                                                  \
  Machine* var = machine(name);                                                             \
  if (skipped_) GTEST_SKIP() << "two buses on one machine need private namespaces (" name ")"; \
  ASSERT_NE(var, nullptr)

#define ASK_OK(m, command)                                       \
  do {                                                           \
    const std::string answer_ = (m)->ask(command);               \
    ASSERT_EQ(answer_.substr(0, 2), "ok") << (command) << " → " << answer_ << "\n" << (m)->log(); \
  } while (0)

TEST_F(MqttBridgeTest, TypedSamplesCrossTwoBusesWithTheSameSchema) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "offer demo/reading 0");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/**");
  ASK_OK(a, "offer demo/reading 1");  // the bridge's subscriber is connected
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/**");
  ASK_OK(b, "subscribe demo/reading");  // B's bridge offers it: the schema came retained
  ASK_OK(a, "publish demo/reading 1 20 20.5 living 7");
  for (int i = 1; i <= 20; ++i) {
    EXPECT_EQ(b->ask("take demo/reading 10000"),
              "ok " + fingerprint() + " " + std::to_string(i) + " 20.500000 living 7");
  }
  EXPECT_EQ(b->ask("queued demo/reading"), "ok 0");
  const std::string stats = a->ask("wait-stat sent 20 5000");
  EXPECT_EQ(stats.substr(0, 2), "ok") << stats;
}

TEST_F(MqttBridgeTest, CellsMirrorBothWaysAndTakeWritesFromPlainClients) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "cell-open home/setpoint 21.5");
  ASK_OK(a, "bridge" + bridge_args("A") + " --state home/**");
  ASK_OK(b, "bridge" + bridge_args("B") + " --mirror home/**");
  ASK_OK(b, "cell-wait home/setpoint 21.5 10000");  // created on B from the retained value and schema
  ASK_OK(b, "cell-set home/setpoint 23");           // a write on B goes to the owner …
  ASK_OK(a, "cell-wait home/setpoint 23 10000");
  ASK_OK(a, "cell-set home/setpoint 19");           // … and the owner's changes come back
  ASK_OK(b, "cell-wait home/setpoint 19 10000");
  ASK_OK(b, "cell-wait home/setpoint 19 10000");
  EXPECT_EQ(mqtt_pub("t/state/home/setpoint/set", R"({"celsius": 18})"), 0);  // a partial write
  ASK_OK(a, "cell-wait home/setpoint 18 10000");
  ASK_OK(b, "cell-wait home/setpoint 18 10000");
  EXPECT_EQ(mqtt_pub("t/state/home/setpoint/set", R"({"celsius": "warm"})"), 0);  // refused whole
  const std::string refused = a->ask("wait-stat refused 1 10000");
  EXPECT_NE(refused.find("refused_by=wrong_type:1"), std::string::npos) << refused;
  ASK_OK(a, "cell-wait home/setpoint 18 10000");
}

TEST_F(MqttBridgeTest, EachKindOfBadInboundDataIsRefusedWithItsReasonAndNothingReachesTheBus) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "offer demo/cmd 0");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/**");
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/** --max-payload 512");
  ASK_OK(b, "subscribe demo/cmd");
  const std::string good_value = R"({"index":42,"celsius":1.5,"room":"hall","level":3})";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{not json", "malformed_JSON"},
      {R"({"index":1,"celsius":1,"room":"x","level":1,"extra":2})", "unknown_field"},
      {R"({"index":1,"celsius":1,"room":"x"})", "missing_field"},
      {R"({"index":"one","celsius":1,"room":"x","level":1})", "wrong_type"},
      {R"({"index":1,"celsius":1,"room":"x","level":300})", "out_of_range"},
      {R"({"index":1,"celsius":1,"room":")" + std::string(600, 'x') + R"(","level":1})", "oversize"},
      {R"({"value":)" + good_value + R"(,"fingerprint":"0000000000000001"})", "type_mismatch"},
      {R"({"value":)" + good_value + R"(,"colour":"red"})", "unknown_field"},
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    ASSERT_EQ(mqtt_pub("t/demo/cmd", bad[i].first), 0);
    const std::string stats = b->ask("wait-stat refused " + std::to_string(i + 1) + " 10000");
    EXPECT_EQ(stats.substr(0, 2), "ok") << bad[i].second << ": " << stats;
    EXPECT_NE(stats.find(bad[i].second), std::string::npos) << stats;
  }
  ASSERT_EQ(mqtt_pub("t/demo/cmd", good_value), 0);  // a plain client's bare value
  EXPECT_EQ(b->ask("take demo/cmd 10000"), "ok " + fingerprint() + " 42 1.500000 hall 3");
  EXPECT_EQ(b->ask("queued demo/cmd"), "ok 0");  // nothing of the refused ones
  const std::string log = b->log();
  EXPECT_NE(log.find("unknown field 'extra'"), std::string::npos) << log;
  EXPECT_NE(log.find("'level'"), std::string::npos) << log;
  EXPECT_NE(log.find("over the limit of 512"), std::string::npos) << log;
}

TEST_F(MqttBridgeTest, TheBridgeReconnectsAfterTheBrokerIsKilledAndReportsTheLoss) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "offer demo/reading 0");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/**");
  ASK_OK(a, "offer demo/reading 1");
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/**");
  ASK_OK(b, "subscribe demo/reading");
  ASK_OK(a, "publish demo/reading 1 10 20 living 1");
  for (int i = 1; i <= 10; ++i) ASSERT_EQ(b->ask("take demo/reading 10000").substr(0, 2), "ok");

  broker_->kill();
  ASK_OK(a, "wait-down 10000");
  ASK_OK(a, "publish demo/reading 11 10 20 living 1");  // dropped: no link
  ASK_OK(a, "wait-stat dropped 10 5000");
  const auto restarted = broker_->restart();
  ASSERT_TRUE(restarted) << restarted.error().message();
  ASK_OK(a, "wait-stat connects 2 20000");
  ASK_OK(b, "wait-stat connects 2 20000");
  // B subscribes again after its reconnect; send until one arrives.
  std::string got;
  for (int i = 21; i < 71 && got.substr(0, 2) != "ok"; ++i) {
    ASK_OK(a, "publish demo/reading " + std::to_string(i) + " 1 20 living 1");
    got = b->ask("take demo/reading 200");
  }
  ASSERT_EQ(got.substr(0, 2), "ok") << b->log();
  const std::string log = a->log();
  EXPECT_NE(log.find("back after"), std::string::npos) << log;
  EXPECT_NE(log.find("10 samples were dropped while it was down (demo/reading: 10)"), std::string::npos) << log;
  EXPECT_NE(a->ask("stats").find("dropped=10 "), std::string::npos);
}

// The sample a bridge finds on the bus before its link is up (a channel's
// last sample, from the publisher's history) is not lost with the samples
// dropped while the link is down: it is the channel's state, sent when the
// link is up and again on Home Assistant's birth message.
TEST_F(MqttBridgeTest, ASampleTakenBeforeTheLinkIsUpIsSentOnceItIs) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  broker_->kill();  // the link cannot come up yet
  ASK_OK(a, "offer demo/reading 0 1");                   // a history of one sample
  ASK_OK(a, "publish demo/reading 5 1 20.5 living 1");  // kept as the publisher's history
  ASK_OK(a, "bridge-nowait" + bridge_args("A") + " --out demo/** --homeassistant ha");
  ASK_OK(a, "wait-stat dropped 1 15000");  // taken, and could not go out
  const auto restarted = broker_->restart();
  ASSERT_TRUE(restarted) << restarted.error().message();
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/**");
  ASK_OK(b, "subscribe demo/reading");
  ASK_OK(a, "wait-stat connects 1 20000");
  ASSERT_EQ(mqtt_pub("ha/status", "online"), 0);  // sent again now at the latest, with B listening
  EXPECT_EQ(b->ask("take demo/reading 15000"), "ok " + fingerprint() + " 5 20.500000 living 1") << a->log();
}

// A bridge that starts sends each retained topic once: the schema, the
// channel's liveness and Home Assistant's configs are not sent twice.
TEST_F(MqttBridgeTest, EachRetainedTopicIsSentOnceAtStart) {
  MACHINE(a, "a");
  ASK_OK(a, "offer demo/reading 0");
  // Subscribed before the bridge starts (a retained topic sent twice before
  // the subscription would reach a later subscriber once).
  ChildProcess sub = mqtt_sub_subscribed("t/#");
  ASSERT_FALSE(HasFailure());
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/**");
  ASK_OK(a, "offer demo/reading 1");  // the bridge's subscriber is connected
  ASK_OK(a, "publish demo/reading 1 1 20 living 1");  // the marker: everything sent at start came before it
  std::map<std::string, int> seen;
  std::optional<std::string> line;
  for (line = sub.read_line(10s); line && line->rfind("t/demo/reading ", 0) != 0; line = sub.read_line(10s)) {
    if (*line != "t/probe 1") ++seen[line->substr(0, line->find(' '))];
  }
  ASSERT_TRUE(line) << "the marker sample never came: " << sub.describe();
  EXPECT_EQ(seen["t/$schema/demo/reading"], 1);
  EXPECT_EQ(seen["t/$alive/demo/reading"], 1);
  EXPECT_EQ(seen["t/$status/A"], 1);
}

// A bridge that is alive but frozen (stopped, starved) keeps what it
// carries: another bridge of the bus leaves its samples to it rather than
// guess it dead and send them twice; thawed, it sends them itself.
TEST_F(MqttBridgeTest, AFrozenBridgeKeepsItsClaims) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/**");
  ASK_OK(b, "subscribe demo/reading");
  ASK_OK(a, "offer demo/reading 0");
  const std::string cli = std::string(STATEBUS_CLI) + " bridge mqtt --broker " + broker_->url() + " --prefix t";
  ASK_OK(a, "spawn A1 statebus " + cli + " --client-id A1 --out demo/**");
  ASK_OK(a, "wait-subscribers demo/reading 1 15000");
  ASK_OK(a, "publish demo/reading 1 1 20 living 1");  // carried by A1, the only bridge of bus A
  ASSERT_EQ(b->ask("take demo/reading 15000"), "ok " + fingerprint() + " 1 20.000000 living 1");
  ASK_OK(a, "bridge" + bridge_args("A2") + " --out demo/**");
  ASK_OK(a, "wait-subscribers demo/reading 2 15000");

  ASK_OK(a, "signal A1 " + std::to_string(SIGSTOP));
  ASK_OK(a, "publish demo/reading 2 5 20 living 1");
  ASK_OK(a, "wait-stat left_to_peers 5 15000");       // A2 saw all five and left them to A1
  EXPECT_NE(a->ask("stats").find(" sent=0 "), std::string::npos);  // never sent one itself
  ASK_OK(a, "signal A1 " + std::to_string(SIGCONT));
  for (int index = 2; index <= 6; ++index) {
    EXPECT_EQ(b->ask("take demo/reading 15000"),
              "ok " + fingerprint() + " " + std::to_string(index) + " 20.000000 living 1");
  }
  EXPECT_EQ(b->ask("queued demo/reading"), "ok 0");
}

TEST_F(MqttBridgeTest, ThreeBusesSharingABrokerNeverSendASampleBack) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  MACHINE(c, "c");
  ASK_OK(a, "offer demo/reading 0");
  for (auto [m, id] : {std::pair{a, "A"}, std::pair{b, "B"}, std::pair{c, "C"}}) {
    ASK_OK(m, "bridge" + bridge_args(id) + " --out demo/** --in demo/**");
  }
  ASK_OK(a, "offer demo/reading 1");
  ASK_OK(b, "subscribe demo/reading");
  ASK_OK(c, "subscribe demo/reading");
  ASK_OK(a, "subscribe demo/reading");  // A's own, to see anything coming back
  // Each bus's bridge listens to the channel on its bus as well (to send it out).
  ASK_OK(b, "wait-subscribers demo/reading 2 15000");
  ASK_OK(c, "wait-subscribers demo/reading 2 15000");
  ASK_OK(a, "publish demo/reading 1 20 20 living 1");
  for (Machine* m : {b, c}) {
    for (int i = 1; i <= 20; ++i) ASSERT_EQ(m->ask("take demo/reading 10000").substr(0, 2 + 17), "ok " + fingerprint());
    // B's and C's bridges see each sample on their bus and do not send it back.
    ASK_OK(m, "wait-stat echoes 20 10000");
  }
  for (int i = 1; i <= 20; ++i) ASSERT_EQ(a->ask("take demo/reading 10000").substr(0, 2), "ok");
  EXPECT_EQ(a->ask("queued demo/reading"), "ok 0");
  for (Machine* m : {b, c}) {
    const std::string stats = m->ask("stats");
    EXPECT_NE(stats.find(" sent=0 "), std::string::npos) << stats;
    EXPECT_NE(stats.find(" received=20 "), std::string::npos) << stats;
    EXPECT_EQ(m->ask("queued demo/reading"), "ok 0");
  }
  EXPECT_NE(a->ask("stats").find(" received=0 "), std::string::npos);
}

TEST_F(MqttBridgeTest, StatusFollowsTheLinkAndLivenessFollowsThePublishers) {
  MACHINE(a, "a");
  ASK_OK(a, "offer demo/reading 0");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/**");
  ChildProcess sub = mqtt_sub("t/$alive/#");
  EXPECT_EQ(sub.read_line(10s), std::optional<std::string>("t/$alive/demo/reading online"));
  ASK_OK(a, "drop demo/reading");  // the publisher says goodbye
  EXPECT_EQ(sub.read_line(10s), std::optional<std::string>("t/$alive/demo/reading offline"));
  ChildProcess status = mqtt_sub("t/$status/A");
  EXPECT_EQ(status.read_line(10s), std::optional<std::string>("t/$status/A online"));
  a->kill();  // the whole bus, bridge and all: the broker sends the last will
  EXPECT_EQ(status.read_line(10s), std::optional<std::string>("t/$status/A offline"));
}

// The README's two-machine recipe: two buses' bridges on one prefix. Each
// has its own status, so one bridge's death (or clean stop) leaves the
// other's entities available.
TEST_F(MqttBridgeTest, BridgesSharingAPrefixEachHaveTheirOwnStatus) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/**");
  ASK_OK(b, "bridge" + bridge_args("B") + " --out demo/**");
  ChildProcess status = mqtt_sub("t/$status/#");
  std::map<std::string, std::string> seen;
  while (seen.size() < 2) {
    const auto line = status.read_line(10s);
    ASSERT_TRUE(line) << "status so far: " << seen.size();
    seen[line->substr(0, line->find(' '))] = line->substr(line->find(' ') + 1);
  }
  EXPECT_EQ(seen["t/$status/A"], "online");
  EXPECT_EQ(seen["t/$status/B"], "online");
  b->kill();  // SIGKILL: B's last will
  EXPECT_EQ(status.read_line(10s), std::optional<std::string>("t/$status/B offline"));
  ASK_OK(a, "stats");  // A runs on
  ChildProcess again = mqtt_sub("t/$status/#");  // the retained state, as Home Assistant reads it after a restart
  seen.clear();
  while (seen.size() < 2) {
    const auto line = again.read_line(10s);
    ASSERT_TRUE(line);
    seen[line->substr(0, line->find(' '))] = line->substr(line->find(' ') + 1);
  }
  EXPECT_EQ(seen["t/$status/A"], "online") << "B's death marked A offline";
  EXPECT_EQ(seen["t/$status/B"], "offline");
}

// Three bridges on bus A (one in the machine's process, two `statebus
// bridge mqtt` beside it) and two on bus B, all on one broker and prefix,
// with overlapping patterns both ways: every sample reaches MQTT once and
// the other bus once, and none comes back.
TEST_F(MqttBridgeTest, ManyBridgesOnTwoBusesCarryEverySampleExactlyOnce) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "offer demo/reading 0");
  ASK_OK(b, "offer demo/other 0");
  ChildProcess status = mqtt_sub("t/$status/#");
  const std::string cli = std::string(STATEBUS_CLI) + " bridge mqtt --broker " + broker_->url() + " --prefix t";
  ASK_OK(a, "bridge" + bridge_args("A1") + " --out demo/** --in demo/**");
  ASK_OK(a, "spawn A2 statebus " + cli + " --client-id A2 --out demo/** --in demo/*");
  ASK_OK(a, "spawn A3 statebus " + cli + " --client-id A3 --out demo/reading --in demo/reading --in demo/other");
  ASK_OK(b, "bridge" + bridge_args("B1") + " --out demo/** --in demo/**");
  ASK_OK(b, "spawn B2 statebus " + cli + " --client-id B2 --in demo/** --out demo/*");
  std::set<std::string> online;
  while (online.size() < 5) {
    const auto line = status.read_line(20s);
    ASSERT_TRUE(line) << online.size() << " bridges online";
    if (line->find(" online") != std::string::npos) online.insert(*line);
  }
  ChildProcess on_mqtt = mqtt_sub("t/demo/+");
  ASK_OK(a, "subscribe demo/reading");  // its own publisher's: anything more came back
  ASK_OK(b, "subscribe demo/reading");  // waits for the bridge that publishes it on B
  ASK_OK(a, "subscribe demo/other");
  ASK_OK(b, "subscribe demo/other");
  // Every bridge with a matching --out listens on its bus: 1 + 3 on A, 1 + 2 on B.
  ASK_OK(a, "wait-subscribers demo/reading 4 15000");
  ASK_OK(b, "wait-subscribers demo/other 3 15000");
  ASK_OK(a, "publish demo/reading 1 20 20 living 1");
  ASK_OK(b, "publish demo/other 101 20 20 bath 1");
  // A last sample each, sent after the others by the same bridge: what
  // came before it is counted.
  ASK_OK(a, "publish demo/reading 21 1 20 living 1");
  ASK_OK(b, "publish demo/other 121 1 20 bath 1");

  auto index_of = [](const std::string& answer) {  // "ok FINGERPRINT INDEX …"
    std::istringstream words(answer);
    std::string ok, fp;
    std::uint32_t index = 0;
    words >> ok >> fp >> index;
    return index;
  };
  auto count_until = [&](Machine* m, const std::string& channel, std::uint32_t last) {
    std::map<std::uint32_t, int> seen;
    for (;;) {
      const std::string answer = m->ask("take " + channel + " 15000");
      if (answer.rfind("ok ", 0) != 0) {
        ADD_FAILURE() << channel << ": " << answer;
        break;
      }
      const std::uint32_t index = index_of(answer);
      ++seen[index];
      if (index == last) break;
    }
    return seen;
  };
  for (auto [m, channel, first] : {std::tuple{b, "demo/reading", 1U}, std::tuple{a, "demo/other", 101U},
                                   std::tuple{a, "demo/reading", 1U}, std::tuple{b, "demo/other", 101U}}) {
    const auto seen = count_until(m, channel, first + 20);
    for (std::uint32_t i = first; i <= first + 20; ++i) {
      EXPECT_EQ(seen.count(i) != 0 ? seen.at(i) : 0, 1) << channel << " sample " << i << " on its bus";
    }
    EXPECT_EQ(seen.size(), 21U) << channel;
  }
  std::map<std::string, int> sent;
  int last_seen = 0;
  while (last_seen < 2) {
    const auto line = on_mqtt.read_line(15s);
    ASSERT_TRUE(line) << "MQTT so far: " << sent.size();
    const auto space = line->find(' ');
    const auto value = nlohmann::json::parse(line->substr(space + 1))["value"];
    const std::string key = line->substr(0, space) + " " + std::to_string(value["index"].get<int>());
    ++sent[key];
    if (value["index"] == 21 || value["index"] == 121) ++last_seen;
  }
  EXPECT_EQ(sent.size(), 42U);
  for (const auto& [key, n] : sent) EXPECT_EQ(n, 1) << key << " reached MQTT " << n << " times";
  // Nothing more arrived on either bus: no late copy, no echo.
  for (auto [m, channel] : {std::pair{a, "demo/reading"}, std::pair{b, "demo/reading"}, std::pair{a, "demo/other"},
                            std::pair{b, "demo/other"}}) {
    EXPECT_EQ(m->ask("queued " + std::string(channel)), "ok 0") << channel;
  }
}

// After Home Assistant restarts, each channel's state is there at once (its
// last sample, sent again), not "unknown" until the next change; a bus on
// the other side publishes that sample once.
TEST_F(MqttBridgeTest, ChannelStatesAreSentAgainWhenHomeAssistantRestartsAndPublishedOnce) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "offer demo/reading 0");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/** --homeassistant ha");
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/**");
  ASK_OK(b, "subscribe demo/reading");
  ASK_OK(a, "wait-subscribers demo/reading 1 15000");
  ASK_OK(a, "publish demo/reading 7 1 20 living 1");
  const std::string first = b->ask("take demo/reading 10000");
  ASSERT_EQ(first.substr(0, 2), "ok") << first;
  ChildProcess sub = mqtt_sub_subscribed("t/demo/reading");  // from now on: what Home Assistant would read
  ASSERT_EQ(mqtt_pub("ha/status", "online"), 0);  // Home Assistant restarted
  const auto again = sub.read_line(10s);
  ASSERT_TRUE(again) << "the state was not sent again: " << sub.describe();
  const auto sample = nlohmann::json::parse(again->substr(again->find(' ') + 1));
  EXPECT_EQ(sample["value"]["index"], 7);
  ASK_OK(b, "wait-stat repeats 1 10000");
  EXPECT_EQ(b->ask("queued demo/reading"), "ok 0") << "the sample sent again was published twice";
}

// A gap in a publisher's sequence upstream (lost on the sending bus, in the
// sending bridge or on the link) is a gap on the receiving bus: its
// subscribers count the same samples lost, from the bridge's publisher.
TEST_F(MqttBridgeTest, SamplesLostUpstreamAreCountedLostOnTheReceivingBus) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "offer demo/reading 0");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/**");  // retains the schema
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/**");
  ASK_OK(b, "subscribe demo/reading");
  // What a bridge Z on a third bus sends for two of its publishers.
  auto envelope = [&](int port, int sequence) {
    return "{\"sequence\":" + std::to_string(sequence) + ",\"publisher_pid\":4242,\"publisher_port\":" +
           std::to_string(port) + ",\"real_time_ns\":1,\"virtual_time_ns\":1,\"value\":{\"index\":" +
           std::to_string(sequence) + ",\"celsius\":20.5,\"room\":\"z\",\"level\":1},\"fingerprint\":\"" +
           fingerprint() + "\",\"origin\":\"Z\",\"wall_time_ns\":1}";
  };
  const std::vector<std::pair<int, int>> sent = {{77, 1}, {77, 2}, {78, 10}, {77, 5}, {77, 5}, {78, 11}, {77, 9}};
  for (const auto& [port, sequence] : sent) ASSERT_EQ(mqtt_pub("t/demo/reading", envelope(port, sequence)), 0);
  // Port 77 lost 3 and 4, then 6 to 8; port 78 lost nothing (10 is the first
  // heard from it); the second 5 is a repeat, published once.
  for (const int index : {1, 2, 10, 5, 11, 9}) {
    EXPECT_EQ(b->ask("take demo/reading 10000"),
              "ok " + fingerprint() + " " + std::to_string(index) + " 20.500000 z 1");
  }
  EXPECT_EQ(b->ask("queued demo/reading"), "ok 0");
  EXPECT_EQ(b->ask("lost demo/reading"), "ok 5");
  const std::string stats = b->ask("wait-stat lost_upstream 5 5000");
  EXPECT_EQ(stats.substr(0, 2), "ok") << stats;
}

TEST_F(MqttBridgeTest, PlainClientsReadAndWriteThePlainJson) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "offer demo/reading 0");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/**");
  ASK_OK(a, "offer demo/reading 1");
  // mosquitto_sub reads what the bridge sends: the retained schema first.
  ChildProcess sub = mqtt_sub("t/#");
  std::optional<std::string> line;
  for (int i = 0; i < 50 && !(line && line->rfind("t/demo/reading ", 0) == 0); ++i) {
    ASK_OK(a, "publish demo/reading " + std::to_string(i + 1) + " 1 20.5 living 7");
    line = sub.read_line(5s);
  }
  ASSERT_TRUE(line && line->rfind("t/demo/reading ", 0) == 0) << sub.describe();
  const auto json = nlohmann::json::parse(line->substr(15));
  EXPECT_EQ(json["value"]["celsius"], 20.5);
  EXPECT_EQ(json["value"]["room"], "living");
  EXPECT_EQ(json["fingerprint"], fingerprint());
  EXPECT_EQ(json["origin"], "A");
  EXPECT_TRUE(json["virtual_time_ns"].is_number() && json["sequence"].is_number());

  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/**");
  ASK_OK(b, "subscribe demo/reading");
  ASSERT_EQ(mqtt_pub("t/demo/reading", R"({"index":5,"celsius":-3.25,"room":"porch","level":2})"), 0);
  EXPECT_EQ(b->ask("take demo/reading 10000"), "ok " + fingerprint() + " 5 -3.250000 porch 2");
}

// No bridge sends the channel, no publisher runs: the type comes from the
// subscriber's own declaration in the bus's table of channel types.
TEST_F(MqttBridgeTest, APlainClientWritesToAChannelThatOnlyATypedSubscriberUses) {
  MACHINE(b, "b");
  ASK_OK(b, "listen demo/setting");
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/**");
  ASSERT_EQ(mqtt_pub("t/demo/setting", R"({"index":9,"celsius":21.5,"room":"study","level":3})"), 0);
  EXPECT_EQ(b->ask("take demo/setting 10000"), "ok " + fingerprint() + " 9 21.500000 study 3") << b->log();
  EXPECT_EQ(b->ask("take demo/setting 100"), "none");
}

// Bus B uses demo/cmd for another type than bus A sends on it: B's bridge
// refuses A's samples, naming both types, and B's subscriber keeps its type.
TEST_F(MqttBridgeTest, SamplesOfAnotherTypeThanTheReceivingBusUsesAreRefusedNamingBothTypes) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(b, "listen-setpoint demo/cmd");
  ASK_OK(a, "offer demo/cmd 0");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/**");
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/**");
  // Sent until B's bridge hears one (A's bridge may still be connecting).
  for (int i = 1; i <= 50; ++i) {
    ASK_OK(a, "publish demo/cmd " + std::to_string(i) + " 1 20.5 hall 1");
    if (b->ask("wait-stat refused 1 200").substr(0, 2) == "ok") break;
  }
  const std::string refused = b->ask("wait-stat refused 1 100");
  EXPECT_EQ(refused.substr(0, 2), "ok") << refused << "\n" << b->log();
  EXPECT_NE(refused.find("type_mismatch"), std::string::npos) << refused;
  const std::string log = b->log();
  for (const char* part : {"'bridge_test/Setpoint'", "'bridge_test/Reading'", "'demo/cmd'"}) {
    EXPECT_NE(log.find(part), std::string::npos) << part << " in\n" << log;
  }
}

TEST_F(MqttBridgeTest, HomeAssistantGetsDiscoveryAgainOnItsBirthMessageAndWritesTheSetpoint) {
  MACHINE(a, "a");
  ASK_OK(a, "cell-open home/setpoint 21");
  ChildProcess sub = mqtt_sub("ha/#");
  ASK_OK(a, "bridge" + bridge_args("A") + " --state home/** --settable home/setpoint --homeassistant ha");
  const std::string topic = "ha/number/A_home_setpoint_celsius/config";
  auto read_config = [&]() -> std::optional<nlohmann::json> {
    for (int lines = 0; lines < 20; ++lines) {
      const auto line = sub.read_line(10s);
      if (!line) return std::nullopt;
      if (line->rfind(topic + " ", 0) == 0) return nlohmann::json::parse(line->substr(topic.size() + 1));
    }
    return std::nullopt;
  };
  const auto config = read_config();
  ASSERT_TRUE(config) << sub.describe();
  EXPECT_EQ((*config)["command_topic"], "t/state/home/setpoint/set");
  EXPECT_EQ((*config)["state_topic"], "t/state/home/setpoint");
  EXPECT_EQ((*config)["availability"][0]["topic"], "t/$status/A");  // its own bridge's
  EXPECT_EQ((*config)["device_class"], "temperature");
  EXPECT_EQ((*config)["unique_id"], "A_home_setpoint_celsius");
  ASSERT_EQ(mqtt_pub("ha/status", "online"), 0);  // Home Assistant restarted
  EXPECT_TRUE(read_config()) << "no discovery again after the birth message";
  // What Home Assistant's number sends through its command_template:
  ASSERT_EQ(mqtt_pub("t/state/home/setpoint/set", R"({"celsius": 22.5})"), 0);
  ASK_OK(a, "cell-wait home/setpoint 22.5 10000");
}

TEST_F(MqttBridgeTest, AFollowingBusKeepsTheVirtualTimeOfTheSendingOne) {
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "clock-rate 500");
  ASK_OK(a, "bridge" + bridge_args("A") + " --out demo/** --clock send");
  ASK_OK(b, "bridge" + bridge_args("B") + " --in demo/** --clock follow");
  ASK_OK(b, "clock-wait-rate 500 10000");
  auto virtual_ns = [](const std::string& answer) { return std::stoll(answer.substr(answer.rfind(' ') + 1)); };
  const long long before = virtual_ns(a->ask("clock"));
  const long long follower = virtual_ns(b->ask("clock"));
  const long long after = virtual_ns(a->ask("clock"));
  // Within 1 s of virtual time (2 ms of real time at 500×, plus the broker's delay).
  EXPECT_GT(follower, before - 1'000'000'000LL) << before << " " << follower << " " << after;
  EXPECT_LT(follower, after + 1'000'000'000LL) << before << " " << follower << " " << after;
  ASK_OK(a, "clock-rate 5");  // a change of rate travels at once
  ASK_OK(b, "clock-wait-rate 5 10000");
}

TEST_F(MqttBridgeTest, CredentialsComeFromAFileAndAreNeverLogged) {
  broker_.reset();
  // Not in /tmp: each machine has a /tmp of its own.
  const std::string folder = std::filesystem::current_path().string() + "/bridge-creds-" + std::to_string(::getpid());
  ASSERT_EQ(
      ::system(("mkdir -p " + folder + " && mosquitto_passwd -b -c " + folder + "/passwd heating s3cret-pw").c_str()),
      0);
  start_broker("allow_anonymous false\npassword_file " + folder + "/passwd\n");
  std::ofstream(folder + "/good") << "heating\ns3cret-pw\n";
  std::ofstream(folder + "/bad") << "heating\nwrong-pw\n";
  MACHINE(a, "a");
  MACHINE(b, "b");
  ASK_OK(a, "bridge-nowait" + bridge_args("A") + " --out demo/** --credentials " + folder + "/bad");
  ASK_OK(b, "bridge" + bridge_args("B") + " --out demo/** --credentials " + folder + "/good");
  EXPECT_NE(b->ask("stats").find("connects=1"), std::string::npos);
  EXPECT_NE(a->ask("stats").find("connects=0"), std::string::npos);
  a->ask("stop-bridge");
  const std::string log = a->log();
  EXPECT_NE(log.find("the broker refused: Not authorized"), std::string::npos) << log;
  EXPECT_EQ(log.find("s3cret"), std::string::npos);
  EXPECT_EQ(log.find("wrong-pw"), std::string::npos);
  ::system(("rm -rf " + folder).c_str());
}

TEST_F(MqttBridgeTest, TlsWithTheBrokersCaFile) {
  broker_.reset();
  const std::string folder = std::filesystem::current_path().string() + "/bridge-tls-" + std::to_string(::getpid());
  const std::string make_cert = "mkdir -p " + folder +
                                " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                                "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                                folder + "/key.pem -out " + folder + "/cert.pem 2>/dev/null";
  ASSERT_EQ(::system(make_cert.c_str()), 0);
  start_broker("certfile " + folder + "/cert.pem\nkeyfile " + folder + "/key.pem\n");
  MACHINE(a, "a");
  const std::string url = "mqtts://127.0.0.1:" + std::to_string(broker_->port());
  EXPECT_NE(a->ask("bridge --broker " + url + " --prefix t --client-id A --out demo/**").find("--cafile"),
            std::string::npos);  // mqtts without a CA file is refused with the reason
  ASK_OK(a, "bridge --broker " + url + " --prefix t --client-id A --out demo/** --cafile " + folder + "/cert.pem");
  ::system(("rm -rf " + folder).c_str());
}

}  // namespace

namespace {

// The tool refuses bad arguments with the reason and exit code 2, before it
// needs a bus or a broker.
TEST(MqttBridgeCli, BadArgumentsAreRefusedWithTheReasonBeforeAnythingConnects) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--broker", "http://x", "--out", "a/**"}, "is not mqtt://HOST:PORT"},
      {{"--broker", "mqtt://x:0", "--out", "a/**"}, "1–65535"},
      {{"--out", "a/**", "--prefix", "a/#"}, "prefix 'a/#'"},
      {{"--out", "a/**:2"}, "QoS after ':' must be 0 or 1"},
      {{"--out", "a/b*"}, "wildcard is a whole part"},
      {{"--in", "state/x"}, "use --mirror"},
      {{"--broker", "mqtts://x:8883", "--out", "a"}, "--cafile"},
      {{"--credentials", "/nonexistent/creds", "--out", "a"}, "cannot read the credentials file"},
      {{}, "nothing to bridge"},
      {{"--out", "a", "--homeassistant", "--ha-climate", "heating"}, "--ha-climate 'heating': no NAME: first"},
      {{"--out", "a", "--homeassistant", "--ha-climate", "h:target=a.b"}, "target= and current= are both needed"},
      {{"--out", "a", "--ha-climate", "h:target=a.b,current=c.d"}, "--ha-climate needs --homeassistant"},
  };
  for (const auto& [args, expected] : cases) {
    std::vector<std::string> argv = {STATEBUS_CLI, "bridge", "mqtt"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto cli = ChildProcess::spawn(argv);
    ASSERT_TRUE(cli);
    const auto status = cli->wait(10s);
    ASSERT_TRUE(status && WIFEXITED(*status)) << expected;
    EXPECT_EQ(WEXITSTATUS(*status), 2) << expected;
    const std::string err = cli->read_stderr(5s);
    EXPECT_NE(err.find(expected), std::string::npos) << err;
  }
}

}  // namespace
