#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "statebus/base/describe.hpp"

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

struct Integers {  // the integer kinds Everything lacks
  std::int16_t i16;
  std::int32_t i32;
  std::int64_t i64;
  std::uint8_t u8;
  std::uint16_t u16;
  std::uint32_t u32;
};
STATEBUS_MESSAGE(Integers, "demo/Integers", i16, i32, i64, u8, u16, u32);

struct Limited {  // what its fields mean, declared once
  double celsius = 20.0;
  std::int32_t steps[2] = {0, 0};
  std::uint64_t switches = 0;
  char room[8] = "";
};
STATEBUS_MESSAGE(Limited, "demo/Limited", celsius, steps, switches, room);
STATEBUS_FIELD_INFO(Limited,
                    statebus::field(&Limited::celsius).range(5, 30).step(0.5).unit("°C").quantity("temperature"),
                    statebus::field(&Limited::steps).min(0), statebus::field(&Limited::switches).counter(),
                    statebus::field(&Limited::room).label("Room"));

struct Holder {  // a nested type keeps its declarations
  Limited inner;
};
STATEBUS_MESSAGE(Holder, "demo/Holder", inner);

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

// Assigns path = text pairs to a zeroed, unaligned T and reads it back with memcpy.
template <class T>
T assigned(std::initializer_list<std::pair<const char*, const char*>> values) {
  unsigned char buffer[sizeof(T) + 1] = {};
  for (const auto& [path, text] : values) {
    const auto result = schema_of<T>().assign(buffer + 1, path, text);
    EXPECT_TRUE(result) << path << " = " << text << ": " << result.error().message();
  }
  T value;
  std::memcpy(&value, buffer + 1, sizeof(T));
  return value;
}

