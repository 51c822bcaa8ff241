// `statebus bridge mqtt` as users run it, on a private bus of its own beside
// its `statebus daemon`, with a real mosquitto broker on 127.0.0.1.
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/child_process.hpp"
#include "statebus/testing/mqtt_broker.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;

// A private bus with its daemon, and bridges started as users start them.
class BridgeCommand : public testkit::PrivateBusTest {
 protected:
  void start_daemon() {
    auto daemon = ChildProcess::spawn({STATEBUS_CLI, "daemon"});
    ASSERT_TRUE(daemon);
    std::optional<std::string> line;
    while ((line = daemon->read_line(20s)) && line->rfind("statebus daemon ready", 0) != 0) {
    }
    ASSERT_TRUE(line) << daemon->describe();
    daemon_.emplace(std::move(*daemon));
  }
  static std::optional<ChildProcess> bridge(std::vector<std::string> args) {
    std::vector<std::string> argv{STATEBUS_CLI, "bridge", "mqtt", "--prefix", "t", "--out", "home/**"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto child = ChildProcess::spawn(argv);
    EXPECT_TRUE(child);
    if (!child) return std::nullopt;
    EXPECT_TRUE(child->read_line(20s)) << child->describe();  // "statebus bridge: … Ctrl-C stops"
    return std::move(*child);
  }
  // Its stderr until it has `what` (30 s at most).
  static std::string stderr_until(ChildProcess& child, const std::string& what) {
    std::string said;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (said.find(what) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      said += child.read_stderr(500ms);  // what came within it
    }
    return said;
  }
  static int exit_status(ChildProcess& child, std::chrono::seconds within) {
    const auto ended = child.wait(within);
    return ended && WIFEXITED(*ended) ? WEXITSTATUS(*ended) : -1;
  }
  void TearDown() override {
    if (daemon_) {
      daemon_->signal(SIGTERM);
      (void)daemon_->wait(10s);
    }
    PrivateBusTest::TearDown();
  }
  std::optional<ChildProcess> daemon_;
};

// Its daemon stopped, the bridge says why, marks itself offline on the
// broker and ends with status 1, instead of relaying a bus that is gone.
TEST_F(BridgeCommand, EndsOfflineWithStatus1WhenItsDaemonStops) {
  auto broker = testkit::MqttBroker::start();
  ASSERT_TRUE(broker) << broker.error().message();
  auto daemon = ChildProcess::spawn({STATEBUS_CLI, "daemon"});
  ASSERT_TRUE(daemon);
  std::optional<std::string> line;
  while ((line = daemon->read_line(20s)) && line->rfind("statebus daemon ready", 0) != 0) {
  }
  ASSERT_TRUE(line) << daemon->describe();
  auto bridge = ChildProcess::spawn({STATEBUS_CLI, "bridge", "mqtt", "--broker", broker->url(), "--prefix", "t",
                                     "--client-id", "lost-bus", "--out", "home/**"});
  ASSERT_TRUE(bridge);
  ASSERT_TRUE(bridge->read_line(20s)) << bridge->describe();  // "statebus bridge: … Ctrl-C stops"
  auto status = ChildProcess::spawn({"/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker->port()),
                                     "-t", "t/$status/lost-bus", "-v"});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->read_line(20s), "t/$status/lost-bus online");
  ASSERT_TRUE(daemon->signal(SIGTERM));
  ASSERT_TRUE(daemon->wait(10s));
  const auto ended = bridge->wait(10s);
  ASSERT_TRUE(ended) << "the bridge goes on without its bus: " << bridge->describe();
  EXPECT_TRUE(WIFEXITED(*ended) && WEXITSTATUS(*ended) == 1) << bridge->describe();
  EXPECT_EQ(status->read_line(10s), "t/$status/lost-bus offline");
  const std::string said = bridge->read_stderr(2s);
  EXPECT_NE(said.find("lost the bus"), std::string::npos) << said;
  EXPECT_EQ(said.find("iceoryx"), std::string::npos) << "iceoryx's chatter: " << said;
}

