// The recorder: every sample of other processes captured in order, logs of
// several processes, wildcard channels found later, gaps reported, MCAP files.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "statebus/bus.hpp"
#include "statebus/recorder/mcap.hpp"
#include "statebus/recorder/recorder.hpp"
#include "statebus/recorder/replay.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::Reading;
using testkit::ChildProcess;

RecorderOptions recording(std::vector<std::string> patterns, std::string mcap_path = {}) {
  RecorderOptions options;
  options.patterns = std::move(patterns);
  options.mcap_path = std::move(mcap_path);
  return options;
}

class RecorderTest : public testkit::NodeTest {
 protected:
  RecorderTest() : NodeTest("recorder-test") {}

  ChildProcess child(std::vector<std::string> args) {
    args.insert(args.begin(), STATEBUS_TEST_CHILD);
    auto spawned = ChildProcess::spawn(std::move(args));
    EXPECT_TRUE(spawned) << spawned.error().message();
    return std::move(*spawned);
  }

  std::string temp_path(const std::string& name) const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return ::testing::TempDir() + "statebus-" + info->name() + "-" + name;
  }
};

TEST(ChannelPattern, MatchesOnePartOrAnyNumberOfParts) {
  auto one = ChannelPattern::parse("home/actuator/*");
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_FALSE(one->exact());
  EXPECT_TRUE(one->matches("home/actuator/heater"));
  EXPECT_FALSE(one->matches("home/actuator"));
  EXPECT_FALSE(one->matches("home/actuator/heater/left"));
  EXPECT_FALSE(one->matches("home/sensor/heater"));

  auto any = ChannelPattern::parse("home/**");
  ASSERT_TRUE(any);
  EXPECT_TRUE(any->matches("home"));
  EXPECT_TRUE(any->matches("home/a/b/c"));
  EXPECT_FALSE(any->matches("house/a"));

  auto middle = ChannelPattern::parse("a/**/z");
  ASSERT_TRUE(middle);
  EXPECT_TRUE(middle->matches("a/z"));
  EXPECT_TRUE(middle->matches("a/b/c/z"));
  EXPECT_FALSE(middle->matches("a/b/c"));

  auto exact = ChannelPattern::parse("home/sensor/temperature");
  ASSERT_TRUE(exact);
  EXPECT_TRUE(exact->exact());
  EXPECT_TRUE(exact->matches("home/sensor/temperature"));
  EXPECT_FALSE(exact->matches("home/sensor/temperatures"));
}

// Reaches: ChannelPattern::parse Errc::invalid_argument
TEST(ChannelPattern, RefusesBadPatternsSayingWhichPart) {
  for (const char* bad : {"", "home/act*", "home//x", "home/bad name", "a/**/b/c/d/e/f/g/h/i"}) {
    auto parsed = ChannelPattern::parse(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), Errc::invalid_argument);
    EXPECT_NE(parsed.error().message().find("pattern"), std::string::npos) << parsed.error().message();
  }
  EXPECT_NE(ChannelPattern::parse("home/act*").error().message().find("act*"), std::string::npos);
}

