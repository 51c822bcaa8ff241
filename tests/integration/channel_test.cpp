#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::Reading;

class ChannelTest : public testkit::NodeTest {
 protected:
  ChannelTest() : NodeTest("channel-test") {}
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(ChannelTest, SubscriberReceivesEverySampleInOrderFromAnotherProcess) {
  constexpr int kCount = 200;
  auto sut = Subscriber<Reading>::create(*node_, test::kReadingChannel);
  ASSERT_TRUE(sut) << sut.error().message();
  auto child = testkit::ChildProcess::spawn(
      {STATEBUS_TEST_CHILD, "publish", "publisher", test::kReadingChannel, std::to_string(kCount)});
  ASSERT_TRUE(child) << child.error().message();
  ASSERT_EQ(child->read_line(20s), "sent " + std::to_string(kCount));

  for (int i = 1; i <= kCount; ++i) {
    auto sample = sut->take_for(5s);
    ASSERT_TRUE(sample) << "sample " << i << " never arrived";
    EXPECT_EQ(sample->value().index, static_cast<std::uint64_t>(i));
    EXPECT_DOUBLE_EQ(sample->value().celsius, 20.0 + i / 100.0);
    EXPECT_EQ(sample->header().sequence, static_cast<std::uint64_t>(i));
    EXPECT_EQ(sample->header().publisher_pid, child->pid());
    EXPECT_EQ(sample->header().payload_size, sizeof(Reading));
  }
  EXPECT_FALSE(sut->take()) << "the child sent exactly " << kCount;

  child->close_stdin();
  const auto status = child->wait(10s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(ChannelTest, LoanIsWrittenInPlaceAndDeliveredWithAHeader) {
  auto pub = Publisher<Reading>::create(*node_, "test/loan");
  auto sut = Subscriber<Reading>::create(*node_, "test/loan");
  ASSERT_TRUE(pub && sut);
  ASSERT_TRUE(pub->wait_for_subscribers(10s));
  timespec before{};
  ::clock_gettime(CLOCK_MONOTONIC, &before);

  auto loan = pub->loan();
  ASSERT_TRUE(loan);
  Reading* in_shared_memory = loan->get();
  in_shared_memory->index = 42;
  std::strcpy(in_shared_memory->room, "attic");
  std::move(*loan).publish();

  auto sample = sut->take_for(5s);
  ASSERT_TRUE(sample);
  EXPECT_EQ(&sample->value(), in_shared_memory) << "zero-copy: the subscriber reads the loaned memory";
  EXPECT_EQ(sample->value().index, 42U);
  EXPECT_STREQ(sample->value().room, "attic");
  EXPECT_EQ(sample->header().sequence, 1U);
  EXPECT_EQ(sample->header().publisher_pid, ::getpid());
  EXPECT_GE(sample->header().real_time_ns, before.tv_sec * 1'000'000'000LL + before.tv_nsec);
}

TEST_F(ChannelTest, TakeOnAnEmptyQueueReturnsNothingAndWaitTimesOut) {
  auto sut = Subscriber<Reading>::create(*node_, "test/empty");
  ASSERT_TRUE(sut);
  EXPECT_FALSE(sut->take());
  EXPECT_FALSE(sut->has_data());
  EXPECT_FALSE(sut->wait(1ms));
}

TEST_F(ChannelTest, UnpublishedLoansGoBackToThePool) {
  auto sut = Publisher<Reading>::create(*node_, "test/drop");
  ASSERT_TRUE(sut);
  // Far more loans than the small pool has chunks: each must be returned.
  for (int i = 0; i < 20000; ++i) {
    auto loan = sut->loan();
    ASSERT_TRUE(loan) << "pool exhausted after " << i << " dropped loans";
  }
}

// Reaches: Publisher::create Errc::payload_too_large
TEST_F(ChannelTest, OversizePayloadIsAnErrorNotAnAbort) {
  const auto sut = Publisher<test::Huge>::create(*node_, "test/huge");
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::payload_too_large);
  EXPECT_TRUE(contains(sut.error().message(), std::to_string(sizeof(test::Huge)) + " bytes")) << sut.error().message();
  EXPECT_TRUE(contains(sut.error().message(), "test/huge")) << sut.error().message();
}

TEST_F(ChannelTest, FourMebibytePayloadFits) {
  using test::FourMiB;
  auto pub = Publisher<FourMiB>::create(*node_, "test/large");
  auto sub = Subscriber<FourMiB>::create(*node_, "test/large");
  ASSERT_TRUE(pub) << pub.error().message();
  ASSERT_TRUE(sub) << sub.error().message();
  ASSERT_TRUE(pub->wait_for_subscribers(10s));
  auto loan = pub->loan();
  ASSERT_TRUE(loan);
  (*loan)->bytes[sizeof(FourMiB) - 1] = 'z';
  std::move(*loan).publish();
  auto sample = sub->take_for(5s);
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->value().bytes[sizeof(FourMiB) - 1], 'z');
}

// Reaches: Publisher::create Errc::invalid_argument
// Reaches: Subscriber::create Errc::invalid_argument
TEST_F(ChannelTest, BadNamesAndOptionsAreRefusedBeforeIceoryx) {
  const auto bad_name = Publisher<Reading>::create(*node_, "test//bad");
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code(), Errc::invalid_argument);

  const auto too_deep = Subscriber<Reading>::create(*node_, "a/b/c/d/e/f/g/h/i");
  ASSERT_FALSE(too_deep);
  EXPECT_EQ(too_deep.error().code(), Errc::invalid_argument);

  const auto no_queue = Subscriber<Reading>::create(*node_, "test/q", SubscriberOptions{0, 0});
  const auto big_queue = Subscriber<Reading>::create(*node_, "test/q", SubscriberOptions{257, 0});
  const auto big_history = Publisher<Reading>::create(*node_, "test/q", PublisherOptions{17});
  EXPECT_FALSE(no_queue);
  EXPECT_FALSE(big_queue);
  ASSERT_FALSE(big_history);
  EXPECT_TRUE(contains(big_history.error().message(), "maximum of 16")) << big_history.error().message();
}

// Reaches: Publisher::create Errc::type_mismatch
// Reaches: Subscriber::create Errc::type_mismatch
TEST_F(ChannelTest, APortOfAnotherTypeIsRefusedAtCreateNamingBothTypes) {
  {
  auto pub = Publisher<test::Wide>::create(*node_, "test/mixed");
  ASSERT_TRUE(pub);
  const auto sub = Subscriber<Reading>::create(*node_, "test/mixed");
  const auto other_pub = Publisher<Reading>::create(*node_, "test/mixed");
  ASSERT_FALSE(sub);
  ASSERT_FALSE(other_pub);
  EXPECT_EQ(sub.error().code(), Errc::type_mismatch);
  EXPECT_EQ(other_pub.error().code(), Errc::type_mismatch);
  for (const char* part : {"'test/mixed'", "'test/Wide'", "subscriber of 'test/Reading'"}) {
    EXPECT_TRUE(contains(sub.error().message(), part)) << sub.error().message();
  }
  EXPECT_TRUE(contains(other_pub.error().message(), "publisher of 'test/Reading'")) << other_pub.error().message();

  auto same_type = Subscriber<test::Wide>::create(*node_, "test/mixed");
  EXPECT_TRUE(same_type);
  }  // the channel's last ports of 'test/Wide' are gone: the type is free
  EXPECT_TRUE(Subscriber<Reading>::create(*node_, "test/mixed"));
}

// Reaches: fetch_schema Errc::timeout
TEST_F(ChannelTest, AChannelsTypeIsKnownFromASubscriberAlone) {
  {
    auto sub = Subscriber<Reading>::create(*node_, "test/listened");
    ASSERT_TRUE(sub);
    const auto schema = fetch_schema(*node_, "test/listened", 1s);
    ASSERT_TRUE(schema) << schema.error().message();
    EXPECT_EQ(schema->name, "test/Reading");
    EXPECT_EQ(schema->fingerprint, schema_of<Reading>().fingerprint);
  }
  const auto after = fetch_schema(*node_, "test/listened", 10ms);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code(), Errc::timeout);
}

