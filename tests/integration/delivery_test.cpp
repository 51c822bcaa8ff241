// Delivery guarantees, liveness, type safety, waiting and untyped payloads,
// each with a publisher in another process.
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
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

TEST_F(Delivery, APublisherOfAnotherTypeInAnotherProcessIsRefusedAtCreateNamingBothTypes) {
  auto sut = Subscriber<Reading>::create(*node_, "test/typed");
  ASSERT_TRUE(sut);
  ChildProcess child = publisher("test/typed", 5, 0, "renamed");
  const auto status = child.wait(30s);
  ASSERT_TRUE(status && WIFEXITED(*status)) << child.describe();
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  const std::string error = child.read_stderr(1s);
  for (const std::string& part :
       std::vector<std::string>{"'test/typed'", "'test/Reading'", "'test/Renamed'", "publisher of 'test/Renamed'",
                                "used by pid " + std::to_string(::getpid())}) {
    EXPECT_TRUE(contains(error, part)) << error;
  }
  EXPECT_FALSE(sut->take());
  EXPECT_EQ(sut->refused(), 0U);
}

// The table of channel types trusts only the kernel: a type whose last
// holder was SIGKILLed is free at once, one whose holder is frozen is not.
TEST_F(Delivery, AChannelTypeIsFreedByItsHoldersDeathAndKeptWhileItIsFrozen) {
  ChildProcess holder = publisher("test/retyped", 1, 1, "renamed");
  {
    auto probe = Subscriber<test::Renamed>::create(*node_, "test/retyped", SubscriberOptions{16, 1});
    ASSERT_TRUE(probe);
    ASSERT_EQ(holder.read_line(30s), "sent 1");
  }  // now only the child holds 'test/Renamed' on the channel

  ASSERT_TRUE(holder.signal(SIGSTOP));
  const auto while_frozen = Subscriber<Reading>::create(*node_, "test/retyped");
  ASSERT_FALSE(while_frozen) << "a frozen holder's type must be kept";
  EXPECT_EQ(while_frozen.error().code(), Errc::type_mismatch);
  EXPECT_TRUE(contains(while_frozen.error().message(), "used by pid " + std::to_string(holder.pid())))
      << while_frozen.error().message();

  ASSERT_TRUE(holder.signal(SIGKILL));
  ASSERT_TRUE(holder.wait(30s));
  auto after_death = Subscriber<Reading>::create(*node_, "test/retyped");
  ASSERT_TRUE(after_death) << after_death.error().message();
  auto pub = Publisher<Reading>::create(*node_, "test/retyped");
  ASSERT_TRUE(pub) << pub.error().message();
  ASSERT_TRUE(pub->wait_for_subscribers(10s));
  Reading sent{};
  sent.index = 7;
  sent.celsius = 21.25;
  std::snprintf(sent.room, sizeof sent.room, "hall");
  ASSERT_TRUE(pub->publish(sent));
  ASSERT_TRUE(after_death->wait(5s));
  const auto got = after_death->take();
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)->index, 7U);
  EXPECT_EQ((*got)->celsius, 21.25);
  EXPECT_STREQ((*got)->room, "hall");
  EXPECT_EQ(after_death->refused(), 0U);
}

