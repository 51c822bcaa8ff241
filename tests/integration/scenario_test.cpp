// The scenario toolkit itself: children from functions of this program,
// scripted inputs on virtual time, and the report of how children ended.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/service.hpp"
#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/call_matchers.hpp"
#include "statebus/testing/main.hpp"
#include "statebus/testing/matchers.hpp"
#include "statebus/testing/scenario.hpp"
#include "test_messages.hpp"

using namespace std::chrono_literals;

// Echoes every reading on test/in to test/out, doubled, on an event loop.
STATEBUS_TEST_FUNCTION(doubler) {
  auto node = statebus::Node::connect(argc > 1 ? argv[1] : "doubler");
  if (!node) return 1;
  auto in = statebus::Subscriber<statebus::test::Reading>::create(*node, "test/in");
  auto out = statebus::Publisher<statebus::test::Reading>::create(*node, "test/out");
  auto loop = statebus::EventLoop::create(*node);
  if (!in || !out || !loop) return 2;
  (void)loop->on(*in, [&](const statebus::Sample<statebus::test::Reading>& s) {
    auto value = s.value();
    value.celsius *= 2;
    (void)out->publish(value);
  });
  std::printf("ready\n");
  std::fflush(stdout);
  loop->run();  // until SIGTERM ends the process
  return 0;
}

STATEBUS_TEST_FUNCTION(crasher) {
  std::printf("ready\n");
  std::fflush(stdout);
  std::abort();
}

STATEBUS_TEST_FUNCTION(stubborn) {
  std::signal(SIGTERM, SIG_IGN);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) ::pause();
}

namespace statebus {
namespace {

/// Fits the daemon's 128 KiB pool, of 32 chunks.
struct Block {
  char bytes[100 * 1024];
};
STATEBUS_MESSAGE(Block, "test/Block", bytes);

using test::Answer;
using test::Ask;
using test::Reading;
using testkit::Scenario;

class ScenarioTest : public testkit::NodeTest {
 protected:
  ScenarioTest() : NodeTest("scenario-test") {}
};

// A subscriber that never takes holds every chunk of its size: the script's
// samples stop fitting, and the run and the test say so.
TEST_F(ScenarioTest, AScriptThatCannotPublishFailsTheRunAndTheTestWithTheReason) {
  testkit::ScenarioOptions options;
  options.record = {};  // no recorder: it would give the chunks back
  options.capture_logs = false;
  auto hoarder = Subscriber<Block>::create(*node_, "test/blocks", SubscriberOptions{64, 0, false});
  ASSERT_TRUE(hoarder);
  std::optional<Result<void>> ran;
  EXPECT_NONFATAL_FAILURE(
      {
        auto story = Scenario::start(*node_, options);
        if (story) {
          (void)story->script<Block>("test/blocks", 1s,
                                     [](VirtualClock::duration) { return std::optional<Block>(Block{}); });
          ran = story->run_for(60s);
        }
      },
      "the script on channel 'test/blocks' could not publish its sample");
  ASSERT_TRUE(ran);
  ASSERT_FALSE(*ran);
  EXPECT_EQ(ran->error().code(), Errc::out_of_resources);
  EXPECT_NE(ran->error().message().find("pools_exhausted"), std::string::npos) << ran->error().message();
}

TEST_F(ScenarioTest, AFunctionChildAnswersAScriptedInputOnVirtualTime) {
  testkit::ScenarioOptions options;
  options.record = {"test/**"};
  auto story = Scenario::start(*node_, options);
  ASSERT_TRUE(story) << story.error().message();
  ASSERT_TRUE(story->spawn_function("doubler", "doubler", {"doubler-1"}));
  // test/out matches a wildcard: recorded once the daemon has announced it.
  ASSERT_TRUE(story->recorder().wait_recording("test/out", 10s));
  ASSERT_TRUE(story->script<Reading>("test/in", 1min, [](VirtualClock::duration t) -> std::optional<Reading> {
    if (t > 10min) return std::nullopt;  // the script ends after ten minutes
    return Reading{static_cast<std::uint64_t>(t / 1min), 1.5, "x"};
  }));
  ASSERT_TRUE(story->run_for(1h));
  ASSERT_TRUE(story->recorder().wait_for_count("test/out", 10, virtual_timeout(1min)));

  const auto out_got = story->recorder().samples<Reading>("test/out");
  ASSERT_TRUE(out_got) << out_got.error().message();
  const auto& out = *out_got;
  ASSERT_EQ(out.size(), 10U);
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].value.index, i + 1);
    EXPECT_DOUBLE_EQ(out[i].value.celsius, 3.0);
    EXPECT_EQ(out[i].virtual_time(), story->t0() + (i + 1) * 1min);  // answered at the very time of the input
  }
  EXPECT_EQ(VirtualClock::now(), story->t0() + 1h);
  const auto reports = story->shutdown();
  ASSERT_EQ(reports.size(), 1U);
  EXPECT_FALSE(reports[0].crashed) << testkit::describe_wait_status(reports[0].status);
  EXPECT_FALSE(reports[0].killed);
}

