#pragma once
// The heating demo's processes on this test's private bus, as the tests of
// the demo (home_test.cpp, web_page_test.cpp) start and watch them: a
// Scenario recording `home/**`, the processes from STATEBUS_HOME_DIR, and
// waits on the controller's status cell and the recorder.

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "home/messages.hpp"
#include "statebus/bus.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/scenario.hpp"

namespace statebus {

class HomeProcesses : public testkit::BusTest {
 protected:

  void SetUp() override {
    BusTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    auto node = Node::connect(node_name_);
    ASSERT_TRUE(node) << node.error().message();
    node_ = std::move(*node);
    testkit::ScenarioOptions options;
    options.record = {"home/**"};
    auto story = testkit::Scenario::start(*node_, options);
    ASSERT_TRUE(story) << story.error().message();
    story_.emplace(std::move(*story));
  }
  void TearDown() override {
    story_.reset();
    BusTest::TearDown();
  }

  // Starts a demo process; once it is ready, waits until the recorder
  // records the channel it publishes on (home/** is a wildcard: the
  // recorder subscribes when the daemon announces the channel).
  void start(const std::string& name, std::vector<std::string> argv = {}) {
    argv.insert(argv.begin(), std::string(STATEBUS_HOME_DIR "/statebus-") + name);
    auto child = story_->spawn(name, std::move(argv));
    ASSERT_TRUE(child) << child.error().message();
    const std::string_view channel = name == "sensor"    ? home::kTemperatureChannel
                                     : name == "heating" ? home::kHeaterChannel
                                                         : std::string_view();
    if (!channel.empty()) {
      ASSERT_TRUE(story_->recorder().wait_recording(channel, std::chrono::seconds(10)))
          << "the recorder did not connect to " << channel << " within 10 s";
    }
  }

  // Starts the web process on a free port; returns the port.
  int start_web() {
    auto child = story_->spawn("web", {STATEBUS_HOME_DIR "/statebus-web", "--port", "0"}, "");
    EXPECT_TRUE(child) << child.error().message();
    if (!child) return 0;
    int port = 0;
    while (auto line = (*child)->read_line(std::chrono::seconds(10))) {
      std::sscanf(line->c_str(), "listening on http://127.0.0.1:%d/", &port);
      if (*line == "ready") break;
    }
    EXPECT_GT(port, 0);
    return port;
  }

  // The controller's status once it has decided on `n` readings (it decides
  // in its own process, a moment after the clock got where the test wanted).
  home::HeatingStatus status_after(std::uint64_t n) {
    auto cell = Cell<home::HeatingStatus>::open_or_create(home::kStatusCell);
    EXPECT_TRUE(cell);
    if (!cell) return {};
    // Real time: the run must get there.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      const auto [value, version] = cell->load_versioned();
      if (value.decisions >= n) return value;
      if (std::chrono::steady_clock::now() >= deadline) {
        ADD_FAILURE() << "the heating made " << value.decisions << " decisions, not " << n << ", in 60 s";
        return value;
      }
      // Woken by a store, or when a minute of the run has passed.
      if (const auto waited = cell->wait_for_change_until(version, VirtualClock::now() + std::chrono::minutes(1));
          waited.failed()) {
        ADD_FAILURE() << waited.error().message();
        return value;
      }
    }
  }

  // Waits until the recorder (which takes samples in threads of its own,
  // behind a lockstep clock) has captured the controller's first `n` switches.
  void wait_for_switches(std::uint64_t n) {
    if (n == 0) return;
    std::uint64_t count = 0;
    ASSERT_TRUE(story_->recorder().wait_for<home::HeaterCommand>(
        home::kHeaterChannel, [&](const home::HeaterCommand& c) { return c.reading_index != 0 && ++count == n; },
        virtual_timeout(std::chrono::hours(1))));
  }

  std::vector<Recorded<home::HeaterCommand>> commands() { return recorded<home::HeaterCommand>(home::kHeaterChannel); }
  std::vector<Recorded<home::TemperatureReading>> readings() {
    return recorded<home::TemperatureReading>(home::kTemperatureChannel);
  }
  /// The recorded samples of `channel`; a type mismatch fails the test with its reason.
  template <class T>
  std::vector<Recorded<T>> recorded(std::string_view channel) {
    auto got = story_->recorder().samples<T>(channel);
    if (!got) {
      ADD_FAILURE() << got.error().message();
      return {};
    }
    return std::move(*got);
  }

  std::string node_name_ = "home-test";  ///< set before SetUp to name this test's node
  std::optional<Node> node_;
  std::optional<testkit::Scenario> story_;
};

}  // namespace statebus