// Assigns path = text to the bytes of sample_value(); expects a failure that leaves them unchanged.
// Returns the failure's message.
std::string assign_error(const char* path, const char* text) {
  const demo::Everything sample = sample_value();
  unsigned char before[sizeof sample];
  unsigned char data[sizeof sample];
  std::memcpy(before, &sample, sizeof sample);
  std::memcpy(data, &sample, sizeof sample);
  const auto result = schema_of<demo::Everything>().assign(data, path, text);
  EXPECT_EQ(std::memcmp(data, before, sizeof sample), 0) << path << " = " << text << " changed the data";
  if (result) {
    ADD_FAILURE() << path << " = " << text << " was accepted";
    return "";
  }
  EXPECT_EQ(result.error().code(), Errc::invalid_argument);
  return result.error().message();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Schema, AssignSetsEveryKind) {
  const demo::Everything sut = assigned<demo::Everything>({{"i8", "-128"},
                                                          {"u64", "18446744073709551615"},
                                                          {"f", "21.5"},
                                                          {"d", "-0.125"},
                                                          {"b", "true"},
                                                          {"mode", "eco"},
                                                          {"level", "-1"},
                                                          {"room", "kitchen"},
                                                          {"samples[2]", "-7"},
                                                          {"pair[1]", "2.5e-1"},
                                                          {"inner.a", "0x7fffffff"},
                                                          {"inner.flag", "1"},
                                                          {"inners[1].a", "-9"},
                                                          {"inners[1].flag", "true"}});
  EXPECT_EQ(sut.i8, -128);
  EXPECT_EQ(sut.u64, 18446744073709551615ULL);
  EXPECT_EQ(sut.f, 21.5F);
  EXPECT_EQ(sut.d, -0.125);
  EXPECT_TRUE(sut.b);
  EXPECT_EQ(sut.mode, demo::Mode::eco);
  EXPECT_EQ(sut.level, demo::low);
  EXPECT_STREQ(sut.room, "kitchen");
  EXPECT_EQ(sut.samples[0], 0);
  EXPECT_EQ(sut.samples[2], -7);
  EXPECT_EQ(sut.pair[0], 0.0F);
  EXPECT_EQ(sut.pair[1], 0.25F);
  EXPECT_EQ(sut.inner.a, 2147483647);
  EXPECT_TRUE(sut.inner.flag);
  EXPECT_EQ(sut.inners[0].a, 0);
  EXPECT_EQ(sut.inners[1].a, -9);
  EXPECT_TRUE(sut.inners[1].flag);

  const demo::Integers ints = assigned<demo::Integers>(
      {{"i16", "-32768"}, {"i32", "-2147483648"}, {"i64", "-9223372036854775808"}, {"u8", "255"}, {"u16", "0xFFFF"},
       {"u32", "4294967295"}});
  EXPECT_EQ(ints.i16, -32768);
  EXPECT_EQ(ints.i32, -2147483647 - 1);
  EXPECT_EQ(ints.i64, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(ints.u8, 255);
  EXPECT_EQ(ints.u16, 65535);
  EXPECT_EQ(ints.u32, 4294967295U);
  EXPECT_EQ(assigned<demo::Integers>({{"i64", "9223372036854775807"}}).i64, std::numeric_limits<std::int64_t>::max());
}

TEST(Schema, AssignReadsBooleansAndSpecialFloats) {
  EXPECT_FALSE(assigned<demo::Everything>({{"b", "1"}, {"b", "false"}}).b);
  EXPECT_TRUE(assigned<demo::Everything>({{"b", "1"}}).b);
  EXPECT_FALSE(assigned<demo::Everything>({{"b", "true"}, {"b", "0"}}).b);
  EXPECT_TRUE(std::isinf(assigned<demo::Everything>({{"f", "-inf"}}).f));
  EXPECT_TRUE(std::isnan(assigned<demo::Everything>({{"d", "nan"}}).d));
  EXPECT_EQ(assigned<demo::Everything>({{"f", "3.4e38"}}).f, 3.4e38F);
}

TEST(Schema, AssignTakesEnumsByNameOrListedNumber) {
  EXPECT_EQ(assigned<demo::Everything>({{"mode", "heat"}}).mode, demo::Mode::heat);
  EXPECT_EQ(assigned<demo::Everything>({{"mode", "2"}}).mode, demo::Mode::eco);
  EXPECT_EQ(assigned<demo::Everything>({{"mode", "0x1"}}).mode, demo::Mode::heat);
  EXPECT_EQ(assign_error("mode", "3"), "value '3' is not valid for 'mode' (enum Mode: off = 0, heat = 1, eco = 2)");
  EXPECT_TRUE(contains(assign_error("mode", "cool"), "off = 0, heat = 1, eco = 2"));
  // An enum without names takes any number of its underlying kind.
  EXPECT_EQ(static_cast<int>(assigned<demo::Everything>({{"level", "32767"}}).level), 32767);
  EXPECT_EQ(assign_error("level", "32768"), "value 32768 is out of range for 'level' (int16: -32768…32767)");
  EXPECT_TRUE(contains(assign_error("level", "high"), "int16: -32768…32767"));
}

TEST(Schema, AssignFitsTextAndZeroFillsTheRest) {
  const demo::Everything sut = assigned<demo::Everything>({{"room", "abcdefghijk"}, {"room", "xy"}});
  EXPECT_EQ(std::string(sut.room, sizeof sut.room), std::string("xy") + std::string(10, '\0'));
  EXPECT_STREQ(assigned<demo::Everything>({{"room", "abcdefghijk"}}).room, "abcdefghijk");
  EXPECT_STREQ(assigned<demo::Everything>({{"room", "x"}, {"room", ""}}).room, "");
  EXPECT_EQ(assign_error("room", "abcdefghijkl"), "text for 'room' is too long: 12 bytes, it holds at most 11");
}

TEST(Schema, AssignRefusesIntegersOutOfRange) {
  EXPECT_EQ(assign_error("i8", "128"), "value 128 is out of range for 'i8' (int8: -128…127)");
  EXPECT_EQ(assign_error("i8", "-129"), "value -129 is out of range for 'i8' (int8: -128…127)");
  EXPECT_EQ(assign_error("u64", "18446744073709551616"),
            "value 18446744073709551616 is out of range for 'u64' (uint64: 0…18446744073709551615)");
  EXPECT_EQ(assign_error("u64", "-1"), "value -1 is out of range for 'u64' (uint64: 0…18446744073709551615)");
  EXPECT_TRUE(contains(assign_error("u64", "0x10000000000000000"), "out of range"));
  EXPECT_TRUE(contains(assign_error("samples[0]", "-32769"), "(int16: -32768…32767)"));

  demo::Integers ints{};
  const Schema& schema = schema_of<demo::Integers>();
  EXPECT_EQ(schema.assign(&ints, "u8", "256").error().message(), "value 256 is out of range for 'u8' (uint8: 0…255)");
  EXPECT_EQ(schema.assign(&ints, "u8", "-1").error().message(), "value -1 is out of range for 'u8' (uint8: 0…255)");
  EXPECT_FALSE(schema.assign(&ints, "u16", "65536"));
  EXPECT_FALSE(schema.assign(&ints, "i64", "9223372036854775808"));
  EXPECT_FALSE(schema.assign(&ints, "i64", "-9223372036854775809"));
}

TEST(Schema, AssignRefusesUnparsableValues) {
  EXPECT_EQ(assign_error("i8", "12x"), "value '12x' is not valid for 'i8' (int8: -128…127, in decimal or 0x hex)");
  for (const char* text : {"", " 12", "12 ", "1.5", "0x", "--1", "+-1", "1e2"}) {
    EXPECT_TRUE(contains(assign_error("i8", text), "is not valid for 'i8'")) << "'" << text << "'";
  }
  EXPECT_EQ(assign_error("b", "yes"), "value 'yes' is not valid for 'b' (bool: true, false, 1 or 0)");
  EXPECT_TRUE(contains(assign_error("f", "1.5x"), "is not valid for 'f' (float32"));
  EXPECT_TRUE(contains(assign_error("d", ""), "is not valid for 'd' (float64"));
  EXPECT_TRUE(contains(assign_error("f", "1e39"), "value 1e39 is out of range for 'f' (float32: a number up to"));
  EXPECT_TRUE(contains(assign_error("d", "1e400"), "value 1e400 is out of range for 'd' (float64"));
}

TEST(Schema, AssignNamesTheKnownFieldsOfAWrongPath) {
  EXPECT_EQ(assign_error("celsus", "1"), "no field 'celsus' in demo/Everything; its fields are: i8, u64, f, d, b, "
                                         "mode, level, room, samples, pair, inner, inners");
  EXPECT_EQ(assign_error("inner.q", "1"), "no field 'q' in inner (demo/Inner); its fields are: a, flag");
  EXPECT_EQ(assign_error("inners[1].q", "1"), "no field 'q' in inners[1] (demo/Inner); its fields are: a, flag");
  EXPECT_EQ(assign_error("inner", "1"),
            "'inner' is a struct (demo/Inner); name one of its fields: inner.a, inner.flag");
  EXPECT_TRUE(contains(assign_error("inners[0]", "1"), "name one of its fields: inners[0].a, inners[0].flag"));
  EXPECT_EQ(assign_error("i8.x", "1"), "'i8' is int8, not a struct; it has no field 'x'");
  EXPECT_TRUE(contains(assign_error("", "1"), "its fields are: i8, u64"));
}

TEST(Schema, AssignNeedsAnIndexInRangeForArrays) {
  EXPECT_EQ(assign_error("samples", "1"), "'samples' is an array of 3; give an index: samples[i] with i in 0…2");
  EXPECT_EQ(assign_error("samples[3]", "1"), "index 3 is out of range for 'samples' (0…2)");
  EXPECT_TRUE(contains(assign_error("inners.a", "1"), "give an index: inners[i] with i in 0…1"));
  for (const char* path : {"samples[]", "samples[-1]", "samples[x]", "samples[1", "samples[1]x", "samples[1][0]"}) {
    EXPECT_TRUE(contains(assign_error(path, "1"), "give samples[i] with i in 0…2")) << path;
  }
  EXPECT_EQ(assign_error("i8[0]", "1"), "'i8' is not an array; name it without an index");
  EXPECT_EQ(assign_error("room[0]", "x"), "'room' is not an array; name it without an index");
}

TEST(Schema, AssignLeavesDataUnchangedOnError) {
  const demo::Everything sample = sample_value();
  unsigned char before[sizeof sample];
  std::memcpy(before, &sample, sizeof sample);
  unsigned char data[sizeof sample];
  std::memcpy(data, before, sizeof sample);
  const Schema& schema = schema_of<demo::Everything>();
  EXPECT_FALSE(schema.assign(data, "room", "a text much too long for the room"));
  EXPECT_FALSE(schema.assign(data, "u64", "18446744073709551616"));
  EXPECT_FALSE(schema.assign(data, "inners[1].a", "2147483648"));
  EXPECT_FALSE(schema.assign(data, "mode", "cool"));
  EXPECT_EQ(std::memcmp(data, before, sizeof sample), 0);
  ASSERT_TRUE(schema.assign(data, "inners[1].a", "5"));  // and a good one changes just its field
  demo::Everything expected = sample;
  expected.inners[1].a = 5;
  demo::Everything actual;
  std::memcpy(&actual, data, sizeof actual);
  EXPECT_EQ(schema.render_text(&actual), schema.render_text(&expected));
}

TEST(Schema, ParseJsonIsTheInverseOfRenderJson) {
  const Schema& schema = schema_of<demo::Everything>();
  const demo::Everything original = sample_value();
  demo::Everything parsed{};
  const auto done = schema.parse_json(schema.render_json(&original), &parsed);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(schema.render_json(&parsed), schema.render_json(&original));
}

TEST(Schema, ParseJsonTakesEnumsByNumberAndNullAsNan) {
  const Schema& schema = schema_of<demo::Everything>();
  demo::Everything value = sample_value();
  value.f = std::numeric_limits<float>::quiet_NaN();
  std::string json = schema.render_json(&value);
  ASSERT_NE(json.find(R"("f":null)"), std::string::npos) << json;
  const auto at = json.find(R"("mode":"heat")");
  ASSERT_NE(at, std::string::npos);
  json.replace(at, 13, R"("mode":2)");
  demo::Everything parsed{};
  const auto done = schema.parse_json(json, &parsed);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_TRUE(std::isnan(parsed.f));
  EXPECT_EQ(parsed.mode, demo::Mode::eco);
}

TEST(Schema, ParseJsonNamesTheBrokenFieldAndLeavesDataUnchanged) {
  const Schema& schema = schema_of<demo::Everything>();
  const demo::Everything original = sample_value();
  const std::string good = schema.render_json(&original);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  const std::pair<std::string, std::string> cases[] = {
      {with(R"("i8":-5)", R"("i8":300)"), "i8"},
      {with(R"("samples":[1,-2,3])", R"("samples":[1,2])"), "samples"},
      {with(R"("inner":{"a":7,"flag":true})", R"("inner":{"a":7})"), "inner.flag"},
      {with(R"("mode":"heat")", R"("mode":"cool")"), "mode"},
      {with(R"("room":"living")", R"("room":[1])"), "room"},
      {with(R"("inner":{"a":7,)", R"("inner":{"a":7,"b":1,)"), "unknown field 'inner.b'"},
      {with(R"({)", R"({"celsius":1,)"), "unknown field 'celsius'"},
      {"{not json", "not valid JSON"},
      {"[1,2]", "not a JSON object"},
  };
  for (const auto& [text, names] : cases) {
    demo::Everything data = original;
    const auto done = schema.parse_json(text, &data);
    ASSERT_FALSE(done) << text;
    EXPECT_EQ(done.error().code(), Errc::invalid_argument);
    EXPECT_NE(done.error().message().find(names), std::string::npos) << done.error().message();
    EXPECT_EQ(schema.render_json(&data), good) << text;
  }
}

}  // namespace
}  // namespace statebus

