#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

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

}  // namespace
}  // namespace statebus
