// Delivery guarantees, liveness, type safety, waiting and untyped payloads,
// each with a publisher in another process.
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::Reading;
using testkit::ChildProcess;

class Delivery : public testkit::NodeTest {
 protected:
  Delivery() : NodeTest("delivery-test") {}

  // Starts the child publisher and waits until it has sent everything.
  ChildProcess publisher(const std::string& channel, long count, int history = 0,
                         const std::string& type = "reading") {
    auto child = ChildProcess::spawn({STATEBUS_TEST_CHILD, "publish", "publisher", channel, std::to_string(count),
                                      std::to_string(history), type});
    EXPECT_TRUE(child) << child.error().message();
    return std::move(*child);
  }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(Delivery, OverflowingADepth256QueueCountsExactlyTheLostSamples) {
  auto sut = Subscriber<Reading>::create(*node_, "test/overflow", SubscriberOptions{256, 0, false});
  ASSERT_TRUE(sut);
  ChildProcess child = publisher("test/overflow", 1000);
  ASSERT_EQ(child.read_line(30s), "sent 1000");

  std::vector<std::uint64_t> received;
  while (auto sample = sut->take()) received.push_back(sample->header().sequence);

  ASSERT_EQ(received.size(), 256U);
  EXPECT_EQ(received.front(), 745U);
  EXPECT_EQ(received.back(), 1000U);
  EXPECT_EQ(sut->lost(), 744U);
  const auto publishers = sut->publishers();
  ASSERT_EQ(publishers.size(), 1U);
  EXPECT_EQ(publishers[0].lost, 744U);
  EXPECT_EQ(publishers[0].process.pid, child.pid());
}

TEST_F(Delivery, LosslessSubscriberReceivesAllOf100000InOrder) {
  constexpr long kCount = 100000;
  auto sut = Subscriber<Reading>::create(*node_, "test/lossless", SubscriberOptions{64, 0, true});
  ASSERT_TRUE(sut);
  ChildProcess child = publisher("test/lossless", kCount);

  for (long i = 1; i <= kCount; ++i) {
    auto sample = sut->take_for(10s, 20us);
    ASSERT_TRUE(sample) << "sample " << i << " never arrived";
    ASSERT_EQ(sample->header().sequence, static_cast<std::uint64_t>(i));
    ASSERT_EQ(sample->value().index, static_cast<std::uint64_t>(i));
  }
  EXPECT_EQ(child.read_line(10s), "sent " + std::to_string(kCount));
  EXPECT_EQ(sut->lost(), 0U);
}

TEST_F(Delivery, LateSubscriberGetsTheLatestValue) {
  // A first subscriber lets the child publish; ours comes after everything was sent.
  auto early = Subscriber<Reading>::create(*node_, "test/latest");
  ASSERT_TRUE(early);
  ChildProcess child = publisher("test/latest", 50, /*history=*/1);
  ASSERT_EQ(child.read_line(30s), "sent 50");

  auto sut = Subscriber<Reading>::create(*node_, "test/latest", SubscriberOptions{256, 1, false});
  ASSERT_TRUE(sut);

  auto sample = sut->take_for(10s);
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->value().index, 50U);
  EXPECT_EQ(sut->lost(), 0U) << "samples sent before it subscribed are not lost";
  EXPECT_FALSE(sut->take());
}

TEST_F(Delivery, SubscriberWithoutHistoryGetsNothingSentBeforeIt) {
  auto early = Subscriber<Reading>::create(*node_, "test/nohistory");
  ASSERT_TRUE(early);
  ChildProcess child = publisher("test/nohistory", 5, /*history=*/1);
  ASSERT_EQ(child.read_line(30s), "sent 5");

  auto sut = Subscriber<Reading>::create(*node_, "test/nohistory");
  ASSERT_TRUE(sut);
  ASSERT_TRUE(sut->wait_connected(10s));
  child.write("drop\n");  // its goodbye reaches us: we are connected
  ASSERT_EQ(child.read_line(10s), "dropped");

  EXPECT_FALSE(sut->take());
  EXPECT_EQ(sut->lost(), 0U);
  const auto publishers = sut->publishers();
  ASSERT_EQ(publishers.size(), 1U);
  EXPECT_EQ(publishers[0].state, PublisherState::stopped);
}