// Wrong credentials cannot be mended by trying again: three tries (1 s and
// 2 s apart), each named with the broker's reason, then status 1.
TEST_F(BridgeCommand, WrongCredentialsEndItWithStatus1AfterThreeTriesSayingWhy) {
  const std::string folder =
      std::filesystem::current_path().string() + "/bridge-cli-creds-" + std::to_string(::getpid());
  ASSERT_EQ(
      std::system(("mkdir -p " + folder + " && mosquitto_passwd -b -c " + folder + "/passwd heating s3cret").c_str()),
      0);
  std::ofstream(folder + "/bad") << "heating\nwrong\n";
  auto broker = testkit::MqttBroker::start("allow_anonymous false\npassword_file " + folder + "/passwd\n");
  ASSERT_TRUE(broker) << broker.error().message();
  ASSERT_NO_FATAL_FAILURE(start_daemon());
  auto sut = bridge({"--broker", broker->url(), "--client-id", "wrong", "--credentials", folder + "/bad"});
  ASSERT_TRUE(sut);
  EXPECT_EQ(exit_status(*sut, 30s), 1) << sut->describe();
  const std::string said = sut->read_stderr(5s);
  EXPECT_NE(said.find("the broker refused: Not authorized; trying again in 1 s"), std::string::npos) << said;
  EXPECT_NE(said.find("the broker refused: Not authorized; trying again in 2 s"), std::string::npos) << said;
  EXPECT_NE(said.find("gives up after 3 tries"), std::string::npos) << said;
  EXPECT_EQ(said.find("Granted QoS"), std::string::npos) << "a reason code read as another kind: " << said;
  EXPECT_EQ(said.find("wrong\n"), std::string::npos);
  // --keep-trying goes on past three.
  auto keeps =
      bridge({"--broker", broker->url(), "--client-id", "keeps", "--credentials", folder + "/bad", "--keep-trying"});
  ASSERT_TRUE(keeps);
  const std::string going_on = stderr_until(*keeps, "trying again in 4 s");
  EXPECT_NE(going_on.find("trying again in 4 s"), std::string::npos) << going_on;
  ASSERT_TRUE(keeps->signal(SIGTERM));
  EXPECT_EQ(exit_status(*keeps, 10s), 0) << keeps->describe();
  std::system(("rm -rf " + folder).c_str());
}

// A broker that is not there yet is tried for ever, 1 s, then 2 s apart,
// each failure named; Ctrl-C ends the wait at once.
TEST_F(BridgeCommand, ARefusedConnectionIsNamedAndTriedAgainWithADoublingWait) {
  std::string url;
  {
    auto broker = testkit::MqttBroker::start();  // for a port nothing listens on once it has gone
    ASSERT_TRUE(broker) << broker.error().message();
    url = broker->url();
  }
  ASSERT_NO_FATAL_FAILURE(start_daemon());
  auto sut = bridge({"--broker", url, "--client-id", "early"});
  ASSERT_TRUE(sut);
  const std::string said = stderr_until(*sut, "trying again in 2 s");
  EXPECT_NE(said.find("no link to " + url + ": Connection refused; trying again in 1 s"), std::string::npos) << said;
  EXPECT_NE(said.find("no link to " + url + ": Connection refused; trying again in 2 s"), std::string::npos) << said;
  ASSERT_TRUE(sut->signal(SIGTERM));
  EXPECT_EQ(exit_status(*sut, 5s), 0) << sut->describe();
}