// iceoryx lets a subscriber's state notify one wait set: in a WaitSet, the
// subscriber's own waits still last their whole time (they returned at
// once before), and still see data that comes.
TEST_F(Delivery, ASubscriberInAWaitSetStillWaitsItsWholeTime) {
  auto pub = Publisher<Reading>::create(*node_, "test/held");
  auto sut = Subscriber<Reading>::create(*node_, "test/held");
  ASSERT_TRUE(pub && sut);
  auto waitset = WaitSet::create(*node_);
  ASSERT_TRUE(waitset);
  ASSERT_TRUE(waitset->add(*sut));
  ASSERT_TRUE(sut->wait_connected(10s));

  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(sut->wait(100ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms) << "wait() returned early";
  start = std::chrono::steady_clock::now();
  EXPECT_FALSE(sut->take_for(100ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms) << "take_for() returned early";
  const auto virtual_start = VirtualClock::now();
  EXPECT_FALSE(sut->wait_until(virtual_start + 50ms));
  EXPECT_GE(VirtualClock::now(), virtual_start + 50ms) << "wait_until() returned before its virtual deadline";

  std::thread sender([&] { ASSERT_TRUE(pub->publish(Reading{9, 1.0, {}})); });
  const auto got = sut->take_for(10s);
  sender.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->value().index, 9U);
  EXPECT_EQ(waitset->wait(0ms).size(), 0U) << "taken through the subscriber: nothing left for the WaitSet";
}

// A subscriber's own wait on virtual time holds its state's one
// notification; a WaitSet (or an event loop) takes it over.
TEST_F(Delivery, AWaitSetTakesASubscriberThatWaitedOnVirtualTimeBefore) {
  auto pub = Publisher<Reading>::create(*node_, "test/waited-before");
  auto sub = Subscriber<Reading>::create(*node_, "test/waited-before");
  ASSERT_TRUE(pub && sub);
  EXPECT_EQ(sub->wait_until(VirtualClock::now()).status(), Waited::Status::timed_out);
  auto sut = WaitSet::create(*node_);
  ASSERT_TRUE(sut);

  const auto index = sut->add(*sub);

  ASSERT_TRUE(index) << index.error().message();
  ASSERT_TRUE(pub->wait_for_subscribers(10s));
  ASSERT_TRUE(pub->publish(Reading{4, 1.0, {}}));
  const auto ready = sut->wait(10s);
  ASSERT_EQ(ready.status(), Waited::Status::ready);
  EXPECT_TRUE(ready.contains(*index));
  auto sample = sub->take();
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->value().index, 4U);
}

// A subscriber is waited on by one WaitSet or loop at a time: a second is
// refused, and the first goes on waking for it. Before, the second took it
// silently and the first kept a subscriber that it would never hear of
// dying (its destruction then touched freed memory).
// Reaches: WaitSet::add Errc::out_of_resources
TEST_F(Delivery, ASubscriberInAWaitSetIsRefusedByASecondOneAndStaysWithTheFirst) {
  auto pub = Publisher<Reading>::create(*node_, "test/one-set");
  auto sub = Subscriber<Reading>::create(*node_, "test/one-set");
  auto first = WaitSet::create(*node_);
  auto second = WaitSet::create(*node_);
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(pub && sub && first && second && loop);
  const auto index = first->add(*sub);
  ASSERT_TRUE(index) << index.error().message();

  const auto refused = second->add(*sub);
  const auto refused_by_loop = loop->on(*sub, [](const Sample<Reading>&) {});

  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::out_of_resources);
  EXPECT_NE(refused.error().message().find("already in a WaitSet"), std::string::npos) << refused.error().message();
  ASSERT_FALSE(refused_by_loop);
  EXPECT_EQ(refused_by_loop.error().code(), Errc::out_of_resources);
  ASSERT_TRUE(pub->wait_for_subscribers(10s));
  ASSERT_TRUE(pub->publish(Reading{5, 2.5, {}}));
  const auto ready = first->wait(10s);
  ASSERT_EQ(ready.status(), Waited::Status::ready);
  EXPECT_TRUE(ready.contains(*index));
  auto sample = sub->take();
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->value().index, 5U);
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
  EXPECT_EQ(sut->wait(1ms).status(), Waited::Status::timed_out);

  ChildProcess child = publisher("test/busy", 1);

  const auto ready = sut->wait(10s);
  EXPECT_EQ(child.read_line(10s), "sent 1");
  ASSERT_EQ(ready.status(), Waited::Status::ready);
  ASSERT_EQ(ready.indexes(), std::vector<std::size_t>{*busy_index});
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

TEST_F(Delivery, PublishingAMovedFromLoanPublishesNothingAndSaysSo) {
  auto pub = Publisher<Reading>::create(*node_, "test/moved");
  auto sub = Subscriber<Reading>::create(*node_, "test/moved");
  ASSERT_TRUE(pub && sub);
  ASSERT_TRUE(sub->wait_connected(10s));
  auto loan = pub->loan();
  ASSERT_TRUE(loan);
  (*loan)->index = 7;
  auto kept = std::move(*loan);
  const auto moved_from = pub->publish(std::move(*loan));
  ASSERT_FALSE(moved_from);
  EXPECT_EQ(moved_from.error(), LoanError::empty);
  EXPECT_EQ(pub->published(), 0U);
  EXPECT_TRUE(std::move(kept).publish());
  const auto again = std::move(kept).publish();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), LoanError::empty);
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
  const auto bytes_moved_from = bytes_pub->publish(std::move(*bytes));
  ASSERT_FALSE(bytes_moved_from);
  EXPECT_EQ(bytes_moved_from.error(), LoanError::empty);
  EXPECT_EQ(bytes_pub->published(), 0U);
}

