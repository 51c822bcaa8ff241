// Objects in another process behind an interface declared once: the blog's
// shared state object used from several processes, its call recorder, and
// every form of member a served object may have.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_cli.hpp"
#include "statebus/bus.hpp"
#include "statebus/service.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_objects.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::Entry;
using test::Key;
using test::RelayApi;
using test::SharedState;
using test::SharedStateApi;
using test::Switch;
using testkit::ChildProcess;

constexpr const char* kObject = "test/state";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Key key(const std::string& text) {
  Key made{};
  std::strncpy(made.key, text.c_str(), sizeof made.key - 1);
  return made;
}

class ServiceObjectTest : public testkit::NodeTest {
 protected:
  ServiceObjectTest() : NodeTest("object-test") {}

  // A SharedState served as kObject in another process, up and serving.
  static void start_server(std::optional<ChildProcess>& child) {
    auto spawned = ChildProcess::spawn({STATEBUS_TEST_CHILD, "serve-object", "state-server", kObject});
    ASSERT_TRUE(spawned) << spawned.error().message();
    ASSERT_EQ(spawned->read_line(30s), "serving") << spawned->describe();
    child = std::move(*spawned);
  }
  Proxy<SharedStateApi> proxy() {
    auto made = Proxy<SharedStateApi>::create(*node_, kObject, 10s);
    EXPECT_TRUE(made) << made.error().message();
    return std::move(*made);
  }
};

TEST_F(ServiceObjectTest, TheSharedStateObjectIsUsedFromSeveralProcesses) {
  std::optional<ChildProcess> server;
  ASSERT_NO_FATAL_FAILURE(start_server(server));
  // Two writers in two more processes, each through its own proxy.
  auto kitchen = ChildProcess::spawn({STATEBUS_TEST_CHILD, "set-entries", "writer-1", kObject, "kitchen", "1.5", "40"});
  auto hall = ChildProcess::spawn({STATEBUS_TEST_CHILD, "set-entries", "writer-2", kObject, "hall", "0.25", "30"});
  ASSERT_TRUE(kitchen && hall);
  EXPECT_EQ(kitchen->read_line(30s), "set 40") << kitchen->describe();
  EXPECT_EQ(hall->read_line(30s), "set 30") << hall->describe();

  // Every value they set is read back here, from the object in the server.
  auto state = proxy();
  for (int i = 1; i <= 40; ++i) {
    auto found = state.get(key("kitchen-" + std::to_string(i)));
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_TRUE(found->found) << "kitchen-" << i;
    EXPECT_EQ(found->value, 1.5 * i);
    EXPECT_EQ(found->server_pid, server->pid());
  }
  for (int i = 1; i <= 30; ++i) {
    auto found = state.get(key("hall-" + std::to_string(i)));
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_EQ(found->value, 0.25 * i);
  }
  auto missing = state.get(key("attic"));
  ASSERT_TRUE(missing) << missing.error().message();
  EXPECT_FALSE(missing->found);

  auto size = state.size();  // a Nothing request: no argument
  ASSERT_TRUE(size) << size.error().message();
  EXPECT_EQ(size->entries, 70U);
  auto keys = state.keys();  // written in place by the object
  ASSERT_TRUE(keys) << keys.error().message();
  const std::string text(keys->text);
  EXPECT_TRUE(contains(text, "hall-30\n") && contains(text, "kitchen-1\n") && contains(text, "kitchen-40\n")) << text;

  ASSERT_TRUE(state.clear());  // void clear(): answers Nothing
  auto cleared = state.size();
  ASSERT_TRUE(cleared) << cleared.error().message();
  EXPECT_EQ(cleared->entries, 0U);
}

