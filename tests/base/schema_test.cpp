#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "statebus/describe.hpp"

namespace demo {

enum class Mode : std::uint8_t { off, heat, eco };
STATEBUS_ENUM(Mode, off, heat, eco);

enum Level : std::int16_t { low = -1, high = 1 };  // unnamed values print as numbers

struct Inner {
  std::int32_t a;
  bool flag;
};
STATEBUS_MESSAGE(Inner, "demo/Inner", a, flag);

struct Everything {
  std::int8_t i8;
  std::uint64_t u64;
  float f;
  double d;
  bool b;
  Mode mode;
  Level level;
  char room[12];
  std::int16_t samples[3];
  std::array<float, 2> pair;
  Inner inner;
  Inner inners[2];
};
STATEBUS_MESSAGE(Everything, "demo/Everything", i8, u64, f, d, b, mode, level, room, samples, pair, inner, inners);

struct Renamed {  // same layout as Inner, another field name
  std::int32_t a;
  bool other;
};
STATEBUS_MESSAGE(Renamed, "demo/Inner", a, other);

}  // namespace demo

namespace statebus {
namespace {

demo::Everything sample_value() {
  demo::Everything v{};
  v.i8 = -5;
  v.u64 = 18446744073709551615ULL;
  v.f = 1.5F;
  v.d = -0.25;
  v.b = true;
  v.mode = demo::Mode::heat;
  v.level = demo::low;
  std::strcpy(v.room, "living");
  v.samples[0] = 1;
  v.samples[1] = -2;
  v.samples[2] = 3;
  v.pair = {0.5F, 2.0F};
  v.inner = {7, true};
  v.inners[1] = {-9, false};
  return v;
}

TEST(Schema, DescribesEveryFieldWithOffsetsSizesAndKinds) {
  const Schema& sut = schema_of<demo::Everything>();
  EXPECT_EQ(sut.name, "demo/Everything");
  EXPECT_EQ(sut.size, sizeof(demo::Everything));
  ASSERT_EQ(sut.fields.size(), 12U);
  EXPECT_EQ(sut.fields[1].kind, FieldKind::uint64);
  EXPECT_EQ(sut.fields[1].offset, offsetof(demo::Everything, u64));
  EXPECT_EQ(sut.fields[5].kind, FieldKind::enumeration);
  EXPECT_EQ(sut.fields[5].underlying, FieldKind::uint8);
  EXPECT_EQ(sut.fields[7].kind, FieldKind::text);
  EXPECT_EQ(sut.fields[7].size, 12U);
  EXPECT_EQ(sut.fields[8].count, 3U);
  EXPECT_EQ(sut.fields[9].count, 2U);
  EXPECT_EQ(sut.fields[9].kind, FieldKind::float32);
  EXPECT_EQ(sut.fields[11].kind, FieldKind::structure);
  EXPECT_EQ(sut.fields[11].count, 2U);
  EXPECT_EQ(sut.fields[11].fields.size(), 2U);
}

TEST(Schema, RendersTextFieldByField) {
  const demo::Everything value = sample_value();
  EXPECT_EQ(schema_of<demo::Everything>().render_text(&value),
            "{i8: -5, u64: 18446744073709551615, f: 1.5, d: -0.25, b: true, mode: heat, level: -1, "
            "room: \"living\", samples: [1, -2, 3], pair: [0.5, 2], inner: {a: 7, flag: true}, "
            "inners: [{a: 0, flag: false}, {a: -9, flag: false}]}");
}

TEST(Schema, RendersJson) {
  const demo::Everything value = sample_value();
  EXPECT_EQ(schema_of<demo::Everything>().render_json(&value),
            R"({"b":true,"d":-0.25,"f":1.5,"i8":-5,"inner":{"a":7,"flag":true},"inners":[{"a":0,"flag":false},)"
            R"({"a":-9,"flag":false}],"level":-1,"mode":"heat","pair":[0.5,2.0],"room":"living","samples":[1,-2,3],)"
            R"("u64":18446744073709551615})");
}

TEST(Schema, JsonRoundTripKeepsFingerprintAndRendering) {
  const Schema& original = schema_of<demo::Everything>();
  const auto sut = Schema::from_json(original.to_json());
  ASSERT_TRUE(sut) << sut.error().message();
  EXPECT_EQ(sut->fingerprint, original.fingerprint);
  const demo::Everything value = sample_value();
  EXPECT_EQ(sut->render_text(&value), original.render_text(&value));
}

TEST(Schema, FingerprintChangesWithFieldNamesLayoutAndName) {
  EXPECT_NE(schema_of<demo::Inner>().fingerprint, schema_of<demo::Renamed>().fingerprint);
  Schema moved = schema_of<demo::Inner>();
  moved.fields[1].offset += 1;
  EXPECT_NE(compute_fingerprint(moved), schema_of<demo::Inner>().fingerprint);
  Schema renamed = schema_of<demo::Inner>();
  renamed.name = "demo/Other";
  EXPECT_NE(compute_fingerprint(renamed), schema_of<demo::Inner>().fingerprint);
}

TEST(Schema, RejectsCorruptSchemasSayingWhere) {
  const std::string good = schema_of<demo::Inner>().to_json();
  EXPECT_FALSE(Schema::from_json("not json"));
  EXPECT_FALSE(Schema::from_json("[]"));

  std::string outside = good;
  outside.replace(outside.find("\"offset\":4"), 10, "\"offset\":9");
  const auto sut = Schema::from_json(outside);
  ASSERT_FALSE(sut);
  EXPECT_NE(sut.error().message().find("demo/Inner.flag"), std::string::npos) << sut.error().message();

  std::string tampered = good;
  tampered.replace(tampered.find("\"name\":\"flag\""), 13, "\"name\":\"flog\"");
  const auto fingerprint = Schema::from_json(tampered);
  ASSERT_FALSE(fingerprint);
  EXPECT_NE(fingerprint.error().message().find("fingerprint"), std::string::npos);

  std::string wrong_size = good;
  wrong_size.replace(wrong_size.find("\"kind\":\"int32\",\"name\":\"a\",\"offset\":0,\"size\":4"), 47,
                     "\"kind\":\"int32\",\"name\":\"a\",\"offset\":0,\"size\":2");
  EXPECT_FALSE(Schema::from_json(wrong_size));
}

}  // namespace
}  // namespace statebus
