// The bus's log rings: every record whose call returned is read, also from
// processes SIGKILLed mid-burst or right after their last call; a burst
// wakes a sleeping reader once; a full ring overwrites its oldest records
// and its readers see the gap; a forked child writes nothing into its
// parent's ring; a dead writer's ring is freed, a stopped writer's is kept.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "statebus/bus.hpp"
#include "statebus/daemon/daemon.hpp"
#include "statebus/internal/log_ring.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "statebus/recorder/recorder.hpp"
#include "statebus/testing/bus_test.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using testkit::ChildProcess;

class LogRingTest : public testkit::NodeTest {
 protected:
  LogRingTest() : NodeTest("log-ring-test") {}
  static ChildProcess child(std::vector<std::string> args) {
    args.insert(args.begin(), STATEBUS_TEST_CHILD);
    auto spawned = ChildProcess::spawn(std::move(args));
    EXPECT_TRUE(spawned) << spawned.error().message();
    return std::move(*spawned);
  }
};

// Records written by this process, "record N" for N = first … last.
std::uint64_t write_records(std::uint64_t first, std::uint64_t last) {
  std::uint64_t written = 0;
  for (std::uint64_t i = first; i <= last; ++i) {
    LogRecordHeader header;
    if (detail::LogWriter::write(header, "record " + std::to_string(i))) ++written;
  }
  return written;
}

TEST_F(LogRingTest, HundredWritersKilledMidBurstOrRightAfterTheirLastCallLoseNoRecord) {
  RecorderOptions options;
  options.patterns = {std::string(kLogChannel)};
  auto recorder = Recorder::start(*node_, options);
  ASSERT_TRUE(recorder) << recorder.error().message();
  constexpr std::size_t kWriters = 100;
  constexpr std::size_t kHalf = 150;
  std::vector<ChildProcess> writers;
  for (std::size_t i = 0; i < kWriters; ++i)
    writers.push_back(child({"log-burst", "w" + std::to_string(i), std::to_string(kHalf)}));
  // Even writers are killed by this test as soon as they are half-way (in
  // the middle of their burst); odd ones kill themselves right after the
  // call that wrote their last record.
  for (std::size_t i = 0; i < kWriters; ++i) {
    ASSERT_EQ(writers[i].read_line(60s), "half") << writers[i].describe();
    if (i % 2 == 0) writers[i].signal(SIGKILL);
  }
  for (auto& writer : writers) {
    const auto status = writer.wait(30s);
    ASSERT_TRUE(status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << writer.describe();
  }
  auto summary = recorder->stop();  // reads the rings one last time
  ASSERT_TRUE(summary) << summary.error().message();
  std::string gaps;
  for (const RecordingGap& gap : summary->gaps) {
    gaps += "\n" + std::to_string(gap.missing) + " of pid " + std::to_string(gap.publisher.pid) + ": " + gap.why;
  }
  std::map<std::string, std::vector<long>> numbers;
  for (const LogEntry& entry : recorder->logs()) numbers[entry.process].push_back(std::stol(entry.text));
  std::string missing;
  for (std::size_t i = 0; i < kWriters; ++i) {
    if (numbers.count("w" + std::to_string(i)) == 0) missing += " w" + std::to_string(i);
  }
  ASSERT_EQ(numbers.size(), static_cast<std::size_t>(kWriters)) << "no records of" << missing << gaps;
  for (std::size_t i = 0; i < kWriters; ++i) {
    const std::string name = "w" + std::to_string(i);
    const std::vector<long>& got = numbers[name];
    // Every record from the first on, none twice, none missing, whatever
    // the moment of the kill.
    ASSERT_FALSE(got.empty()) << name;
    for (std::size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], static_cast<long>(k) + 1) << name << gaps;
    if (i % 2 == 0) {
      EXPECT_GE(got.size(), static_cast<std::size_t>(kHalf)) << name;  // it said "half" after record kHalf
    } else {
      EXPECT_EQ(got.size(), static_cast<std::size_t>(2 * kHalf)) << name;  // killed right after its last call
    }
  }
  EXPECT_TRUE(summary->gaps.empty()) << gaps;
}