TEST_F(ServiceObjectTest, AProxyCallsWithTheRequestsFieldsOrTheRequestAndWaitsOnEitherClock) {
  std::optional<ChildProcess> server;
  ASSERT_NO_FATAL_FAILURE(start_server(server));
  auto state = proxy();
  Entry by_value{};
  std::strncpy(by_value.key, "porch", sizeof by_value.key - 1);
  by_value.value = 7.0;
  ASSERT_TRUE(state.set(by_value));
  ASSERT_TRUE(state.set({"cellar", 11.0}));  // braces: the request's fields, text included

  state.set_timeout(virtual_timeout(30s));  // the bus's clock from now on
  auto porch = state.get({"porch"});
  ASSERT_TRUE(porch) << porch.error().message();
  EXPECT_EQ(porch->value, 7.0);

  auto pending = state.get_async(key("cellar"));
  ASSERT_TRUE(pending) << pending.error().message();
  auto cellar = pending->wait(10s);
  ASSERT_TRUE(cellar);
  ASSERT_TRUE(*cellar) << cellar->error().message();
  EXPECT_EQ((*cellar)->value, 11.0);
  EXPECT_EQ(state.client<SharedStateApi::get_method>().server()->pid, server->pid());
}

TEST_F(ServiceObjectTest, AMemberThatRefusesOrThrowsFailsItsCallAndTheObjectKeepsServing) {
  std::optional<ChildProcess> server;
  ASSERT_NO_FATAL_FAILURE(start_server(server));
  auto state = proxy();
  auto refused = state.set({"", 1.0});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), CallErrc::refused);
  EXPECT_TRUE(contains(refused.error().message(), "a key is needed")) << refused.error().message();
  auto threw = state.set({"throw", 1.0});
  ASSERT_FALSE(threw);
  EXPECT_EQ(threw.error().code(), CallErrc::refused);
  EXPECT_TRUE(contains(threw.error().message(), "asked to throw")) << threw.error().message();

  ASSERT_TRUE(state.set({"after", 3.0}));
  auto after = state.get({"after"});
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->value, 3.0);
  auto size = state.size();
  ASSERT_TRUE(size);
  EXPECT_EQ(size->entries, 1U);  // neither refused call changed the object
}

TEST_F(ServiceObjectTest, EachMethodIsAServiceOfItsOwnNamedAfterTheObject) {
  std::optional<ChildProcess> server;
  ASSERT_NO_FATAL_FAILURE(start_server(server));
  auto services = list_services(*node_);
  ASSERT_TRUE(services) << services.error().message();
  std::vector<std::string> names;
  for (const auto& service : *services) {
    if (service.name.rfind(std::string(kObject) + "/", 0) == 0) names.push_back(service.name);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"test/state/clear", "test/state/get", "test/state/keys", "test/state/set",
                                             "test/state/size"}));
}

// Reaches: ObjectServer::create Errc::already_running
TEST_F(ServiceObjectTest, AProxyOfOtherTypesAndASecondServerAreRefusedAtCreateSayingWhy) {
  std::optional<ChildProcess> server;
  ASSERT_NO_FATAL_FAILURE(start_server(server));
  auto wrong = Proxy<test::WrongStateApi>::create(*node_, kObject);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::type_mismatch);
  EXPECT_TRUE(contains(wrong.error().message(), "test/state/get")) << wrong.error().message();
  EXPECT_TRUE(contains(wrong.error().message(), "test/Key") && contains(wrong.error().message(), "test/Entry"))
      << wrong.error().message();

  auto second = ObjectServer<SharedStateApi>::create(*node_, kObject);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::already_running);
  EXPECT_TRUE(contains(second.error().message(), std::to_string(server->pid()))) << second.error().message();

  auto bad = Proxy<SharedStateApi>::create(*node_, "test/_state");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::invalid_argument);

  // The first server was not disturbed by either.
  auto state = proxy();
  ASSERT_TRUE(state.set({"still", 1.0}));
}

TEST_F(ServiceObjectTest, AProxyWithNoServerFailsSayingWhichMethodHasNone) {
  auto made = Proxy<SharedStateApi>::create(*node_, "test/nobody", 200ms);
  ASSERT_TRUE(made) << made.error().message();
  auto size = made->size();
  ASSERT_FALSE(size);
  EXPECT_EQ(size.error().code(), CallErrc::no_server);
  EXPECT_TRUE(contains(size.error().message(), "test/nobody/size")) << size.error().message();
}