// Two bridges under one client id knock each other off the broker. On one
// bus the second is refused at start, naming the first; with a client
// elsewhere (that reconnects as the bridge does) the bridge says what is
// most likely wrong, and backs off instead of knocking every second.
TEST_F(BridgeCommand, TwoClientsWithOneIdAreToldApart) {
  auto broker = testkit::MqttBroker::start();
  ASSERT_TRUE(broker) << broker.error().message();
  ASSERT_NO_FATAL_FAILURE(start_daemon());
  auto status = ChildProcess::spawn({"/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker->port()),
                                     "-t", "t/$status/dup", "-v"});
  ASSERT_TRUE(status);
  auto first = bridge({"--broker", broker->url(), "--client-id", "dup"});
  ASSERT_TRUE(first);
  ASSERT_EQ(status->read_line(20s), "t/$status/dup online");
  auto second = ChildProcess::spawn({STATEBUS_CLI, "bridge", "mqtt", "--prefix", "t", "--out", "home/**", "--broker",
                                     broker->url(), "--client-id", "dup"});
  ASSERT_TRUE(second);
  EXPECT_EQ(exit_status(*second, 20s), 1) << second->describe();
  const std::string refused = second->read_stderr(5s);
  EXPECT_NE(
      refused.find("another bridge on this bus (pid " + std::to_string(first->pid()) + ") uses the client id dup"),
      std::string::npos)
      << refused;
  EXPECT_FALSE(first->wait(0ms)) << "the first bridge ended: " << first->describe();

  auto elsewhere = ChildProcess::spawn({"/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p",
                                        std::to_string(broker->port()), "-V", "mqttv5", "-i", "dup", "-t", "x"});
  ASSERT_TRUE(elsewhere);
  const std::string said = stderr_until(*first, "another client probably uses the client id dup");
  EXPECT_NE(said.find("another client probably uses the client id dup (each needs its own: --client-id)"),
            std::string::npos)
      << said;
  elsewhere->signal(SIGTERM);
  ASSERT_TRUE(first->signal(SIGTERM));
  EXPECT_EQ(exit_status(*first, 10s), 0) << first->describe();
}

// TLS failures are named with the TLS library's reason, and end the
// bridge: a certificate no given CA signed, TLS against a plain port.
TEST_F(BridgeCommand, TlsFailuresAreNamedAndEndItWithStatus1) {
  const std::string folder = std::filesystem::current_path().string() + "/bridge-cli-tls-" + std::to_string(::getpid());
  auto make_cert = [&](const std::string& name) {
    return "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
           "-keyout " + folder + "/" + name + "-key.pem -out " + folder + "/" + name + ".pem 2>/dev/null";
  };
  ASSERT_EQ(std::system(("mkdir -p " + folder + " && " + make_cert("broker") + " && " + make_cert("other")).c_str()),
            0);
  auto tls = testkit::MqttBroker::start("certfile " + folder + "/broker.pem\nkeyfile " + folder + "/broker-key.pem\n");
  ASSERT_TRUE(tls) << tls.error().message();
  auto plain = testkit::MqttBroker::start();
  ASSERT_TRUE(plain) << plain.error().message();
  ASSERT_NO_FATAL_FAILURE(start_daemon());
  struct Case {
    std::string url;
    std::string ca;
    std::string says;
  };
  for (const Case& c : {Case{"mqtts://127.0.0.1:" + std::to_string(tls->port()), folder + "/other.pem",
                             "TLS: certificate verify failed"},
                        Case{"mqtts://127.0.0.1:" + std::to_string(plain->port()), folder + "/broker.pem", "TLS: "}}) {
    auto sut = bridge({"--broker", c.url, "--client-id", "tls", "--cafile", c.ca});
    ASSERT_TRUE(sut);
    EXPECT_EQ(exit_status(*sut, 30s), 1) << c.url << " " << sut->describe();
    const std::string said = sut->read_stderr(5s);
    EXPECT_NE(said.find("no link to " + c.url + ": " + c.says), std::string::npos) << said;
    EXPECT_NE(said.find("gives up after 3 tries"), std::string::npos) << said;
  }
  std::system(("rm -rf " + folder).c_str());
}

}  // namespace
}  // namespace statebus
