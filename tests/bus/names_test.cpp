#include "statebus/bus/names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace statebus {
namespace {

TEST(NodeName, AcceptsLettersDigitsUnderscoreAndDash) {
  EXPECT_TRUE(validate_node_name("heating"));
  EXPECT_TRUE(validate_node_name("web-1_front"));
  EXPECT_TRUE(validate_node_name("7segment"));
  EXPECT_TRUE(validate_node_name(std::string(kMaxNodeNameLength, 'a')));
}

// Reaches: validate_node_name Errc::invalid_argument
TEST(NodeName, RejectsEmptyWithAnExample) {
  const auto sut = validate_node_name("");
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::invalid_argument);
  EXPECT_NE(sut.error().message().find("empty"), std::string::npos);
}

TEST(NodeName, RejectsTooLongAndSaysTheLimit) {
  const auto sut = validate_node_name(std::string(kMaxNodeNameLength + 1, 'a'));
  ASSERT_FALSE(sut);
  EXPECT_NE(sut.error().message().find("at most 64"), std::string::npos) << sut.error().message();
}

TEST(NodeName, RejectsBadCharacterAndNamesItsPosition) {
  const auto sut = validate_node_name("heat/ing");
  ASSERT_FALSE(sut);
  EXPECT_NE(sut.error().message().find("'/' at position 4"), std::string::npos) << sut.error().message();
  EXPECT_FALSE(validate_node_name("-leading-dash"));
  EXPECT_FALSE(validate_node_name("_x"));
  EXPECT_FALSE(validate_node_name("a b"));
  EXPECT_FALSE(validate_node_name("caf\xc3\xa9"));
  EXPECT_FALSE(validate_node_name(std::string("nul\0byte", 8)));
}

TEST(ChannelName, AcceptsOneToEightParts) {
  EXPECT_TRUE(validate_channel_name("log"));
  EXPECT_TRUE(validate_channel_name("home/sensor"));
  EXPECT_TRUE(validate_channel_name("home/sensor/temperature"));
  EXPECT_TRUE(validate_channel_name("a/b/c/d/e/f/g/h"));
}

// Reaches: validate_channel_name Errc::invalid_argument
TEST(ChannelName, RejectsEmptyPartsAndSaysWhere) {
  for (const char* bad : {"", "/home", "home/", "home//sensor"}) {
    const auto sut = validate_channel_name(bad);
    ASSERT_FALSE(sut) << bad;
    EXPECT_EQ(sut.error().code(), Errc::invalid_argument);
  }
  EXPECT_NE(validate_channel_name("home//sensor").error().message().find("empty part at position 5"),
            std::string::npos);
}

TEST(ChannelName, RejectsIceoryxsOwnServiceNames) {
  EXPECT_FALSE(validate_channel_name("Introspection/RouDi_ID/Port"));
  EXPECT_FALSE(validate_channel_name("ServiceDiscovery/x"));
  EXPECT_TRUE(validate_channel_name("home/Introspection"));
}

TEST(ChannelName, RejectsMoreThanEightParts) {
  const auto sut = validate_channel_name("a/b/c/d/e/f/g/h/i");
  ASSERT_FALSE(sut);
  EXPECT_NE(sut.error().message().find("9 parts"), std::string::npos) << sut.error().message();
}

TEST(ChannelName, RejectsCharactersIceoryxOrFilesCannotCarry) {
  EXPECT_FALSE(validate_channel_name("home/sensor.temp"));
  EXPECT_FALSE(validate_channel_name("home/sensor temp"));
  EXPECT_FALSE(validate_channel_name("home/*"));
  EXPECT_FALSE(validate_channel_name("home\\sensor"));
}

TEST(ChannelName, EnforcesIceoryxStringLimits) {
  const std::string part100(100, 'x');
  const std::string part101(101, 'x');
  EXPECT_TRUE(validate_channel_name(part100 + "/" + part100 + "/" + std::string(100, 'e')));
  EXPECT_FALSE(validate_channel_name(part101));
  EXPECT_FALSE(validate_channel_name("a/" + part101));
  // Parts 3 and on share iceoryx's event string: 50 + '/' + 50 = 101 characters.
  const auto sut = validate_channel_name("a/b/" + std::string(50, 'e') + "/" + std::string(50, 'f'));
  ASSERT_FALSE(sut);
  EXPECT_NE(sut.error().message().find("parts 3 and on have 101 characters"), std::string::npos)
      << sut.error().message();
}

TEST(ChannelNames, PartsStartingWithAnUnderscoreAreInternal) {
  EXPECT_TRUE(is_internal_channel("home/heating/plan/_call"));
  EXPECT_TRUE(is_internal_channel("home/heating/plan/_reply/12"));
  EXPECT_TRUE(is_internal_channel("_private"));
  EXPECT_FALSE(is_internal_channel("home/heating_plan/call"));
  EXPECT_FALSE(is_internal_channel("home/sensor/temperature"));
}

}  // namespace
}  // namespace statebus