TEST_F(ServiceObjectTest, StatebusCallReachesEachMethodAlsoOneWithoutArguments) {
  std::optional<ChildProcess> server;
  ASSERT_NO_FATAL_FAILURE(start_server(server));
  auto [set, set_status] = test::run_cli({"call", "test/state/set", "key=shell", "value=2.5"});
  ASSERT_EQ(set_status, 0) << set;
  auto [got, got_status] = test::run_cli({"call", "test/state/get", R"({"key": "shell"})", "--json"});
  ASSERT_EQ(got_status, 0) << got;
  const auto found = nlohmann::json::parse(got);
  EXPECT_EQ(found["value"], 2.5);
  EXPECT_EQ(found["found"], true);
  auto [size, size_status] = test::run_cli({"call", "test/state/size", "--json"});  // a Nothing request
  ASSERT_EQ(size_status, 0) << size;
  EXPECT_EQ(nlohmann::json::parse(size)["entries"], 1);
}

// Reaches: ObjectServer::create Errc::type_mismatch
// Reaches: ObjectServer::create Errc::invalid_argument
// Reaches: ObjectServer::create Errc::payload_too_large
TEST_F(ServiceObjectTest, AnObjectOfOtherTypesABadNameOrATooLargeResponseIsRefusedAtCreateAndClaimsNothing) {
  {
    auto clients = proxy();  // its clients declare the calls' types of test/state/*
    auto wrong = ObjectServer<test::WrongStateApi>::create(*node_, kObject);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code(), Errc::type_mismatch);
    EXPECT_TRUE(contains(wrong.error().message(), "test/state/get")) << wrong.error().message();
  }
  auto bad = ObjectServer<SharedStateApi>::create(*node_, "test/_state");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::invalid_argument);

  // One method over the largest payload: no method of the object is claimed.
  auto huge = ObjectServer<test::HugeApi>::create(*node_, "test/huge");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code(), Errc::payload_too_large);
  EXPECT_TRUE(contains(huge.error().message(), "test/huge/dump")) << huge.error().message();
  auto services = list_services(*node_);
  ASSERT_TRUE(services) << services.error().message();
  for (const auto& service : *services) {
    EXPECT_FALSE(service.name == "test/huge/size" && service.server) << "test/huge/size is still claimed";
  }
  auto small = Server<Nothing, test::Count>::create(*node_, "test/huge/size");
  EXPECT_TRUE(small) << small.error().message();
}

// The blog's call recorder: the test plays the hardware layer with an object
// that records every call made on it by the code under test, in another process.
TEST_F(ServiceObjectTest, ATestRecordsTheCallsTheCodeUnderTestMakesOnItsHardware) {
  struct RecordingRelay {
    std::vector<Switch> calls;
    void set(const Switch& s) { calls.push_back(s); }
  } relay;
  auto server = ObjectServer<RelayApi>::create(*node_, "test/relay");
  ASSERT_TRUE(server) << server.error().message();
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  ASSERT_TRUE(serve(*loop, *server, relay));
  auto code_under_test = ChildProcess::spawn({STATEBUS_TEST_CHILD, "switch-relay", "heating", "test/relay", "5"});
  ASSERT_TRUE(code_under_test);
  std::thread serving([&] { (void)loop->run(); });
  EXPECT_EQ(code_under_test->read_line(30s), "switched 5") << code_under_test->describe();
  loop->stop();
  serving.join();

  ASSERT_EQ(relay.calls.size(), 5U);
  for (std::uint32_t step = 1; step <= 5; ++step) {
    EXPECT_EQ(relay.calls[step - 1].step, step);
    EXPECT_EQ(relay.calls[step - 1].on, step % 2 == 1) << "step " << step;
  }
  EXPECT_EQ(server->answered(), 5U);
}

}  // namespace
}  // namespace statebus