TEST_F(Delivery, KilledPublisherIsReportedGoneAndKeepsWhatItDelivered) {
  auto sut = Subscriber<Reading>::create(*node_, "test/killed");
  ASSERT_TRUE(sut);
  ChildProcess child = publisher("test/killed", 20);
  ASSERT_EQ(child.read_line(30s), "sent 20");
  auto first = sut->take_for(5s);
  ASSERT_TRUE(first);
  ASSERT_EQ(sut->publishers().at(0).state, PublisherState::alive);

  ASSERT_TRUE(child.signal(SIGKILL));
  ASSERT_TRUE(child.wait(10s));

  EXPECT_EQ(sut->publishers().at(0).state, PublisherState::gone);
  std::uint64_t expected = 2;
  while (auto sample = sut->take()) EXPECT_EQ(sample->header().sequence, expected++);
  EXPECT_EQ(expected, 21U) << "every delivered sample stays readable, in order";
  EXPECT_EQ(sut->lost(), 0U);
}

TEST_F(Delivery, CleanlyStoppedPublisherIsReportedStopped) {
  auto sut = Subscriber<Reading>::create(*node_, "test/stopped");
  ASSERT_TRUE(sut);
  ChildProcess child = publisher("test/stopped", 3);
  ASSERT_EQ(child.read_line(30s), "sent 3");

  child.write("drop\n");
  ASSERT_EQ(child.read_line(10s), "dropped");

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sut->take_for(5s));
  EXPECT_FALSE(sut->take());
  const auto publishers = sut->publishers();
  ASSERT_EQ(publishers.size(), 1U);
  EXPECT_EQ(publishers[0].state, PublisherState::stopped) << "the process still runs; only the publisher stopped";
}

TEST_F(Delivery, MismatchedTypeFromAnotherProcessIsRefusedNamingBothTypes) {
  auto sut = Subscriber<Reading>::create(*node_, "test/typed");
  ASSERT_TRUE(sut);
  ChildProcess child = publisher("test/typed", 5, 0, "renamed");
  ASSERT_EQ(child.read_line(30s), "sent 5");  // all five are in our queue by now

  EXPECT_FALSE(sut->take());

  EXPECT_EQ(sut->refused(), 5U);
  const auto error = sut->type_error(5s);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code(), Errc::type_mismatch);
  for (const std::string& part : std::vector<std::string>{"'test/typed'", "'test/Renamed'", "'test/Reading'",
                                 "pid " + std::to_string(child.pid())}) {
    EXPECT_TRUE(contains(error->message(), part)) << error->message();
  }
}

TEST_F(Delivery, WaitSetWakesForTheSubscriberThatGotData) {
  auto quiet = Subscriber<Reading>::create(*node_, "test/quiet");
  auto busy = Subscriber<Reading>::create(*node_, "test/busy");
  ASSERT_TRUE(quiet && busy);
  auto sut = WaitSet::create(*node_);
  ASSERT_TRUE(sut);
  const auto quiet_index = sut->add(*quiet);
  const auto busy_index = sut->add(*busy);
  ASSERT_TRUE(quiet_index && busy_index);
  EXPECT_TRUE(sut->wait(1ms).empty());

  ChildProcess child = publisher("test/busy", 1);

  const auto ready = sut->wait(10s);
  EXPECT_EQ(child.read_line(10s), "sent 1");
  ASSERT_EQ(ready, std::vector<std::size_t>{*busy_index});
  EXPECT_TRUE(busy->take());
  EXPECT_TRUE(sut->wait(1ms).empty()) << "nothing left after the take";
}

TEST_F(Delivery, SpinThenBlockWaitsForDataFromAnotherProcess) {
  auto sut = Subscriber<Reading>::create(*node_, "test/spin");
  ASSERT_TRUE(sut);
  ChildProcess child = publisher("test/spin", 1);
  EXPECT_TRUE(sut->wait(10s, 50us));
  EXPECT_TRUE(sut->take());
  EXPECT_EQ(child.read_line(10s), "sent 1");
}

