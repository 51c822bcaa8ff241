#include "statebus/bus/log_record.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

namespace statebus {
namespace {

using namespace std::chrono_literals;

LogEntry sample_entry() {
  LogEntry entry;
  entry.virtual_time = VirtualClock::time_point(86'400'000'000'123ns);
  entry.wall_time = std::chrono::system_clock::time_point(1'765'432'109'876'543'210ns);
  entry.pid = 4242;
  entry.level = LogLevel::warn;
  entry.dropped_before = 3;
  entry.process = "heating";
  entry.logger = "control";
  entry.text = "valve stuck";
  return entry;
}

TEST(LogRecord, DecodeGivesBackWhatWasEncodedToTheNanosecond) {
  const LogEntry sent = sample_entry();
  std::string bytes;
  encode_log_record(sent, bytes);

  const auto sut = decode_log_record(bytes.data(), bytes.size());

  ASSERT_TRUE(sut);
  EXPECT_EQ(sut->virtual_time, sent.virtual_time);
  EXPECT_EQ(sut->wall_time, sent.wall_time);
  EXPECT_EQ(sut->pid, 4242);
  EXPECT_EQ(sut->level, LogLevel::warn);
  EXPECT_EQ(sut->dropped_before, 3U);
  EXPECT_EQ(sut->process, "heating");
  EXPECT_EQ(sut->logger, "control");
  EXPECT_EQ(sut->text, "valve stuck");
}

TEST(LogRecord, WireHoldsNanosecondsSinceTheClocksZeroAndSince1970) {
  std::string bytes;

  encode_log_record(sample_entry(), bytes);

  ASSERT_GE(bytes.size(), sizeof(LogRecordHeader));
  LogRecordHeader sut;
  std::memcpy(&sut, bytes.data(), sizeof sut);
  EXPECT_EQ(sut.virtual_time_ns, 86'400'000'000'123);
  EXPECT_EQ(sut.wall_time_ns, 1'765'432'109'876'543'210);
}

}  // namespace
}  // namespace statebus
