#include "statebus/clock/duration.hpp"

#include <cstdint>

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

// Reaches: parse_duration Errc::invalid_argument
TEST(ParseDuration, RejectsBadTextSayingWhere) {
  for (const char* bad : {"", "5", "s", "-5s", "5x", "1.2.3s", "5 s", "99999999999d"}) {
    const auto sut = parse_duration(bad);
    ASSERT_FALSE(sut) << bad;
    EXPECT_EQ(sut.error().code(), Errc::invalid_argument);
  }
  EXPECT_NE(parse_duration("5x").error().message().find("unknown unit 'x' at position 1"), std::string::npos);
  EXPECT_NE(parse_duration("-5s").error().message().find("negative"), std::string::npos);
}

// Exact to the nanosecond up to the longest duration, and one more is an
// error, never a wrapped or rounded value (a double loses the last digits).
TEST(ParseDuration, IsExactUpToTheLongestDurationAndRefusesOneMore) {
  EXPECT_EQ(parse_duration("9223372036854775807ns").value().count(), INT64_MAX);
  EXPECT_EQ(parse_duration("9223372036854775806ns").value().count(), INT64_MAX - 1);
  EXPECT_EQ(parse_duration("9223372036.854775807s").value().count(), INT64_MAX);
  EXPECT_EQ(parse_duration("106751d23h47m16.854775807s").value().count(), INT64_MAX);
  EXPECT_EQ(parse_duration("0.000000001s").value(), 1ns);
  EXPECT_EQ(parse_duration("0.0000000015s").value(), 2ns);  // rounded to the nearest ns
  EXPECT_EQ(parse_duration("1.000000000000000000000001s").value(), 1s);
  for (const char* too_long : {"9223372036854775808ns", "9223372036.854775808s", "106752d", "292y",
                               "99999999999999999999999999999999999999999ns"}) {
    const auto sut = parse_duration(too_long);
    ASSERT_FALSE(sut) << too_long;
    EXPECT_EQ(sut.error().code(), Errc::invalid_argument) << too_long;
  }
  EXPECT_NE(parse_duration("9223372036854775808ns").error().message().find("too long"), std::string::npos);
  EXPECT_NE(parse_duration("+5s").error().message().find("a duration has no sign"), std::string::npos);
}

// Reaches: parse_rate Errc::invalid_argument
TEST(ParseRate, ReadsUnsignedNumbersAndRefusesTheRestSayingWhy) {
  EXPECT_EQ(parse_rate("0").value(), 0.0);
  EXPECT_EQ(parse_rate("0.5").value(), 0.5);
  EXPECT_EQ(parse_rate("86400").value(), 86400.0);
  EXPECT_EQ(parse_rate("1e6").value(), 1e6);
  EXPECT_EQ(parse_rate(".25").value(), 0.25);
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case c : {Case{"", "empty"}, Case{"-0", "a rate has no sign"}, Case{"-1", "a rate has no sign"},
                       Case{"+2", "a rate has no sign"}, Case{"abc", "not a number"}, Case{"inf", "not a number"},
                       Case{"nan", "not a number"}, Case{"1x", "not a number"}, Case{"1 ", "not a number"}}) {
    const auto sut = parse_rate(c.text);
    ASSERT_FALSE(sut) << c.text;
    EXPECT_EQ(sut.error().code(), Errc::invalid_argument) << c.text;
    EXPECT_NE(sut.error().message().find(c.says), std::string::npos) << c.text << ": " << sut.error().message();
  }
}

TEST(FormatDuration, ShowsDaysHoursMinutesSeconds) {
  EXPECT_EQ(format_duration(26h + 3min + 4s + 500ms), "1d 02:03:04.500");
  EXPECT_EQ(format_duration(0s), "0d 00:00:00.000");
}

}  // namespace
}  // namespace statebus