TEST_F(ChannelTest, SubscriberNeverHandsOutUntypedBytes) {
  auto pub = UntypedPublisher::create(*node_, "test/mixed");
  auto sut = Subscriber<Reading>::create(*node_, "test/mixed");
  ASSERT_TRUE(pub && sut);
  ASSERT_TRUE(pub->wait_for_subscribers(10s));

  const std::vector<std::byte> bytes(sizeof(Reading), std::byte{0x5a});
  ASSERT_TRUE(pub->publish(bytes.data(), bytes.size()));
  ASSERT_TRUE(sut->wait(5s));

  EXPECT_FALSE(sut->take());
  EXPECT_EQ(sut->refused(), 1U);
  const auto error = sut->type_error();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code(), Errc::type_mismatch);
  for (const char* part : {"'test/mixed'", "untyped bytes", "'test/Reading'"}) {
    EXPECT_TRUE(contains(error->message(), part)) << error->message();
  }
}

// Reaches: fetch_schema Errc::invalid_argument
TEST_F(ChannelTest, FetchSchemaRefusesABadChannelNameWithoutWaiting) {
  const auto started = std::chrono::steady_clock::now();

  const auto sut = fetch_schema(*node_, "test//bad", 30s);

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::invalid_argument);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s) << "it waited for a type a bad name never gets";
}