TEST_F(LogRingTest, ABurstWakesASleepingReaderOnceAndAnAwakeOneNever) {
  ASSERT_TRUE(detail::LogWriter::claim());
  auto reader = detail::LogReader::open();
  ASSERT_TRUE(reader) << reader.error().message();
  const std::uint32_t before = reader->bell_events();
  const std::uint32_t ticket = reader->prepare_sleep();  // a reader about to sleep
  ASSERT_NE(ticket, 0U);
  ASSERT_EQ(write_records(1, 100), 100U);
  EXPECT_EQ(reader->bell_events(), before + 1);  // the first record rang, the 99 others did not
  EXPECT_TRUE(reader->sleep(ticket, 10s));       // returns at once: rung since the ticket
  std::uint64_t next = 1;
  EXPECT_EQ(reader->drain([&](const SampleHeader& header, std::string_view payload) {
    const auto entry = decode_log_record(payload.data(), payload.size());
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->text, "record " + std::to_string(next));
    EXPECT_EQ(header.sequence, next);  // this process's first records
    EXPECT_EQ(header.publisher_pid, ::getpid());
    ++next;
  }),
            100U);
  // Nobody announced a sleep (a reader letting records gather, or busy):
  // a burst costs no wake-up at all.
  ASSERT_EQ(write_records(101, 300), 200U);
  EXPECT_EQ(reader->bell_events(), before + 1);
  EXPECT_EQ(reader->drain([](const SampleHeader&, std::string_view) {}), 200U);
}

TEST_F(LogRingTest, AFullRingOverwritesItsOldestRecordsAndItsReaderSeesTheGap) {
  ASSERT_TRUE(detail::LogWriter::claim());
  auto reader = detail::LogReader::open();
  ASSERT_TRUE(reader) << reader.error().message();
  constexpr std::uint64_t kWritten = 3000;  // several rings' worth: the writer never waits
  ASSERT_EQ(write_records(1, kWritten), kWritten);
  std::vector<std::uint64_t> sequences;
  while (reader->drain([&](const SampleHeader& header, std::string_view payload) {
    const auto entry = decode_log_record(payload.data(), payload.size());
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->text, "record " + std::to_string(header.sequence));  // intact, not torn
    sequences.push_back(header.sequence);
  }) > 0) {
  }
  ASSERT_FALSE(sequences.empty());
  EXPECT_GT(sequences.front(), 1U);       // the oldest were overwritten: a gap from 1
  EXPECT_EQ(sequences.back(), kWritten);  // the newest are there
  for (std::size_t i = 1; i < sequences.size(); ++i) ASSERT_EQ(sequences[i], sequences[i - 1] + 1);
  EXPECT_EQ(reader->damaged(), 0U);
}

TEST_F(LogRingTest, AForkedChildWritesNothingIntoItsParentsRing) {
  ASSERT_TRUE(detail::LogWriter::claim());
  auto reader = detail::LogReader::open();
  ASSERT_TRUE(reader) << reader.error().message();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(write_records(1, 1) == 0 ? 0 : 1);  // refused: it has no place on the bus
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the forked child wrote into its parent's ring";
  EXPECT_EQ(reader->drain([](const SampleHeader&, std::string_view) {}), 0U);
  EXPECT_EQ(write_records(2, 2), 1U);  // the parent still writes
  EXPECT_EQ(reader->drain([](const SampleHeader&, std::string_view) {}), 1U);
}

TEST_F(LogRingTest, ADeadWritersRingIsFreedWithItsRecordsReadAndAStoppedWritersIsKept) {
  auto reader = detail::LogReader::open();
  ASSERT_TRUE(reader) << reader.error().message();
  ChildProcess dead = child({"log", "dead", "3"});
  ChildProcess stopped = child({"log", "stopped", "3"});
  ASSERT_EQ(dead.read_line(30s), "logged 3") << dead.describe();
  ASSERT_EQ(stopped.read_line(30s), "logged 3") << stopped.describe();
  const pid_t dead_pid = dead.pid();
  const pid_t stopped_pid = stopped.pid();
  auto held = [&](pid_t pid) {
    const auto pids = reader->writers();
    return std::find(pids.begin(), pids.end(), pid) != pids.end();
  };
  ASSERT_TRUE(held(dead_pid));
  ASSERT_TRUE(held(stopped_pid));
  ASSERT_TRUE(stopped.signal(SIGSTOP));
  ASSERT_TRUE(dead.signal(SIGKILL));
  ASSERT_TRUE(dead.wait(30s));
  // The daemon frees the ring once the kernel reports the death.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (held(dead_pid) && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(daemon_->wait_for_round(2s)) << "the daemon stopped its rounds";
  }
  EXPECT_FALSE(held(dead_pid)) << "the dead writer's ring is still held";
  EXPECT_TRUE(held(stopped_pid)) << "the stopped writer's ring was freed";
  std::map<std::string, std::vector<std::string>> texts;
  reader->drain([&](const SampleHeader&, std::string_view payload) {
    const auto entry = decode_log_record(payload.data(), payload.size());
    ASSERT_TRUE(entry);
    texts[entry->process].push_back(entry->text);
  });
  const std::vector<std::string> expected_dead = {"record 1 of dead", "record 2 of dead", "record 3 of dead",
                                                  "dead is done"};
  EXPECT_EQ(texts["dead"], expected_dead);
  EXPECT_EQ(texts["stopped"].size(), 4U);
  ASSERT_TRUE(stopped.signal(SIGCONT));
  stopped.close_stdin();
  ASSERT_TRUE(stopped.wait(30s));
}