// A loan outlives its publisher: publishing it sends nothing, and says so.
TEST_F(Delivery, ALoanOfADestroyedPublisherIsNotSentAndSaysSo) {
  auto sub = Subscriber<Reading>::create(*node_, "test/gone");
  ASSERT_TRUE(sub);
  std::optional<Loan<Reading>> loan;
  {
    auto pub = Publisher<Reading>::create(*node_, "test/gone");
    ASSERT_TRUE(pub);
    auto loaned = pub->loan();
    ASSERT_TRUE(loaned);
    loan.emplace(std::move(*loaned));
  }
  (*loan)->index = 3;
  const auto sent = std::move(*loan).publish();
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), LoanError::publisher_gone);
  EXPECT_FALSE(sub->take_for(50ms));
}

// loan() gives a whole T: fields the writer leaves alone are zero, never
// the bytes of the sample the chunk held before. loan_uninit() is the raw
// path, and shows what loan() hides.
TEST_F(Delivery, ALoanHoldsAValueInitialisedTNeverAnEarlierSamplesBytes) {
  auto pub = Publisher<test::Bare>::create(*node_, "test/bare");
  auto sub = Subscriber<test::Bare>::create(*node_, "test/bare");
  ASSERT_TRUE(pub && sub);
  ASSERT_TRUE(sub->wait_connected(10s));
  // Every chunk the pool lends for this size gets a pattern, and comes back.
  constexpr int kRounds = 64;
  for (int i = 0; i < kRounds; ++i) {
    auto raw = pub->loan_uninit();
    ASSERT_TRUE(raw);
    std::memset(raw->memory(), 0xab, sizeof(test::Bare));
    ASSERT_TRUE(std::move(*raw).assume_init().publish());
    ASSERT_TRUE(sub->take_for(10s));
  }
  {
    auto raw = pub->loan_uninit();
    ASSERT_TRUE(raw);
    const auto* bytes = static_cast<const unsigned char*>(raw->memory());
    ASSERT_EQ(bytes[0], 0xab) << "the premise: a chunk is reused with its old bytes";
  }
  auto loan = pub->loan();
  ASSERT_TRUE(loan);
  (*loan)->celsius = 21.5;
  ASSERT_TRUE(std::move(*loan).publish());
  const auto got = sub->take_for(10s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->value().celsius, 21.5);
  EXPECT_EQ(got->value().count, 0U);
  for (char c : got->value().room) EXPECT_EQ(c, '\0');

  auto copy = pub->loan(test::Bare{19.0, "hall", 4});
  ASSERT_TRUE(copy);
  EXPECT_EQ((*copy)->count, 4U);
  EXPECT_STREQ((*copy)->room, "hall");
  auto written = pub->loan_uninit();
  ASSERT_TRUE(written);
  Loan<test::Bare> whole = std::move(*written).write(test::Bare{18.0, "attic", 2});
  EXPECT_STREQ(whole->room, "attic");
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
    for (std::size_t i = 0; i < size; ++i)
      intact = intact && sample->data()[i] == static_cast<std::byte>((i + size) % 251);
    EXPECT_TRUE(intact) << size << " bytes";
  }
}

TEST_F(Delivery, UntypedLoanLargerThanThePoolsIsRefused) {
  auto sut = UntypedPublisher::create(*node_, "test/bytes-large");
  ASSERT_TRUE(sut);
  const auto loan = sut->loan(std::size_t{sut->max_payload()} + 1);
  ASSERT_FALSE(loan);
  EXPECT_EQ(loan.error(), LoanError::payload_too_large);
  EXPECT_TRUE(sut->loan(sut->max_payload())) << "the largest payload itself fits";
}

}  // namespace
}  // namespace statebus