// A client calls a service the scenario serves from a script: each call
// answered or refused as the script says, and recorded.
TEST_F(ScenarioTest, AScriptedServerAnswersCallsAsItsScriptSays) {
  testkit::ScenarioOptions options;
  options.clock = ClockMode::real;  // the waits below on virtual time end in real time
  auto story = Scenario::start(*node_, options);
  ASSERT_TRUE(story) << story.error().message();
  std::atomic<int> handled{0};
  auto served = story->serve<Ask, Answer>("test/calc", [&handled](const Ask& ask) -> Reply<Answer> {
    ++handled;
    if (ask.index == 3) return refuse("no third call");
    Answer answer;
    answer.index = ask.index;
    answer.doubled = 2 * ask.value;
    answer.server_pid = ::getpid();
    std::memcpy(answer.note, ask.note, sizeof answer.note);
    return answer;
  });
  ASSERT_TRUE(served) << served.error().message();
  auto again = story->serve<Ask, Answer>("test/calc", [](const Ask&) -> Reply<Answer> { return Answer{}; });
  ASSERT_FALSE(again);  // one server per service, said so
  EXPECT_EQ(again.error().code(), Errc::already_running);

  // The client: this test's thread. Its calls are recorded from the first
  // request on, and its replies once the recorder has found its reply channel.
  auto calc = Client<Ask, Answer>::create(*node_, "test/calc");
  ASSERT_TRUE(calc) << calc.error().message();
  auto& recorder = story->recorder();
  ASSERT_TRUE(recorder.wait_recording("test/calc/_call", 10s));
  std::vector<CallResponse<Answer>> answers;
  for (std::uint64_t i = 1; i <= 4; ++i) {
    Ask ask;
    ask.index = i;
    ask.value = 0.5 * static_cast<double>(i);
    std::strncpy(ask.note, "scripted", sizeof ask.note - 1);
    answers.push_back(calc->call(ask, 10s));
    if (i == 1) {
      ASSERT_TRUE(recorder.wait_for_count("test/calc/_call", 1, virtual_timeout(10s)));
      const std::uint64_t port = recorder.samples("test/calc/_call")[0].header.publisher_port;
      ASSERT_TRUE(recorder.wait_recording("test/calc/_reply/" + std::to_string(port), 10s));
    }
  }
  for (std::uint64_t i = 1; i <= 4; ++i) {
    const auto& answer = answers[i - 1];
    if (i == 3) {
      ASSERT_FALSE(answer);
      EXPECT_EQ(answer.error().code(), CallErrc::refused);
      EXPECT_NE(answer.error().message().find("no third call"), std::string::npos) << answer.error().message();
      continue;
    }
    ASSERT_TRUE(answer) << answer.error().message();
    EXPECT_EQ(answer->index, i);
    EXPECT_EQ(answer->doubled, static_cast<double>(i));
    EXPECT_EQ(answer->server_pid, ::getpid());
    EXPECT_STREQ(answer->note, "scripted");
  }

  ASSERT_TRUE(recorder.wait_for_count("test/calc/_call", 4, virtual_timeout(10s)));
  const std::string replies =
      "test/calc/_reply/" + std::to_string(recorder.samples("test/calc/_call")[0].header.publisher_port);
  ASSERT_TRUE(recorder.wait_for<Answer>(
      replies, [](const Answer& a) { return a.index == 4; }, virtual_timeout(10s)));
  ASSERT_TRUE(recorder.wait_for<statebus::detail::CallRefusal>(
      "test/calc/_refused", [](const statebus::detail::CallRefusal& r) { return r.notice != 0; },
      virtual_timeout(10s)));
  auto calls = testkit::calls<Ask, Answer>(recorder, "test/calc");
  ASSERT_TRUE(calls) << calls.error().message();
  const auto& got = *calls;
  ASSERT_EQ(got.size(), 4U);
  using ::testing::Contains;
  using ::testing::Field;
  using testkit::AnsweredWith;
  using testkit::CalledWith;
  EXPECT_THAT(got, testkit::ContainsInOrder(CalledWith(Field(&Ask::index, 1U)), CalledWith(Field(&Ask::index, 4U))));
  EXPECT_THAT(got, Contains(AllOf(CalledWith(Field(&Ask::index, 2U)), AnsweredWith(Field(&Answer::doubled, 2.0)))));
  EXPECT_THAT(got, Contains(AllOf(CalledWith(Field(&Ask::index, 3U)), testkit::RefusedWith("no third call"))));
  for (const auto& call : got) {
    EXPECT_EQ(call.caller().pid, ::getpid());
    if (call.request.value.index == 1) continue;  // its reply may come from history: not asserted here
    ASSERT_TRUE(call.server()) << ::testing::PrintToString(call);
    EXPECT_EQ(call.server()->pid, ::getpid());
  }
  EXPECT_EQ(handled.load(), 4);
}

TEST_F(ScenarioTest, ShutdownReportsACrashedAndAStubbornChild) {
  testkit::ScenarioOptions options;
  options.record = {};
  auto story = Scenario::start(*node_, options);
  ASSERT_TRUE(story);
  ASSERT_TRUE(story->spawn_function("crasher", "crasher"));
  ASSERT_TRUE(story->spawn_function("stubborn", "stubborn"));
  ASSERT_TRUE(story->child("crasher").wait(10s));
  story->expect_exit("crasher");
  story->expect_exit("stubborn");
  const auto reports = story->shutdown(200ms);
  ASSERT_EQ(reports.size(), 2U);
  for (const auto& report : reports) {
    if (report.name == "crasher") {
      EXPECT_TRUE(report.crashed);
      EXPECT_EQ(testkit::describe_wait_status(report.status), "SIGABRT");
    } else {
      EXPECT_TRUE(report.killed);
      EXPECT_EQ(testkit::describe_wait_status(report.status), "SIGKILL");
    }
  }
}

TEST_F(ScenarioTest, AnUnknownFunctionOrASilentChildIsAClearError) {
  auto story = Scenario::start(*node_, {});
  ASSERT_TRUE(story);
  auto missing = story->spawn_function("ghost", "no_such_function");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("ready"), std::string::npos) << missing.error().message();
  story->expect_exit("ghost");
  auto twice = story->spawn_function("ghost", "crasher");
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message().find("already"), std::string::npos);
}

}  // namespace
}  // namespace statebus
