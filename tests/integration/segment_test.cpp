// Bad shared memory: foreign, truncated, other-version, half-made and stale
// segments, and a /dev/shm too full for the daemon. Each is refused with an
// error that says what is wrong and what to do; nothing crashes.
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/shared_segment.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

class BadSegments : public testkit::PrivateBusTest {
 protected:
  void TearDown() override {
    ::unlink("/dev/shm/statebus-test-segment");  // ours alone, on a private bus or the machine's
    PrivateBusTest::TearDown();
  }
};

constexpr SharedSegment::Layout kLayout{0x5445535453454721ULL, 3, 1, 4096, "test segment"};

bool says(const Error& error, const std::string& part) { return error.message().find(part) != std::string::npos; }

// A well-made segment, then one field of it spoiled by `spoil`.
template <typename Spoil>
Error open_spoiled(Spoil spoil) {
  auto made = SharedSegment::create("statebus-test-segment", kLayout);
  EXPECT_TRUE(made) << made.error().message();
  made->publish_ready();
  spoil(made->header());
  auto opened = SharedSegment::open("statebus-test-segment", kLayout);
  EXPECT_FALSE(opened) << "a spoiled segment was accepted";
  return opened ? Error{Errc::system_error, "accepted"} : opened.error();
}

TEST_F(BadSegments, AWellMadeSegmentOpens) {
  auto made = SharedSegment::create("statebus-test-segment", kLayout);
  ASSERT_TRUE(made) << made.error().message();
  made->publish_ready();
  EXPECT_TRUE(SharedSegment::open("statebus-test-segment", kLayout));
}

TEST_F(BadSegments, AMissingOneSaysToStartTheDaemon) {
  ::unlink("/dev/shm/statebus-test-segment");  // in case a test before this one in the process made it
  const auto sut = SharedSegment::open("statebus-test-segment", kLayout);
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::no_daemon);
  EXPECT_TRUE(says(sut.error(), "statebus daemon")) << sut.error().message();
}

TEST_F(BadSegments, AForeignOneIsNamedForeign) {
  const Error sut = open_spoiled([](SegmentHeader& h) { h.magic = 0x1234; });
  EXPECT_EQ(sut.code(), Errc::invalid_argument);
  EXPECT_TRUE(says(sut, "foreign magic")) << sut.message();
}

TEST_F(BadSegments, AnotherLayoutVersionNamesBothVersions) {
  const Error sut = open_spoiled([](SegmentHeader& h) { h.major = 4; });
  EXPECT_TRUE(says(sut, "layout version 4.1, this program reads 3.x")) << sut.message();
}

TEST_F(BadSegments, ATruncatedOneSaysHowShort) {
  { auto made = SharedSegment::create("statebus-test-segment", kLayout); }
  ASSERT_EQ(::truncate("/dev/shm/statebus-test-segment", 1000), 0);
  const auto sut = SharedSegment::open("statebus-test-segment", kLayout);
  ASSERT_FALSE(sut);
  EXPECT_TRUE(says(sut.error(), "is truncated (1000 of 4160 bytes)")) << sut.error().message();
  { std::ofstream("/dev/shm/statebus-test-segment", std::ios::trunc) << "tiny"; }
  const auto tiny = SharedSegment::open("statebus-test-segment", kLayout);
  ASSERT_FALSE(tiny);
  EXPECT_TRUE(says(tiny.error(), "is truncated (4 bytes)")) << tiny.error().message();
}

TEST_F(BadSegments, AHalfMadeOneNamesItsCreator) {
  auto made = SharedSegment::create("statebus-test-segment", kLayout);  // never published ready
  ASSERT_TRUE(made);
  const auto sut = SharedSegment::open("statebus-test-segment", kLayout);
  ASSERT_FALSE(sut);
  EXPECT_TRUE(says(sut.error(), "is not initialised (its creator, pid " + std::to_string(::getpid())))
      << sut.error().message();
}

TEST_F(BadSegments, AStaleOneSaysItsDaemonEnded) {
  const Error sut = open_spoiled([](SegmentHeader& h) { h.creator_start_time += 1; });  // another process's
  EXPECT_EQ(sut.code(), Errc::stale_bus);
  EXPECT_TRUE(says(sut, "is stale: its daemon (pid")) << sut.message();
}

TEST_F(BadSegments, TheClockAndTheCellsRefuseAForeignSegmentAndKeepWorking) {
  { std::ofstream("/dev/shm/statebus-state") << std::string(100, 'x'); }
  auto cell = Cell<test::Counter>::open_or_create("test/cell");
  ASSERT_FALSE(cell);
  EXPECT_TRUE(says(cell.error(), "truncated") || says(cell.error(), "foreign")) << cell.error().message();
  EXPECT_GT(VirtualClock::now().time_since_epoch().count(), 0) << "the clock runs on real time without its segment";
}

// Reaches: Daemon::start Errc::out_of_resources
TEST_F(BadSegments, AFullDevShmStopsTheDaemonFromStartingWithAReason) {
  // A 4 MiB /dev/shm over this test's own (private namespace only).
  if (testkit::isolate_bus().value_or(testkit::Isolation::shared_machine) != testkit::Isolation::private_namespace) {
    // Mounting a small /dev/shm is safe only over this test's private one,
    // never over the machine's, which this system leaves no way around.
    GTEST_SKIP() << "this system permits no private mount namespace, and a small /dev/shm must not be "
                    "mounted over the machine's";
  }
  ASSERT_EQ(::mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=4m"), 0);
  const auto sut = Daemon::start();
  ::umount2("/dev/shm", MNT_DETACH);

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::out_of_resources);
  EXPECT_TRUE(says(sut.error(), "/dev/shm has 4 MiB free but the daemon needs")) << sut.error().message();
  EXPECT_TRUE(Daemon::start()) << "with room again, it starts";
}

}  // namespace
}  // namespace statebus