TEST_F(LogRingTest, ARecordCarriesTheTimeOfItsCallOnTheMonotonicAndTheBussClock) {
  auto sink = BusLogSink::create(*node_, "timed");
  ASSERT_TRUE(sink) << sink.error().message();
  auto reader = detail::LogReader::open();
  ASSERT_TRUE(reader) << reader.error().message();
  spdlog::logger logger("timed", *sink);
  auto one_record = [&] {
    SampleHeader got{};
    std::size_t n = reader->drain([&](const SampleHeader& header, std::string_view payload) {
      got = header;
      const auto entry = decode_log_record(payload.data(), payload.size());
      ASSERT_TRUE(entry);
      EXPECT_EQ(entry->virtual_time.time_since_epoch().count(), header.virtual_time_ns);
    });
    EXPECT_EQ(n, 1U);
    return got;
  };
  // Real mode: the call's moment on CLOCK_MONOTONIC, and virtual time equal to it.
  const std::int64_t before = detail::monotonic_ns();
  logger.info("now");
  const std::int64_t after = detail::monotonic_ns();
  const SampleHeader real = one_record();
  EXPECT_GE(real.real_time_ns, before - 1000);  // the offset between the clocks is read to within a microsecond
  EXPECT_LE(real.real_time_ns, after + 1000);
  EXPECT_EQ(real.virtual_time_ns, real.real_time_ns);
  // Stepped: the bus's clock, whatever the real time.
  ASSERT_TRUE(VirtualClock::set_stepped());
  ASSERT_TRUE(VirtualClock::advance(90min));
  const auto stepped_at = VirtualClock::now();
  logger.info("stepped");
  EXPECT_EQ(one_record().virtual_time_ns, stepped_at.time_since_epoch().count());
  ASSERT_TRUE(VirtualClock::set_real());
}

TEST_F(LogRingTest, ARecorderOfEverythingRecordsTheLog) {
  RecorderOptions options;
  options.patterns = {"**"};
  auto recorder = Recorder::start(*node_, options);
  ASSERT_TRUE(recorder) << recorder.error().message();
  ASSERT_TRUE(recorder->wait_recording(kLogChannel, 10s));
  auto sink = BusLogSink::create(*node_, "everything");
  ASSERT_TRUE(sink) << sink.error().message();
  spdlog::logger logger("everything", *sink);
  logger.warn("recorded by **");
  const auto entry =
      recorder->wait_for_log([](const LogEntry& e) { return e.text == "recorded by **"; }, virtual_timeout(10s));
  ASSERT_TRUE(entry) << to_string(entry.status());
  EXPECT_EQ(entry->process, "everything");
  EXPECT_EQ(entry->level, LogLevel::warn);
}

// Any process of the bus's group may write the segment: a reader of words
// no writer leaves neither loops nor hands out a record.
TEST_F(LogRingTest, AReaderOfDamagedRingsEndsAndHandsOutNothingOfThem) {
  const int fd = ::shm_open((std::string("/") + detail::kLogSegmentName).c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  void* base = ::mmap(nullptr, detail::kLogSegmentBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(base, MAP_FAILED);
  auto* segment = reinterpret_cast<detail::LogSegment*>(static_cast<char*>(base) + 64);
  detail::LogRingHead& misaligned = segment->heads[detail::kLogRings - 1];
  misaligned.tail.store(4);
  misaligned.head.store(16);
  detail::LogRingHead& garbage = segment->heads[detail::kLogRings - 2];
  garbage.tail.store(0);
  garbage.head.store(4096);
  std::memset(segment->data[detail::kLogRings - 2], 0xff, 4096);
  detail::LogRingHead& beyond = segment->heads[detail::kLogRings - 3];
  beyond.tail.store(8);
  beyond.head.store(8 + 4 * detail::kLogRingBytes);
  for (const auto from : {detail::LogReader::From::oldest, detail::LogReader::From::now}) {
    auto reader = detail::LogReader::open(from);
    ASSERT_TRUE(reader) << reader.error().message();
    EXPECT_EQ(reader->drain([](const SampleHeader&, std::string_view) {}), 0U);
    EXPECT_EQ(reader->drain([](const SampleHeader&, std::string_view) {}), 0U);
  }
  ::munmap(base, detail::kLogSegmentBytes);
}

}  // namespace
}  // namespace statebus