TEST_F(RecorderTest, CapturesEveryOneOf100000CommandsOfAChildInOrderWithoutGap) {
  auto sut = Recorder::start(*node_, recording({"test/commands"}));
  ASSERT_TRUE(sut) << sut.error().message();
  constexpr long kCount = 100000;
  ChildProcess publisher = child({"publish", "commander", "test/commands", std::to_string(kCount)});
  ASSERT_EQ(publisher.read_line(120s), "sent " + std::to_string(kCount));
  ASSERT_TRUE(sut->wait_for_count("test/commands", kCount, virtual_timeout(60s)));

  const auto commands_got = sut->samples<Reading>("test/commands");
  ASSERT_TRUE(commands_got) << commands_got.error().message();
  const auto& commands = *commands_got;
  ASSERT_EQ(commands.size(), static_cast<std::size_t>(kCount));
  for (long i = 0; i < kCount; ++i) {
    ASSERT_EQ(commands[static_cast<std::size_t>(i)].value.index, static_cast<std::uint64_t>(i + 1)) << "at " << i;
    ASSERT_EQ(commands[static_cast<std::size_t>(i)].header.sequence, static_cast<std::uint64_t>(i + 1));
  }
  EXPECT_TRUE(sut->gaps().empty());
  auto summary = sut->stop();
  ASSERT_TRUE(summary) << summary.error().message();
  ASSERT_EQ(summary->channels.size(), 1U);
  EXPECT_EQ(summary->channels[0].samples, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(summary->channels[0].gaps, 0U);
  EXPECT_EQ(summary->channels[0].publishers, 1U);
  ASSERT_TRUE(summary->channels[0].schema);
  EXPECT_EQ(summary->channels[0].schema->fingerprint, schema_of<Reading>().fingerprint);
}

// Asking for the wrong type is an error naming both types, never an empty
// list that a Not(Contains(...)) would pass.
TEST_F(RecorderTest, SamplesOfAnotherTypeThanAskedForAreAnErrorNamingBothTypes) {
  auto sut = Recorder::start(*node_, recording({"typed/readings", "typed/bytes"}));
  ASSERT_TRUE(sut) << sut.error().message();
  auto readings = Publisher<Reading>::create(*node_, "typed/readings");
  auto bytes = UntypedPublisher::create(*node_, "typed/bytes");
  ASSERT_TRUE(readings && bytes);
  ASSERT_TRUE(readings->wait_for_subscribers(10s) && bytes->wait_for_subscribers(10s));
  ASSERT_TRUE(readings->publish(Reading{1, 20.5, "hall"}));
  ASSERT_TRUE(bytes->publish("abc", 3));
  ASSERT_TRUE(sut->wait_for_count("typed/readings", 1, virtual_timeout(30s)));
  ASSERT_TRUE(sut->wait_for_count("typed/bytes", 1, virtual_timeout(30s)));

  const auto right = sut->samples<Reading>("typed/readings");
  ASSERT_TRUE(right) << right.error().message();
  ASSERT_EQ(right->size(), 1U);
  EXPECT_EQ(right->front().value.index, 1U);

  const auto wrong = sut->samples<test::Wide>("typed/readings");
  ASSERT_FALSE(wrong) << "a Wide list of " << wrong->size();
  EXPECT_EQ(wrong.error().code(), Errc::type_mismatch);
  for (const char* part : {"'typed/readings'", "'test/Reading'", "'test/Wide'"}) {
    EXPECT_NE(wrong.error().message().find(part), std::string::npos) << wrong.error().message();
  }
  const auto untyped = sut->samples<Reading>("typed/bytes");
  ASSERT_FALSE(untyped);
  EXPECT_NE(untyped.error().message().find("untyped bytes"), std::string::npos) << untyped.error().message();

  const auto none = sut->samples<Reading>("typed/nothing");  // nothing recorded: nothing to mismatch
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// A wait that can never be met says why at once: a channel the recorder
// does not record, a type the channel does not carry, logs it does not
// capture. Before, each ran out its time as if nothing had come yet.
TEST_F(RecorderTest, WaitsThatCanNeverBeMetFailSayingWhy) {
  auto sut = Recorder::start(*node_, recording({"typed/**"}));
  ASSERT_TRUE(sut) << sut.error().message();
  auto readings = Publisher<Reading>::create(*node_, "typed/readings");
  ASSERT_TRUE(readings);
  ASSERT_TRUE(sut->wait_recording("typed/readings", 10s));
  ASSERT_TRUE(readings->publish(Reading{1, 20.5, "hall"}));
  const auto first = sut->wait_for<Reading>(
      "typed/readings", [](const Reading& r) { return r.index == 1; }, virtual_timeout(30s));
  ASSERT_TRUE(first) << to_string(first.status());
  EXPECT_EQ(first->value.celsius, 20.5);

  for (const Waited& waited :
       {sut->wait_recording("other/readings", 10s), sut->wait_for_count("other/readings", 1, virtual_timeout(0s))}) {
    ASSERT_EQ(waited.status(), Waited::Status::failed) << to_string(waited.status());
    EXPECT_EQ(waited.error().code(), Errc::invalid_argument);
    for (const char* part : {"'other/readings'", "'typed/**'"}) {
      EXPECT_NE(waited.error().message().find(part), std::string::npos) << waited.error().message();
    }
  }
  const auto wide = sut->wait_for<test::Wide>(
      "typed/readings", [](const test::Wide&) { return true; }, virtual_timeout(0s));
  ASSERT_EQ(wide.status(), Waited::Status::failed) << to_string(wide.status());
  EXPECT_EQ(wide.error().code(), Errc::type_mismatch);
  for (const char* part : {"'typed/readings'", "'test/Reading'", "'test/Wide'"}) {
    EXPECT_NE(wide.error().message().find(part), std::string::npos) << wide.error().message();
  }
  const auto log = sut->wait_for_log([](const LogEntry&) { return true; }, virtual_timeout(0s));
  ASSERT_EQ(log.status(), Waited::Status::failed) << to_string(log.status());
  EXPECT_EQ(log.error().code(), Errc::invalid_argument);
  EXPECT_NE(log.error().message().find(std::string(kLogChannel)), std::string::npos) << log.error().message();

  // A channel it records that has nothing yet is a plain timeout.
  const Waited quiet = sut->wait_for_count("typed/quiet", 1, virtual_timeout(0s));
  EXPECT_EQ(quiet.status(), Waited::Status::timed_out);
}

TEST_F(RecorderTest, LogRecordsOfThreeProcessesArriveWithTheirNames) {
  auto sut = Recorder::start(*node_, recording({std::string(kLogChannel)}));
  ASSERT_TRUE(sut) << sut.error().message();
  std::vector<ChildProcess> children;
  for (const char* name : {"sensor", "heating", "web"}) children.push_back(child({"log", name, "20"}));
  for (auto& c : children) ASSERT_EQ(c.read_line(30s), "logged 20");
  ASSERT_TRUE(sut->wait_for_count(kLogChannel, 3 * 21, virtual_timeout(30s)));

  const auto logs = sut->logs();
  ASSERT_EQ(logs.size(), 63U);
  for (const char* name : {"sensor", "heating", "web"}) {
    int info = 0;
    int warnings = 0;
    for (const LogEntry& entry : logs) {
      if (entry.process != name) continue;
      EXPECT_GT(entry.pid, 0);
      EXPECT_GT(entry.wall_time, std::chrono::system_clock::time_point{});
      if (entry.level == LogLevel::info) {
        ++info;
        EXPECT_EQ(entry.text, "record " + std::to_string(info) + " of " + name);  // in order per process
      }
      if (entry.level == LogLevel::warn && entry.text == std::string(name) + " is done") ++warnings;
    }
    EXPECT_EQ(info, 20) << name;
    EXPECT_EQ(warnings, 1) << name;
  }
  EXPECT_TRUE(sut->gaps().empty());
}

TEST_F(RecorderTest, WildcardPicksUpAChannelThatAppearsLater) {
  auto sut = Recorder::start(*node_, recording({"later/**"}));
  ASSERT_TRUE(sut) << sut.error().message();
  EXPECT_TRUE(sut->channels().empty());
  // The child waits until a subscriber (the recorder, once it heard of the channel) is connected.
  ChildProcess publisher = child({"publish", "latecomer", "later/deep/channel", "500"});
  ASSERT_EQ(publisher.read_line(30s), "sent 500");
  ASSERT_TRUE(sut->wait_for_count("later/deep/channel", 500, virtual_timeout(30s)));
  EXPECT_TRUE(sut->gaps().empty());
  const auto channels = sut->channels();
  ASSERT_EQ(channels.size(), 1U);
  EXPECT_EQ(channels[0].name, "later/deep/channel");
}

TEST_F(RecorderTest, SamplesSentBeforeItSubscribedAreReportedAsAGap) {
  auto sut = Recorder::start(*node_, recording({"gap/*"}));
  ASSERT_TRUE(sut) << sut.error().message();
  auto publisher = Publisher<Reading>::create(*node_, "gap/early");
  ASSERT_TRUE(publisher);
  for (std::uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(publisher->publish(Reading{i, 0.0, {}}));  // nobody listens yet
  ASSERT_TRUE(publisher->wait_for_subscribers(30s));
  for (std::uint64_t i = 6; i <= 8; ++i) ASSERT_TRUE(publisher->publish(Reading{i, 0.0, {}}));
  // The last sample always arrives (sent after the recorder was connected);
  // once it is in, everything the recorder will ever get from the channel is.
  ASSERT_TRUE(sut->wait_for<Reading>("gap/early", [](const Reading& r) { return r.index == 8; }, virtual_timeout(30s)));

  // Whether the first samples went out before the daemon connected the
  // recorder depends on the daemon's pace; either way each of the 8 samples
  // is captured or reported missing, never silently lost.
  const auto captured_got = sut->samples<Reading>("gap/early");
  ASSERT_TRUE(captured_got) << captured_got.error().message();
  const auto& captured = *captured_got;
  ASSERT_FALSE(captured.empty());
  const std::uint64_t first = captured.front().value.index;
  EXPECT_EQ(captured.size() + (first - 1), 8U);
  const auto gaps = sut->gaps();
  if (first == 1) {
    EXPECT_TRUE(gaps.empty());
  } else {
    ASSERT_EQ(gaps.size(), 1U);
    EXPECT_EQ(gaps[0].channel, "gap/early");
    EXPECT_EQ(gaps[0].missing, first - 1);
    EXPECT_EQ(gaps[0].why, "sent before the recorder subscribed");
    EXPECT_EQ(gaps[0].publisher, this_process());
  }
}

// A process that publishes at once on a new channel (the heating announcing
// "heater off" as it starts) is heard by a recorder that found the channel
// only later, through the samples its publisher keeps as history.
TEST_F(RecorderTest, SamplesSentBeforeItSubscribedAreCapturedFromThePublishersHistory) {
  auto sut = Recorder::start(*node_, recording({"early/*"}));
  ASSERT_TRUE(sut) << sut.error().message();
  auto publisher = Publisher<Reading>::create(*node_, "early/announce", PublisherOptions{3, false});
  ASSERT_TRUE(publisher);
  // Right after creation: the recorder cannot have found the channel yet.
  for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(publisher->publish(Reading{i, 0.0, {}}));
  ASSERT_TRUE(publisher->wait_for_subscribers(30s));
  ASSERT_TRUE(publisher->publish(Reading{4, 0.0, {}}));
  ASSERT_TRUE(sut->wait_for<Reading>(
      "early/announce", [](const Reading& r) { return r.index == 4; }, virtual_timeout(30s)));

  const auto captured_got = sut->samples<Reading>("early/announce");
  ASSERT_TRUE(captured_got) << captured_got.error().message();
  const auto& captured = *captured_got;
  ASSERT_EQ(captured.size(), 4U);
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_EQ(captured[i].value.index, i + 1);
  EXPECT_TRUE(sut->gaps().empty());
}

// History asked for on connecting never brings in what was sent before the
// recorder started: a recording holds what happened while it ran.
TEST_F(RecorderTest, HistoryFromBeforeItStartedIsNotRecorded) {
  auto publisher = Publisher<Reading>::create(*node_, "before/start", PublisherOptions{3, false});
  ASSERT_TRUE(publisher);
  for (std::uint64_t i = 1; i <= 2; ++i) ASSERT_TRUE(publisher->publish(Reading{i, 0.0, {}}));
  auto sut = Recorder::start(*node_, recording({"before/start"}));
  ASSERT_TRUE(sut) << sut.error().message();
  ASSERT_TRUE(publisher->wait_for_subscribers(30s));
  ASSERT_TRUE(publisher->publish(Reading{3, 0.0, {}}));
  ASSERT_TRUE(sut->wait_for<Reading>(
      "before/start", [](const Reading& r) { return r.index == 3; }, virtual_timeout(30s)));

  const auto captured_got = sut->samples<Reading>("before/start");
  ASSERT_TRUE(captured_got) << captured_got.error().message();
  const auto& captured = *captured_got;
  ASSERT_EQ(captured.size(), 1U);
  EXPECT_EQ(captured[0].value.index, 3U);
  EXPECT_TRUE(sut->gaps().empty());
}

TEST_F(RecorderTest, LossyModeCountsWhatAFullQueueDropped) {
  std::mutex mutex;
  std::condition_variable cv;
  bool first_taken = false;
  bool release = false;
  RecorderOptions options;
  options.patterns = {"lossy/x"};
  options.lossless = false;
  options.queue_depth = 1;
  options.on_sample = [&](const RecordedSample&) {  // holds the recorder at its first sample
    std::unique_lock lock(mutex);
    first_taken = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  auto sut = Recorder::start(*node_, options);
  ASSERT_TRUE(sut) << sut.error().message();
  auto publisher = Publisher<Reading>::create(*node_, "lossy/x");
  ASSERT_TRUE(publisher);
  ASSERT_TRUE(publisher->wait_for_subscribers(30s));
  ASSERT_TRUE(publisher->publish(Reading{1, 0.0, {}}));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return first_taken; }));
  }
  for (std::uint64_t i = 2; i <= 11; ++i) ASSERT_TRUE(publisher->publish(Reading{i, 0.0, {}}));  // queue of 1: 2…10 go
  {
    std::lock_guard lock(mutex);
    release = true;
    cv.notify_all();
  }
  ASSERT_TRUE(sut->wait_for_count("lossy/x", 2, virtual_timeout(30s)));
  const auto gaps = sut->gaps();
  ASSERT_EQ(gaps.size(), 1U);
  EXPECT_EQ(gaps[0].missing, 9U);
  EXPECT_EQ(gaps[0].why, "queue overflowed");
  auto summary = sut->stop();
  ASSERT_TRUE(summary);
  ASSERT_EQ(summary->channels.size(), 1U);
  EXPECT_FALSE(summary->channels[0].lossless);
  EXPECT_EQ(summary->channels[0].gaps, 9U);
}