TEST_F(Delivery, AdaptiveSpinReceivesEverySampleOfASteadyStreamInOrderAndTimesOutWhenItStops) {
  SubscriberOptions lossless;
  lossless.lossless = true;  // a preempted test still gets every sample
  auto sut = Subscriber<Reading>::create(*node_, "test/steady", lossless);
  auto pub = Publisher<Reading>::create(*node_, "test/steady");
  ASSERT_TRUE(sut && pub);
  ASSERT_TRUE(sut->wait_connected(10s));
  constexpr int kSamples = 300;
  std::thread sender([&pub] {
    auto next = std::chrono::steady_clock::now();
    for (int i = 0; i < kSamples; ++i) {
      next += 200us;  // 5 kHz; a steady rate needs the exact moment: spin to it
      while (std::chrono::steady_clock::now() < next) {
      }
      Reading reading;
      reading.index = static_cast<std::uint64_t>(i);
      (void)pub->publish(reading);
    }
  });
  int received = 0;
  for (; received < kSamples; ++received) {
    auto sample = sut->take_for(10s, Spin::adaptive());
    if (!sample) break;
    ASSERT_EQ(sample->value().index, static_cast<std::uint64_t>(received));
  }
  sender.join();
  EXPECT_EQ(received, kSamples);
  EXPECT_EQ(sut->lost(), 0U);
  EXPECT_FALSE(sut->wait(20ms, Spin::adaptive())) << "the stream stopped: the wait ends at its timeout";
}

TEST_F(Delivery, PublishingAMovedFromLoanPublishesNothing) {
  auto pub = Publisher<Reading>::create(*node_, "test/moved");
  auto sub = Subscriber<Reading>::create(*node_, "test/moved");
  ASSERT_TRUE(pub && sub);
  ASSERT_TRUE(sub->wait_connected(10s));
  auto loan = pub->loan();
  ASSERT_TRUE(loan);
  (*loan)->index = 7;
  auto kept = std::move(*loan);
  pub->publish(std::move(*loan));  // empty: moved from
  EXPECT_EQ(pub->published(), 0U);
  pub->publish(std::move(kept));
  auto sample = sub->take_for(10s);
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->value().index, 7U);
  EXPECT_EQ(sample->header().sequence, 1U);
  EXPECT_FALSE(sub->take());

  auto bytes_pub = UntypedPublisher::create(*node_, "test/moved-bytes");
  ASSERT_TRUE(bytes_pub);
  auto bytes = bytes_pub->loan(8);
  ASSERT_TRUE(bytes);
  auto bytes_kept = std::move(*bytes);
  bytes_pub->publish(std::move(*bytes));
  EXPECT_EQ(bytes_pub->published(), 0U);
}

TEST_F(Delivery, UntypedPayloadsOfManySizesArriveIntact) {
  const std::vector<std::size_t> sizes = {0, 1, 7, 64, 4095, 65536, 1024 * 1024, 4 * 1024 * 1024};
  auto sut = UntypedSubscriber::create(*node_, "test/bytes");
  ASSERT_TRUE(sut);
  std::vector<std::string> args = {STATEBUS_TEST_CHILD, "untyped", "bytes", "test/bytes"};
  for (std::size_t size : sizes) args.push_back(std::to_string(size));
  auto child = ChildProcess::spawn(args);
  ASSERT_TRUE(child);
  ASSERT_EQ(child->read_line(30s), "sent " + std::to_string(sizes.size()));

  for (std::size_t size : sizes) {
    auto sample = sut->take_for(5s);
    ASSERT_TRUE(sample);
    ASSERT_EQ(sample->size(), size);
    EXPECT_EQ(sample->header().fingerprint, 0U);
    bool intact = true;
    for (std::size_t i = 0; i < size; ++i) intact = intact && sample->data()[i] == static_cast<std::byte>((i + size) % 251);
    EXPECT_TRUE(intact) << size << " bytes";
  }
}

TEST_F(Delivery, UntypedLoanLargerThanThePoolsIsRefused) {
  auto sut = UntypedPublisher::create(*node_, "test/bytes-large");
  ASSERT_TRUE(sut);
  const auto loan = sut->loan(std::size_t{sut->max_payload()} + 1);
  ASSERT_FALSE(loan);
  EXPECT_EQ(loan.error(), LoanError::too_large);
  EXPECT_TRUE(sut->loan(sut->max_payload())) << "the largest payload itself fits";
}

}  // namespace
}  // namespace statebus