namespace {

TEST(FieldInfo, DeclaredOnceItTravelsInTheSchemaButNotInTheFingerprint) {
  const statebus::Schema& schema = statebus::schema_of<demo::Limited>();
  const statebus::FieldInfo& celsius = schema.fields[0].info;
  EXPECT_EQ(celsius.min, 5.0);
  EXPECT_EQ(celsius.max, 30.0);
  EXPECT_EQ(celsius.step, 0.5);
  EXPECT_EQ(celsius.unit, "°C");
  EXPECT_EQ(celsius.quantity, "temperature");
  EXPECT_EQ(schema.fields[1].info.min, 0.0);
  EXPECT_FALSE(schema.fields[1].info.max);
  EXPECT_TRUE(schema.fields[2].info.counter);
  EXPECT_EQ(schema.fields[3].info.label, "Room");
  EXPECT_TRUE(schema.has_ranges());
  EXPECT_TRUE(statebus::schema_of<demo::Holder>().has_ranges());
  EXPECT_FALSE(statebus::schema_of<demo::Inner>().has_ranges());

  auto back = statebus::Schema::from_json(schema.to_json());  // how tools and other buses get it
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->fields[0].info.max, 30.0);
  EXPECT_EQ(back->fields[0].info.unit, "°C");
  EXPECT_TRUE(back->fields[2].info.counter);
  EXPECT_EQ(back->to_json(), schema.to_json());