class WaitSetTest : public testkit::NodeTest {
 protected:
  WaitSetTest() : NodeTest("wait-set-test") {}
};

// `count` subscribers of Reading on channels test/many/0, test/many/1, ...
std::vector<Subscriber<Reading>> subscribers(const Node& node, int count) {
  std::vector<Subscriber<Reading>> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    auto sub = Subscriber<Reading>::create(node, "test/many/" + std::to_string(i));
    EXPECT_TRUE(sub) << i << ": " << sub.error().message();
    if (!sub) break;
    out.push_back(std::move(*sub));
  }
  return out;
}

// Reaches: WaitSet::add Errc::out_of_resources
TEST_F(WaitSetTest, RefusesTheSixtyFifthSubscriberNamingItsLimitAndKeepsTheOthers) {
  auto sut = WaitSet::create(*node_);
  ASSERT_TRUE(sut) << sut.error().message();
  auto subs = subscribers(*node_, 65);
  ASSERT_EQ(subs.size(), 65U);
  for (std::size_t i = 0; i < 64; ++i) {
    const auto index = sut->add(subs[i]);
    ASSERT_TRUE(index) << i << ": " << index.error().message();
    EXPECT_EQ(*index, i);
  }

  const auto refused = sut->add(subs[64]);

  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::out_of_resources);
  EXPECT_TRUE(contains(refused.error().message(), "at most 64 subscribers")) << refused.error().message();
  EXPECT_TRUE(contains(refused.error().message(), "test/many/64")) << refused.error().message();
  EXPECT_TRUE(sut->wait(0ns).empty()) << "no subscriber has data";
}

class EventLoopTest : public testkit::NodeTest {
 protected:
  EventLoopTest() : NodeTest("event-loop-test") {}
};

// Reaches: EventLoop::on Errc::out_of_resources
TEST_F(EventLoopTest, RefusesTheSixtyFifthSubscriberNamingItsLimit) {
  auto sut = EventLoop::create(*node_);
  ASSERT_TRUE(sut) << sut.error().message();
  auto subs = subscribers(*node_, 65);
  ASSERT_EQ(subs.size(), 65U);
  for (std::size_t i = 0; i < 64; ++i) {
    const auto added = sut->on(subs[i], [](const Sample<Reading>&) {});
    ASSERT_TRUE(added) << i << ": " << added.error().message();
  }

  const auto refused = sut->on(subs[64], [](const Sample<Reading>&) {});

  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::out_of_resources);
  EXPECT_TRUE(contains(refused.error().message(), "at most 64 subscribers")) << refused.error().message();
}

// stop() from a handler ends run() after that handler, as documented:
// samples still queued stay queued, for the next take.
TEST_F(EventLoopTest, StopInAHandlerEndsRunAfterItAndLeavesTheQueuedSamples) {
  auto pub = Publisher<Reading>::create(*node_, "test/stop-loop");
  auto sub = Subscriber<Reading>::create(*node_, "test/stop-loop");
  ASSERT_TRUE(pub && sub);
  ASSERT_TRUE(sub->wait_connected(5s));
  auto sut = EventLoop::create(*node_);
  ASSERT_TRUE(sut) << sut.error().message();
  std::vector<std::uint64_t> handled;
  ASSERT_TRUE(sut->on(*sub, [&](const Sample<Reading>& sample) {
    handled.push_back(sample.value().index);
    sut->stop();
  }));
  for (std::uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(pub->publish(Reading{i, 20.0, "hall"}));

  ASSERT_TRUE(sut->run());

  EXPECT_EQ(handled, std::vector<std::uint64_t>{1});
  auto next = sub->take();
  ASSERT_TRUE(next) << "the samples after the stop were taken and handled";
  EXPECT_EQ(next->value().index, 2U);
}

// Reaches: EventLoop::create Errc::out_of_resources
TEST_F(EventLoopTest, ABusRefusesALoopBeyondItsClocksSixtyFourPlaces) {
  std::vector<EventLoop> loops;
  Result<EventLoop> sut = EventLoop::create(*node_);
  while (sut && loops.size() < 64) {
    loops.push_back(std::move(*sut));
    sut = EventLoop::create(*node_);
  }

  ASSERT_FALSE(sut) << "a 65th loop on the bus was created";
  EXPECT_EQ(sut.error().code(), Errc::out_of_resources) << sut.error().message();
  EXPECT_TRUE(contains(sut.error().message(), "all 64 event-loop places")) << sut.error().message();
  EXPECT_EQ(loops.size(), 64U) << "loops refused before the bus's 64 places were taken";
  loops.pop_back();
  EXPECT_TRUE(EventLoop::create(*node_)) << "a place freed by a destroyed loop is taken again";
}

}  // namespace
}  // namespace statebus
