#include "statebus/clock/duration.hpp"

#include <gtest/gtest.h>

namespace statebus {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, ReadsUnitsAndSums) {
  EXPECT_EQ(parse_duration("90s").value(), 90s);
  EXPECT_EQ(parse_duration("15m").value(), 15min);
  EXPECT_EQ(parse_duration("24h").value(), 24h);
  EXPECT_EQ(parse_duration("1h30m").value(), 90min);
  EXPECT_EQ(parse_duration("250ms").value(), 250ms);
  EXPECT_EQ(parse_duration("1.5h").value(), 90min);
  EXPECT_EQ(parse_duration("2d").value(), 48h);
  EXPECT_EQ(parse_duration("7ns").value(), 7ns);
}

TEST(ParseDuration, RejectsBadTextSayingWhere) {
  for (const char* bad : {"", "5", "s", "-5s", "5x", "1.2.3s", "5 s", "99999999999d"}) {
    const auto sut = parse_duration(bad);
    ASSERT_FALSE(sut) << bad;
    EXPECT_EQ(sut.error().code(), Errc::invalid_argument);
  }
  EXPECT_NE(parse_duration("5x").error().message().find("unknown unit 'x' at position 1"), std::string::npos);
  EXPECT_NE(parse_duration("-5s").error().message().find("negative"), std::string::npos);
}

TEST(FormatDuration, ShowsDaysHoursMinutesSeconds) {
  EXPECT_EQ(format_duration(26h + 3min + 4s + 500ms), "1d 02:03:04.500");
  EXPECT_EQ(format_duration(0s), "0d 00:00:00.000");
}

}  // namespace
}  // namespace statebus
