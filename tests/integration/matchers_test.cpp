// The test toolkit's matchers and log capture: each passes where it should
// and fails, saying why, where it should.
#include <chrono>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"
#include "statebus/testing/call_matchers.hpp"
#include "statebus/testing/log_capture.hpp"
#include "statebus/testing/matchers.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::Answer;
using test::Ask;
using test::Reading;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::Not;
using testkit::AnsweredWith;
using testkit::CalledWith;
using testkit::ChildProcess;
using testkit::ContainsInOrder;
using testkit::InVirtualTimeOrder;
using testkit::IsLog;
using testkit::LogCapture;
using testkit::RecordedCall;
using testkit::RecordedValue;
using testkit::RefusedWith;
using testkit::VirtualTimeBetween;
using testkit::WithoutSequenceGaps;

const VirtualClock::time_point t0{};

Recorded<Reading> reading(std::uint64_t index, VirtualClock::duration at, std::uint64_t port = 7) {
  Recorded<Reading> r{};
  r.value.index = index;
  r.value.celsius = 20.0 + static_cast<double>(index);
  r.header.sequence = index;
  r.header.publisher_port = port;
  r.header.virtual_time_ns = at.count();
  return r;
}

template <class M, class T>
std::string explain(const M& matcher, const T& value) {
  ::testing::StringMatchResultListener listener;
  ::testing::SafeMatcherCast<const T&>(matcher).MatchAndExplain(value, &listener);
  return listener.str();
}

TEST(Matchers, RecordedValueMatchesTheValueAndSaysWhy) {
  const auto r = reading(3, 6h);
  EXPECT_THAT(r, RecordedValue(Field(&Reading::index, 3U)));
  EXPECT_THAT(r, Not(RecordedValue(Field(&Reading::index, 4U))));
  const std::vector<Recorded<Reading>> all = {reading(1, 1h), reading(2, 2h)};
  EXPECT_THAT(all, Contains(RecordedValue(Field(&Reading::celsius, 22.0))));
  EXPECT_THAT(all, Not(Contains(RecordedValue(Field(&Reading::celsius, 25.0)))));
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(r, RecordedValue(Field(&Reading::index, 9U))), "whose value");
}

TEST(Matchers, VirtualTimeBetweenIncludesBothEnds) {
  const auto heater_on = reading(1, 6h + 2min);
  EXPECT_THAT(heater_on, VirtualTimeBetween(t0 + 6h, t0 + 6h + 5min));
  EXPECT_THAT(reading(1, 6h), VirtualTimeBetween(t0 + 6h, t0 + 6h + 5min));
  EXPECT_THAT(reading(1, 6h + 5min), VirtualTimeBetween(t0 + 6h, t0 + 6h + 5min));
  EXPECT_THAT(reading(1, 6h + 5min + 1ns), Not(VirtualTimeBetween(t0 + 6h, t0 + 6h + 5min)));
  EXPECT_THAT(reading(1, 5h), Not(VirtualTimeBetween(t0 + 6h, t0 + 6h + 5min)));
  EXPECT_THAT(explain(VirtualTimeBetween(t0 + 6h, t0 + 6h + 5min), reading(1, 7h + 30s)),
              ::testing::HasSubstr("07:00:30.000"));
  const std::vector<Recorded<Reading>> day = {reading(1, 1h), reading(2, 6h + 1min), reading(3, 9h)};
  EXPECT_THAT(day,
              Contains(AllOf(RecordedValue(Field(&Reading::index, 2U)), VirtualTimeBetween(t0 + 6h, t0 + 6h + 5min))));
  EXPECT_THAT(day, Not(Contains(AllOf(RecordedValue(Field(&Reading::index, 3U)),
                                      VirtualTimeBetween(t0 + 6h, t0 + 6h + 5min)))));
}

TEST(Matchers, InVirtualTimeOrderNamesTheFirstElementOutOfOrder) {
  EXPECT_THAT((std::vector<Recorded<Reading>>{reading(1, 1s), reading(2, 1s), reading(3, 2s)}), InVirtualTimeOrder());
  const std::vector<Recorded<Reading>> shuffled = {reading(1, 1s), reading(2, 3s), reading(3, 2s)};
  EXPECT_THAT(shuffled, Not(InVirtualTimeOrder()));
  EXPECT_THAT(explain(InVirtualTimeOrder(), shuffled), ::testing::HasSubstr("element 2"));
  EXPECT_THAT(std::vector<Recorded<Reading>>{}, InVirtualTimeOrder());
}