TEST_F(RecorderTest, WaitForTimesOutOnVirtualTime) {
  auto sut = Recorder::start(*node_, recording({"nothing/here"}));
  ASSERT_TRUE(sut);
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto deadline = VirtualClock::now() + 10min;  // stepped: time stands until advanced
  std::promise<void> waiting;
  std::future<Waited> result = std::async(std::launch::async, [&] {
    bool first = true;
    return sut->wait_for(
        [&] {
          if (std::exchange(first, false)) waiting.set_value();  // the wait's deadline is set by now
          return false;  // nothing to wait for but time
        },
        virtual_timeout(10min));
  });
  waiting.get_future().wait();
  // The clock stands still: the wait ends only because time is moved on.
  ASSERT_TRUE(VirtualClock::advance_to(deadline - 1s));
  EXPECT_EQ(result.wait_for(50ms), std::future_status::timeout);  // a second short of its deadline
  ASSERT_TRUE(VirtualClock::advance_to(deadline));
  EXPECT_EQ(result.get().status(), Waited::Status::timed_out);
  ASSERT_TRUE(VirtualClock::set_real());
}

// In lockstep mode a capture thread lets samples collect after a wake-up
// (RecorderOptions::lockstep_linger) while time jumps on. A wait on
// virtual time whose deadline passed takes what is queued before it
// reports timed_out: a sample published before the deadline is found.
// Made to happen: a long linger, begun after the sample on `a`; the one
// on `b` was not ready when the thread woke, so it stays queued.
TEST_F(RecorderTest, AWaitOnVirtualTimeFindsASampleStillQueuedWhileTheRecorderLingers) {
  std::mutex mutex;
  std::condition_variable captured;
  std::atomic<std::uint64_t> samples{0};  // written under the recorder's lock (and `mutex`)
  RecorderOptions options = recording({"test/linger/a", "test/linger/b"});
  options.lockstep_linger = 10s;
  options.on_sample = [&](const RecordedSample&) {
    std::lock_guard lock(mutex);
    ++samples;
    captured.notify_all();
  };
  auto sut = Recorder::start(*node_, options);
  ASSERT_TRUE(sut) << sut.error().message();
  auto a = Publisher<Reading>::create(*node_, "test/linger/a");
  auto b = Publisher<Reading>::create(*node_, "test/linger/b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(sut->wait_recording("test/linger/a", 10s));
  ASSERT_TRUE(sut->wait_recording("test/linger/b", 10s));
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  ASSERT_TRUE(VirtualClock::set_lockstep());  // no event loop: time stands until advanced

  ASSERT_TRUE(a->publish(Reading{1, 19.5, {}}));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(captured.wait_for(lock, 10s, [&] { return samples == 1; })) << "the sample on a was not captured";
  }
  const auto started = std::chrono::steady_clock::now();
  Reading sent{42, 20.25, {}};
  std::snprintf(sent.room, sizeof sent.room, "%s", "hall");
  ASSERT_TRUE(b->publish(sent));  // before the deadline; the capture thread lingers
  std::promise<void> waiting;
  std::future<Waited> result = std::async(std::launch::async, [&] {
    bool first = true;
    return sut->wait_for(
        [&] {
          if (std::exchange(first, false)) waiting.set_value();
          return samples.load() == 2;  // called under the recorder's lock, as on_sample is
        },
        virtual_timeout(30min));
  });
  waiting.get_future().wait();
  ASSERT_TRUE(VirtualClock::advance(1h));  // past the deadline
  const Waited waited = result.get();
  EXPECT_EQ(waited.status(), Waited::Status::ready) << "timed out with the sample on b still queued";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "found only once the linger ended";
  const std::vector<RecordedSample> got = sut->samples("test/linger/b");
  ASSERT_EQ(got.size(), 1U);
  ASSERT_EQ(got[0].payload.size(), sizeof sent);
  EXPECT_EQ(std::memcmp(got[0].payload.data(), &sent, sizeof sent), 0) << "the payload's bytes differ";
  EXPECT_EQ(got[0].header.virtual_time_ns, t0.time_since_epoch().count());

  // The live case: a sample never sent still times out.
  EXPECT_EQ(sut->wait_for_count("test/linger/b", 2, virtual_timeout(0s)).status(), Waited::Status::timed_out);
  ASSERT_TRUE(VirtualClock::set_real());
  ASSERT_TRUE(sut->stop());  // ends the linger
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "stop() waited for the linger";
}