  statebus::Schema bare = schema;  // the same layout without the declarations
  for (auto& f : bare.fields) f.info = {};
  EXPECT_EQ(statebus::compute_fingerprint(bare), schema.fingerprint);
}

TEST(FieldInfo, EveryWriterRefusesAValueOutsideTheDeclaredRange) {
  const statebus::Schema& schema = statebus::schema_of<demo::Limited>();
  demo::Limited value;
  auto refused = schema.assign(&value, "celsius", "1e9");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), statebus::Errc::invalid_argument);
  EXPECT_NE(refused.error().message().find("out of range for 'celsius' (declared range 5…30)"), std::string::npos)
      << refused.error().message();
  EXPECT_FALSE(schema.assign(&value, "celsius", "nan"));  // NaN is never in a range
  EXPECT_FALSE(schema.assign(&value, "steps[1]", "-1"));
  EXPECT_TRUE(schema.assign(&value, "celsius", "30"));
  EXPECT_TRUE(schema.assign(&value, "switches", "7"));
  EXPECT_EQ(value.celsius, 30.0);

  EXPECT_FALSE(schema.parse_json(R"({"celsius":4.5,"steps":[0,0],"switches":0,"room":""})", &value));
  EXPECT_FALSE(schema.parse_json(R"({"celsius":null,"steps":[0,0],"switches":0,"room":""})", &value));
  EXPECT_TRUE(schema.parse_json(R"({"celsius":5,"steps":[0,3],"switches":0,"room":"x"})", &value));
  EXPECT_EQ(value.steps[1], 3);

  auto partial = schema.apply_json(R"({"celsius": 31, "switches": 9})", &value);  // all or nothing
  ASSERT_FALSE(partial);
  EXPECT_EQ(value.switches, 0U);
  EXPECT_TRUE(schema.apply_json(R"({"celsius": 21.5, "steps": [1, 2]})", &value));
  EXPECT_EQ(value.celsius, 21.5);
  EXPECT_EQ(value.steps[1], 2);

  demo::Holder holder;
  holder.inner.celsius = 99;
  auto checked = statebus::schema_of<demo::Holder>().check_ranges(&holder);
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message().find("'inner.celsius' is 99, out of range (5…30, as demo/Holder declares)"),
            std::string::npos)
      << checked.error().message();
  holder.inner.celsius = 20;
  EXPECT_TRUE(statebus::schema_of<demo::Holder>().check_ranges(&holder));
}

TEST(FieldInfo, AForeignSchemaWithBadDeclarationsIsRefusedSayingWhere) {
  std::string json = statebus::schema_of<demo::Limited>().to_json();
  auto with = [&](const std::string& from, const std::string& to) {
    std::string changed = json;
    changed.replace(changed.find(from), from.size(), to);
    auto parsed = statebus::Schema::from_json(changed);
    return parsed ? std::string("accepted") : parsed.error().message();
  };
  EXPECT_NE(with("\"max\":30.0", "\"max\":1.0").find("info.min is above info.max"), std::string::npos);
  EXPECT_NE(with("\"counter\":true", "\"counter\":1").find("info.counter"), std::string::npos);
  EXPECT_NE(with("\"label\":\"Room\"", "\"label\":\"Room\",\"min\":1").find("a range, step or counter on a text"),
            std::string::npos);
  EXPECT_NE(with("\"unit\":\"°C\"", "\"unit\":\"°C\",\"colour\":1").find("unknown key info.colour"),
            std::string::npos);
}

}  // namespace