TEST(Matchers, WithoutSequenceGapsLooksAtEachPublisherApart) {
  // Two publishers interleaved, each contiguous.
  EXPECT_THAT((std::vector<Recorded<Reading>>{reading(1, 1s, 1), reading(1, 1s, 2), reading(2, 2s, 1),
                                              reading(2, 2s, 2)}),
              WithoutSequenceGaps());
  const std::vector<Recorded<Reading>> gap = {reading(1, 1s, 1), reading(2, 1s, 1), reading(4, 2s, 1)};
  EXPECT_THAT(gap, Not(WithoutSequenceGaps()));
  EXPECT_THAT(explain(WithoutSequenceGaps(), gap), ::testing::HasSubstr("sequence 4 after 2"));
}

// A call of test/calc as testkit::calls gives it: request `index` at
// `at`, answered (2 × index) or refused (`refused`) 1 ms later, or neither.
enum class Outcome { answered, refused, none };
RecordedCall<Ask, Answer> calc_call(std::uint32_t id, VirtualClock::duration at, Outcome outcome = Outcome::answered) {
  RecordedCall<Ask, Answer> call;
  call.id = id;
  call.client_port = 5;
  call.request.value.index = id;
  call.request.value.value = static_cast<double>(id);
  call.request.header.sequence = id;
  call.request.header.publisher_pid = 41;
  call.request.header.virtual_time_ns = at.count();
  SampleHeader answered{};
  answered.publisher_pid = 40;
  answered.reply_to = id;
  answered.virtual_time_ns = (at + 1ms).count();
  if (outcome == Outcome::answered) {
    call.response = Recorded<Answer>{answered, Answer{}};
    call.response->value.index = id;
    call.response->value.doubled = 2.0 * id;
  } else if (outcome == Outcome::refused) {
    call.refusal = testkit::RecordedRefusal{answered, false, "too many: " + std::to_string(id)};
  }
  return call;
}

TEST(CallMatchers, CalledWithAndAnsweredWithMatchTheRequestAndTheResponse) {
  const std::vector<RecordedCall<Ask, Answer>> calls = {calc_call(1, 1s), calc_call(2, 2s, Outcome::refused),
                                                        calc_call(3, 3s, Outcome::none)};
  EXPECT_THAT(calls, Contains(CalledWith(Field(&Ask::index, 2U))));
  EXPECT_THAT(calls, Not(Contains(CalledWith(Field(&Ask::index, 4U)))));
  EXPECT_THAT(calls, Contains(AllOf(CalledWith(Field(&Ask::index, 1U)), AnsweredWith(Field(&Answer::doubled, 2.0)))));
  EXPECT_THAT(calls[1], Not(AnsweredWith(::testing::_)));  // refused: no response
  EXPECT_THAT(calls[2], Not(AnsweredWith(::testing::_)));  // no answer recorded
  EXPECT_THAT(calls, Contains(RefusedWith("too many: 2")));
  EXPECT_THAT(calls[0], Not(RefusedWith(".")));
}

TEST(CallMatchers, FailuresSayWhatWasCalledAndAnsweredWithVirtualTimes) {
  const auto answered = calc_call(1, 6h);
  const std::string called = explain(CalledWith(Field(&Ask::index, 9U)), answered);
  EXPECT_NE(called.find("call 1 of pid 41 at 06:00:00.000"), std::string::npos) << called;
  EXPECT_NE(called.find("index: 1"), std::string::npos) << called;
  const std::string response = explain(AnsweredWith(Field(&Answer::doubled, 5.0)), answered);
  EXPECT_NE(response.find("answered at 06:00:00.001"), std::string::npos) << response;
  EXPECT_NE(response.find("by pid 40"), std::string::npos) << response;
  EXPECT_NE(response.find("doubled: 2"), std::string::npos) << response;
  const std::string refused = explain(AnsweredWith(::testing::_), calc_call(2, 1s, Outcome::refused));
  EXPECT_NE(refused.find("refused at 00:00:01.001 (1001000000 ns) by pid 40: too many: 2"), std::string::npos)
      << refused;
  EXPECT_NE(explain(AnsweredWith(::testing::_), calc_call(3, 1s, Outcome::none)).find("not answered"),
            std::string::npos);
  const std::vector<RecordedCall<Ask, Answer>> calls = {answered};
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(calls, Contains(CalledWith(Field(&Ask::index, 9U)))),
                          "call 1 of pid 41 at 06:00:00.000");
}