TEST_F(RecorderTest, WritesMcapWithJsonSchemasAndJsonMessages) {
  const std::string path = temp_path("run.mcap");
  auto sut = Recorder::start(*node_, recording({"mcap/**", std::string(kLogChannel)}, path));
  ASSERT_TRUE(sut) << sut.error().message();
  auto publisher = Publisher<Reading>::create(*node_, "mcap/readings");
  ASSERT_TRUE(publisher);
  ASSERT_TRUE(publisher->wait_for_subscribers(30s));
  for (std::uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE(publisher->publish(Reading{i, 20.5, "kitchen"}));
  ChildProcess logger = child({"log", "logger", "3"});
  ASSERT_EQ(logger.read_line(30s), "logged 3");
  ASSERT_TRUE(sut->wait_for_count("mcap/readings", 100, virtual_timeout(30s)));
  ASSERT_TRUE(sut->wait_for_count(kLogChannel, 4, virtual_timeout(30s)));
  auto summary = sut->stop();
  ASSERT_TRUE(summary) << summary.error().message();
  EXPECT_EQ(summary->mcap_path, path);

  auto reader = mcap::Reader::open(path);
  ASSERT_TRUE(reader) << reader.error().message();
  EXPECT_FALSE(reader->truncated());
  std::map<std::string, std::uint16_t> topics;
  for (const auto& [id, channel] : reader->channels()) topics[channel.topic] = id;
  ASSERT_EQ(topics.size(), 2U);
  const auto& readings = reader->channels().at(topics.at("mcap/readings"));
  EXPECT_EQ(readings.message_encoding, "json");
  const auto& schema = reader->schemas().at(readings.schema_id);
  EXPECT_EQ(schema.encoding, "jsonschema");
  EXPECT_EQ(schema.name, "test/Reading");
  const auto embedded = nlohmann::json::parse(schema.data).at("x-statebus");
  EXPECT_EQ(embedded.at("name"), "test/Reading");
  const auto& logs = reader->channels().at(topics.at(std::string(kLogChannel)));
  EXPECT_EQ(reader->schemas().at(logs.schema_id).name, "foxglove.Log");

  std::uint64_t expected_index = 1;
  std::vector<std::string> log_messages;
  auto read = reader->for_each_message([&](const mcap::Message& message) {
    const auto value = nlohmann::json::parse(message.data);
    if (message.channel_id == topics.at("mcap/readings")) {
      EXPECT_EQ(value.at("index"), expected_index);
      EXPECT_EQ(message.sequence, expected_index);
      EXPECT_EQ(value.at("room"), "kitchen");
      EXPECT_DOUBLE_EQ(value.at("celsius").get<double>(), 20.5);
      ++expected_index;
    } else {
      log_messages.push_back(value.at("message"));
      EXPECT_EQ(value.at("process"), "logger");
      EXPECT_EQ(value.at("name"), "logger/" + value.at("logger").get<std::string>());
    }
    return true;
  });
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(expected_index, 101U);
  EXPECT_EQ(log_messages, (std::vector<std::string>{"record 1 of logger", "record 2 of logger", "record 3 of logger",
                                                    "logger is done"}));
  std::remove(path.c_str());
}

TEST_F(RecorderTest, RefusesBadOptionsAndUnwritableFiles) {
  auto no_patterns = Recorder::start(*node_, recording({}));
  ASSERT_FALSE(no_patterns);
  EXPECT_EQ(no_patterns.error().code(), Errc::invalid_argument);
  auto bad_pattern = Recorder::start(*node_, recording({"home/he*ter"}));
  ASSERT_FALSE(bad_pattern);
  EXPECT_NE(bad_pattern.error().message().find("he*ter"), std::string::npos);
  auto zero_depth = recording({"x"});
  zero_depth.queue_depth = 0;
  auto bad_depth = Recorder::start(*node_, zero_depth);
  ASSERT_FALSE(bad_depth);
  EXPECT_NE(bad_depth.error().message().find("queue_depth"), std::string::npos);
  auto long_linger = recording({"x"});
  long_linger.lockstep_linger = 11s;
  auto bad_linger = Recorder::start(*node_, long_linger);
  ASSERT_FALSE(bad_linger);
  EXPECT_NE(bad_linger.error().message().find("lockstep_linger"), std::string::npos) << bad_linger.error().message();
  auto bad_file = Recorder::start(*node_, recording({"x"}, "/nonexistent-dir/run.mcap"));
  ASSERT_FALSE(bad_file);
  EXPECT_NE(bad_file.error().message().find("/nonexistent-dir/run.mcap"), std::string::npos);
}

TEST_F(RecorderTest, ReplayPublishesARecordingAtItsRecordedVirtualTimesScaledByTheRate) {
  const std::string path = temp_path("replay.mcap");
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  {
    auto original = Recorder::start(*node_, recording({"replay/readings", std::string(kLogChannel)}, path));
    ASSERT_TRUE(original) << original.error().message();
    auto publisher = Publisher<Reading>::create(*node_, "replay/readings");
    ASSERT_TRUE(publisher);
    ASSERT_TRUE(publisher->wait_for_subscribers(30s));
    for (std::uint64_t i = 1; i <= 3; ++i) {
      ASSERT_TRUE(publisher->publish(Reading{i, 20.0 + static_cast<double>(i), "hall"}));
      ASSERT_TRUE(VirtualClock::advance(10s));
    }
    ChildProcess logger = child({"log", "source", "2"});
    ASSERT_EQ(logger.read_line(30s), "logged 2");
    ASSERT_TRUE(original->wait_for_count("replay/readings", 3, virtual_timeout(1h)));
    ASSERT_TRUE(original->wait_for_count(kLogChannel, 3, virtual_timeout(1h)));
    ASSERT_TRUE(original->stop());
  }
  EXPECT_EQ(VirtualClock::now(), t0 + 30s);

  auto copy = Recorder::start(*node_, recording({"replay/readings", std::string(kLogChannel)}));
  ASSERT_TRUE(copy) << copy.error().message();
  const auto t1 = VirtualClock::now();
  ReplayOptions options;
  options.rate = 2.0;
  options.wait_for_subscribers = 30s;
  std::vector<ReplayProgress> progress;
  options.on_progress = [&](const ReplayProgress& p) { progress.push_back(p); };
  auto replaying = std::async(std::launch::async, [&] { return replay(*node_, path, options); });

  ASSERT_TRUE(copy->wait_for_count("replay/readings", 1, virtual_timeout(1h)));  // the first at once
  ASSERT_TRUE(VirtualClock::advance_to(t1 + 5s));               // the next 10 s later, at rate 2
  ASSERT_TRUE(copy->wait_for_count("replay/readings", 2, virtual_timeout(1h)));
  ASSERT_TRUE(VirtualClock::advance_to(t1 + 10s));
  ASSERT_TRUE(copy->wait_for_count("replay/readings", 3, virtual_timeout(1h)));
  ASSERT_TRUE(VirtualClock::advance_to(t1 + 15s));  // the log records came 30 s after the first
  auto summary = replaying.get();
  ASSERT_TRUE(summary) << summary.error().message();
  EXPECT_EQ(summary->published, 6U);
  EXPECT_EQ(summary->channels.at("replay/readings"), 3U);
  EXPECT_EQ(summary->channels.at(std::string(kLogChannel)), 3U);
  EXPECT_TRUE(summary->skipped.empty());
  ASSERT_EQ(progress.size(), 6U);
  EXPECT_EQ(progress.back().published, 6U);
  EXPECT_EQ(progress.back().span, 30s);
  EXPECT_EQ(progress.back().position, 30s);

  const auto readings_got = copy->samples<Reading>("replay/readings");
  ASSERT_TRUE(readings_got) << readings_got.error().message();
  const auto& readings = *readings_got;
  ASSERT_EQ(readings.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(readings[i].value.index, i + 1);
    EXPECT_DOUBLE_EQ(readings[i].value.celsius, 21.0 + static_cast<double>(i));
    EXPECT_STREQ(readings[i].value.room, "hall");
    EXPECT_EQ(readings[i].virtual_time(), t1 + i * 5s);  // published when the clock reached it, not before
  }
  ASSERT_TRUE(copy->wait_for_count(kLogChannel, 3, virtual_timeout(1h)));
  const auto logs = copy->logs();
  ASSERT_EQ(logs.size(), 3U);
  EXPECT_EQ(logs[0].text, "record 1 of source");
  EXPECT_EQ(logs[2].text, "source is done");
  EXPECT_EQ(logs[2].level, LogLevel::warn);
  EXPECT_EQ(logs[0].process, "source");
  ASSERT_TRUE(VirtualClock::set_real());
  std::remove(path.c_str());
}

TEST_F(RecorderTest, ReplayAsFastAsSubscribersTakeItLosesNothing) {
  const std::string path = temp_path("fast.mcap");
  {
    auto original = Recorder::start(*node_, recording({"fast/readings"}, path));
    ASSERT_TRUE(original);
    ChildProcess publisher = child({"publish", "fast", "fast/readings", "5000"});
    ASSERT_EQ(publisher.read_line(60s), "sent 5000");
    ASSERT_TRUE(original->wait_for_count("fast/readings", 5000, virtual_timeout(60s)));
  }
  auto copy = Recorder::start(*node_, recording({"fast/readings"}));
  ASSERT_TRUE(copy);
  ReplayOptions options;
  options.rate = 0;
  options.wait_for_subscribers = 30s;
  auto summary = replay(*node_, path, options);
  ASSERT_TRUE(summary) << summary.error().message();
  EXPECT_EQ(summary->published, 5000U);
  ASSERT_TRUE(copy->wait_for_count("fast/readings", 5000, virtual_timeout(60s)));
  const auto readings_got = copy->samples<Reading>("fast/readings");
  ASSERT_TRUE(readings_got) << readings_got.error().message();
  const auto& readings = *readings_got;
  for (std::size_t i = 0; i < readings.size(); ++i) ASSERT_EQ(readings[i].value.index, i + 1);
  EXPECT_TRUE(copy->gaps().empty());
  std::remove(path.c_str());
}

TEST_F(RecorderTest, ReplayRefusesCorruptFilesSayingWhereAndSkipsForeignChannels) {
  const std::string garbage = temp_path("garbage.mcap");
  {
    std::FILE* f = std::fopen(garbage.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("this is not an MCAP file at all", f);
    std::fclose(f);
  }
  auto refused = replay(*node_, garbage);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find(garbage), std::string::npos) << refused.error().message();

  const std::string foreign = temp_path("foreign.mcap");
  {
    auto writer = mcap::Writer::create(foreign);
    ASSERT_TRUE(writer);
    auto schema = writer->add_schema("geometry_msgs/Point", "ros2msg", "float64 x\nfloat64 y\nfloat64 z");
    ASSERT_TRUE(schema);
    auto channel = writer->add_channel(*schema, "ros/point", "cdr");
    ASSERT_TRUE(channel);
    ASSERT_TRUE(writer->write(*channel, 1, 1, 1, "\0\1\0\0", 4));
    ASSERT_TRUE(writer->close());
  }
  auto summary = replay(*node_, foreign);
  ASSERT_TRUE(summary) << summary.error().message();
  EXPECT_EQ(summary->published, 0U);
  ASSERT_EQ(summary->skipped.count("ros/point"), 1U);
  EXPECT_NE(summary->skipped.at("ros/point").find("cdr"), std::string::npos);

  auto bad_rate = ReplayOptions{};
  bad_rate.rate = -1;
  EXPECT_FALSE(replay(*node_, foreign, bad_rate));
  std::remove(garbage.c_str());
  std::remove(foreign.c_str());
}

}  // namespace
}  // namespace statebus