TEST(CallMatchers, ContainsInOrderAllowsOthersBetweenAndNamesTheFirstMissing) {
  const std::vector<RecordedCall<Ask, Answer>> calls = {calc_call(1, 1s), calc_call(2, 2s), calc_call(3, 3s)};
  EXPECT_THAT(calls, ContainsInOrder(CalledWith(Field(&Ask::index, 1U)), CalledWith(Field(&Ask::index, 3U))));
  EXPECT_THAT(calls, Not(ContainsInOrder(CalledWith(Field(&Ask::index, 3U)), CalledWith(Field(&Ask::index, 1U)))));
  const std::string why =
      explain(ContainsInOrder(CalledWith(Field(&Ask::index, 2U)), CalledWith(Field(&Ask::index, 1U))), calls);
  EXPECT_NE(why.find("no element after element 1 is a call whose request"), std::string::npos) << why;
  EXPECT_NE(why.find("matched elements 1"), std::string::npos) << why;
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT(calls, ContainsInOrder(CalledWith(Field(&Ask::index, 3U)), CalledWith(Field(&Ask::index, 2U)))),
      "call 2 of pid 41 at 00:00:02.000");  // the recorded calls are listed
  // Any container: samples sent in an order.
  const std::vector<Recorded<Reading>> readings = {reading(1, 1h), reading(2, 2h), reading(3, 3h)};
  EXPECT_THAT(readings,
              ContainsInOrder(RecordedValue(Field(&Reading::index, 2U)), VirtualTimeBetween(t0 + 3h, t0 + 3h)));
}

TEST(Matchers, IsLogMatchesLevelAndPattern) {
  LogEntry entry;
  entry.level = LogLevel::error;
  entry.process = "heating";
  entry.text = "sensor timed out after 5 s";
  EXPECT_THAT(entry, IsLog(LogLevel::warn, "timed out"));
  EXPECT_THAT(entry, IsLog(LogLevel::error, "after [0-9]+ s$"));
  EXPECT_THAT(entry, Not(IsLog(LogLevel::critical, "timed out")));
  EXPECT_THAT(entry, Not(IsLog(LogLevel::info, "heater on")));
}

class LogCaptureTest : public testkit::NodeTest {
 protected:
  LogCaptureTest() : NodeTest("log-capture-test") {}
  ChildProcess log_child(const std::string& name, const std::string& error = {}) {
    std::vector<std::string> args = {STATEBUS_TEST_CHILD, "log", name, "3"};
    if (!error.empty()) args.push_back(error);
    auto child = ChildProcess::spawn(args);
    EXPECT_TRUE(child) << child.error().message();
    return std::move(*child);
  }
};

TEST_F(LogCaptureTest, WaitsForARecordByLevelPatternAndProcess) {
  auto logs = LogCapture::start(*node_);
  ASSERT_TRUE(logs) << logs.error().message();
  ChildProcess a = log_child("alpha");
  ChildProcess b = log_child("beta");
  const auto found = logs->wait_for(LogLevel::info, "record 2 of", virtual_timeout(30s), "beta");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->process, "beta");
  EXPECT_EQ(found->text, "record 2 of beta");
  const auto warning = logs->wait_for(LogLevel::warn, "is done", virtual_timeout(30s), "alpha");
  ASSERT_TRUE(warning);
  EXPECT_EQ(warning->level, LogLevel::warn);
  EXPECT_TRUE(logs->check());
}

TEST_F(LogCaptureTest, WaitForGivesUpWhenVirtualTimeRunsOut) {
  auto logs = LogCapture::start(*node_);
  ASSERT_TRUE(logs);
  ChildProcess a = log_child("alpha");
  ASSERT_EQ(a.read_line(30s), "logged 3");
  ASSERT_TRUE(logs->wait_for(LogLevel::warn, "alpha is done", virtual_timeout(30s)));
  // Everything alpha logs is in; nothing matches this, so only time ends the wait.
  EXPECT_FALSE(logs->wait_for(LogLevel::info, "never logged", virtual_timeout(200ms)));
  EXPECT_FALSE(logs->wait_for(LogLevel::error, "record", virtual_timeout(1ms)));  // info records are below error
}

TEST_F(LogCaptureTest, AnUnexpectedErrorFailsTheTest) {
  auto logs = LogCapture::start(*node_);
  ASSERT_TRUE(logs);
  ChildProcess a = log_child("alpha", "disk on fire");
  ASSERT_TRUE(logs->wait_for(LogLevel::error, "disk on fire", virtual_timeout(30s)));
  EXPECT_EQ(logs->unexpected_errors().size(), 1U);
  EXPECT_NONFATAL_FAILURE(logs->check(), "unexpected error log record from alpha");
  EXPECT_TRUE(logs->check());  // each record fails the test once
}

TEST_F(LogCaptureTest, AnExpectedErrorPasses) {
  auto logs = LogCapture::start(*node_);
  ASSERT_TRUE(logs);
  logs->expect_error("sensor .* timed out");
  ChildProcess a = log_child("alpha", "sensor kitchen timed out");
  ASSERT_TRUE(logs->wait_for(LogLevel::error, "timed out", virtual_timeout(30s)));
  EXPECT_TRUE(logs->unexpected_errors().empty());
  EXPECT_TRUE(logs->check());
}

}  // namespace
}  // namespace statebus
