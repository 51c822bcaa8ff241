#include "statebus/recorder/mcap.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace statebus::mcap {
namespace {

// ---- helpers ---------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "mcap_test_XXXXXX";
    path_ = ::mkdtemp(pattern.data());
    EXPECT_FALSE(path_.empty()) << pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct Seen {
  std::uint16_t channel_id;
  std::uint32_t sequence;
  std::uint64_t log_time;
  std::uint64_t publish_time;
  std::string data;
  bool operator==(const Seen& o) const {
    return channel_id == o.channel_id && sequence == o.sequence && log_time == o.log_time &&
           publish_time == o.publish_time && data == o.data;
  }
};

std::vector<Seen> all_messages(const Reader& reader) {
  std::vector<Seen> seen;
  auto result = reader.for_each_message([&](const Message& m) {
    seen.push_back({m.channel_id, m.sequence, m.log_time, m.publish_time, std::string(m.data)});
    return true;
  });
  EXPECT_TRUE(result) << result.error().message();
  return seen;
}

std::string payload(int n) {
  std::string p(64, '\0');
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>('a' + (n + static_cast<int>(i)) % 26);
  return p;
}

// Hand-made records, for files our writer does not produce.
std::string le(std::uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  return out;
}
std::string str(const std::string& s) { return le(s.size(), 4) + s; }
std::string record(std::uint8_t opcode, const std::string& content) {
  return std::string(1, static_cast<char>(opcode)) + le(content.size(), 8) + content;
}
const std::string kMagic("\x89MCAP0\r\n", 8);
std::string header_record() { return record(0x01, str("") + str("hand")); }
std::string channel_record(std::uint16_t id, const std::string& topic) {
  return record(0x04, le(id, 2) + le(0, 2) + str(topic) + str("json") + le(0, 4));
}
std::string message_record(std::uint16_t channel, std::uint64_t t, const std::string& data) {
  return record(0x05, le(channel, 2) + le(7, 4) + le(t, 8) + le(t, 8) + data);
}
std::string chunk_record(const std::string& records, const std::string& compression) {
  return record(0x06, le(0, 8) + le(0, 8) + le(records.size(), 8) + le(0, 4) + str(compression) +
                          le(records.size(), 8) + records);
}

std::uint32_t crc32_of(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? (0xEDB88320u ^ (crc >> 1)) : (crc >> 1);
  }
  return crc ^ 0xFFFFFFFFu;
}

// A closed file: 2 schemas, 3 channels, 40 messages in 8 chunks flushed by
// hand; chunk_ends[i] is the file size after chunk i.
struct SampleFile {
  std::string path;
  std::vector<Seen> messages;
  std::vector<std::uint64_t> chunk_ends;
  std::vector<std::size_t> messages_before;  // messages in chunks 0..i-1
  std::uint64_t first_chunk_start = 0;
};

SampleFile write_sample(const TempDir& dir, const std::string& name = "sample.mcap") {
  SampleFile s;
  s.path = dir.file(name);
  WriterOptions options;
  options.profile = "statebus-test";
  options.chunk_size = std::size_t{1} << 30;  // chunks end at flush() only
  auto sut = Writer::create(s.path, options);
  EXPECT_TRUE(sut) << sut.error().message();
  const auto pose = sut->add_schema("Pose", "jsonschema", R"({"type":"object"})").value();
  const auto imu = sut->add_schema("Imu", "ros2msg", "float64 ax").value();
  const std::uint16_t channels[] = {sut->add_channel(pose, "/pose", "json", {{"rate", "10"}}).value(),
                                    sut->add_channel(imu, "/imu", "cdr").value(),
                                    sut->add_channel(0, "/log", "json").value()};
  s.first_chunk_start = sut->bytes_written();
  s.messages_before.push_back(0);
  for (int chunk = 0; chunk < 8; ++chunk) {
    for (int i = 0; i < 5; ++i) {
      const int n = chunk * 5 + i;
      Seen m{channels[n % 3], static_cast<std::uint32_t>(n), 1000 + static_cast<std::uint64_t>(n) * 10,
             2000 + static_cast<std::uint64_t>(n), payload(n)};
      EXPECT_TRUE(sut->write(m.channel_id, m.sequence, m.log_time, m.publish_time, m.data.data(), m.data.size()));
      s.messages.push_back(m);
    }
    EXPECT_TRUE(sut->flush());
    s.chunk_ends.push_back(sut->bytes_written());
    s.messages_before.push_back(s.messages.size());
  }
  EXPECT_TRUE(sut->close());
  return s;
}

// ---- Writer ----------------------------------------------------------------------------

TEST(McapWriter, CreateFailsForAnUnwritablePathNamingPathAndErrno) {
  const std::string path = "/nonexistent-statebus-dir/x.mcap";

  const auto sut = Writer::create(path);

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::system_error);
  EXPECT_TRUE(contains(sut.error().message(), path)) << sut.error().message();
  EXPECT_TRUE(contains(sut.error().message(), "No such file or directory (errno 2)")) << sut.error().message();
}

TEST(McapWriter, CreateReportsAFailedWriteWithErrnoText) {
  if (::access("/dev/full", W_OK) != 0)
    GTEST_SKIP() << "/dev/full (the device that fails every write with ENOSPC) is not writable here";

  const auto sut = Writer::create("/dev/full");

  ASSERT_FALSE(sut);
  EXPECT_TRUE(contains(sut.error().message(), "/dev/full")) << sut.error().message();
  EXPECT_TRUE(contains(sut.error().message(), "errno 28")) << sut.error().message();
}

TEST(McapWriter, AssignsSchemaAndChannelIdsFromOne) {
  TempDir dir;
  auto sut = Writer::create(dir.file("ids.mcap")).value();

  const auto first_schema = sut.add_schema("A", "jsonschema", "{}");
  const auto second_schema = sut.add_schema("B", "jsonschema", "{}");
  const auto first_channel = sut.add_channel(0, "/a", "json");
  const auto second_channel = sut.add_channel(*second_schema, "/b", "json");

  EXPECT_EQ(*first_schema, 1);
  EXPECT_EQ(*second_schema, 2);
  EXPECT_EQ(*first_channel, 1);
  EXPECT_EQ(*second_channel, 2);
}

TEST(McapWriter, WriteRejectsAnUnknownChannelId) {
  TempDir dir;
  auto sut = Writer::create(dir.file("unknown.mcap")).value();
  const auto channel = sut.add_channel(0, "/a", "json").value();
  const char data[] = "{}";

  const auto result = sut.write(static_cast<std::uint16_t>(channel + 1), 0, 1, 1, data, 2);
  const auto zero = sut.write(0, 0, 1, 1, data, 2);

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(contains(result.error().message(), "unknown channel id 2")) << result.error().message();
  EXPECT_FALSE(zero);
  EXPECT_EQ(sut.statistics().message_count, 0u);
}

TEST(McapWriter, AddChannelRejectsAnUnknownSchemaId) {
  TempDir dir;
  auto sut = Writer::create(dir.file("schema.mcap")).value();
  sut.add_schema("A", "jsonschema", "{}").value();

  const auto result = sut.add_channel(5, "/a", "json");

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(contains(result.error().message(), "unknown schema id 5")) << result.error().message();
}

TEST(McapWriter, ClosedFileStartsAndEndsWithTheMagicAndHasASummary) {
  TempDir dir;
  const auto sample = write_sample(dir);

  const std::string bytes = read_bytes(sample.path);
  const auto sut = Reader::open(sample.path);

  ASSERT_GT(bytes.size(), 16u);
  EXPECT_EQ(bytes.substr(0, 8), kMagic);
  EXPECT_EQ(bytes.substr(bytes.size() - 8), kMagic);
  ASSERT_TRUE(sut) << sut.error().message();
  EXPECT_TRUE(sut->has_summary());
  EXPECT_FALSE(sut->truncated());
  EXPECT_EQ(sut->truncation(), "");
}

TEST(McapWriter, CloseIsIdempotentAndLaterWritesFail) {
  TempDir dir;
  auto sut = Writer::create(dir.file("close.mcap")).value();
  const auto channel = sut.add_channel(0, "/a", "json").value();
  ASSERT_TRUE(sut.write(channel, 0, 1, 1, "x", 1));

  const auto first = sut.close();
  const auto size = read_bytes(dir.file("close.mcap")).size();
  const auto second = sut.close();
  const auto late = sut.write(channel, 1, 2, 2, "y", 1);

  EXPECT_TRUE(first);
  EXPECT_TRUE(second);
  EXPECT_EQ(read_bytes(dir.file("close.mcap")).size(), size);
  ASSERT_FALSE(late);
  EXPECT_TRUE(contains(late.error().message(), "after close()")) << late.error().message();
}

TEST(McapWriter, StatisticsCountMessagesPerChannelChunksAndTimeRange) {
  TempDir dir;
  WriterOptions options;
  options.chunk_size = 1000;
  auto sut = Writer::create(dir.file("stats.mcap"), options).value();
  const auto a = sut.add_channel(0, "/a", "json").value();
  const auto b = sut.add_channel(0, "/b", "json").value();
  const std::string data = payload(1);

  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(sut.write(i % 3 == 0 ? b : a, 0, 500 - static_cast<std::uint64_t>(i), 0, data.data(), data.size()));
  }
  ASSERT_TRUE(sut.close());

  const Statistics& stats = sut.statistics();
  EXPECT_EQ(stats.message_count, 30u);
  EXPECT_EQ(stats.channel_count, 2u);
  EXPECT_EQ(stats.schema_count, 0u);
  EXPECT_EQ(stats.channel_message_counts.at(a), 20u);
  EXPECT_EQ(stats.channel_message_counts.at(b), 10u);
  EXPECT_EQ(stats.message_start_time, 471u);
  EXPECT_EQ(stats.message_end_time, 500u);
  // 95-byte Message records; a chunk closes once it holds 1000 bytes or more: 11 per chunk.
  EXPECT_EQ(stats.chunk_count, 3u);
}

TEST(McapWriter, KeepsMessagesInTheOrderGivenEvenWhenTimesGoBackwards) {
  TempDir dir;
  const std::string path = dir.file("order.mcap");
  auto sut = Writer::create(path).value();
  const auto channel = sut.add_channel(0, "/a", "json").value();
  for (const std::uint64_t t : {50u, 30u, 90u, 10u}) {
    ASSERT_TRUE(sut.write(channel, 0, t, t, "x", 1));
  }
  ASSERT_TRUE(sut.close());

  const auto reader = Reader::open(path).value();
  std::vector<std::uint64_t> times;
  for (const auto& m : all_messages(reader)) times.push_back(m.log_time);

  EXPECT_EQ(times, (std::vector<std::uint64_t>{50, 30, 90, 10}));
  EXPECT_EQ(reader.statistics().message_start_time, 10u);
  EXPECT_EQ(reader.statistics().message_end_time, 90u);
}

TEST(McapWriter, FlushPutsTheOpenChunkInTheFileAtOnce) {
  TempDir dir;
  const std::string path = dir.file("flush.mcap");
  auto sut = Writer::create(path).value();
  const auto channel = sut.add_channel(0, "/a", "json").value();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sut.write(channel, 0, 1, 1, "x", 1));
  const auto before = read_bytes(path).size();

  ASSERT_TRUE(sut.flush());

  const auto after = Reader::open(path);
  EXPECT_EQ(read_bytes(path).size(), sut.bytes_written());
  EXPECT_LT(before, sut.bytes_written());
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_TRUE(after->truncated());
  EXPECT_EQ(all_messages(*after).size(), 3u);
  EXPECT_EQ(after->statistics().chunk_count, 1u);
}

TEST(McapWriter, FileOfAKilledWriterIsReadableUpToItsLastCompleteChunk) {
  TempDir dir;
  const std::string path = dir.file("killed.mcap");

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    WriterOptions options;
    options.chunk_size = 512;
    auto sut = Writer::create(path, options);
    if (!sut) ::_exit(2);
    const auto channel = sut->add_channel(0, "/a", "json");
    const std::string data = payload(3);
    // 95-byte records: a chunk holds 6 (570 >= 512 bytes). 102 messages are 17
    // chunks; 3 more stay in the open chunk.
    for (std::uint32_t i = 0; i < 105; ++i) {
      if (!sut->write(*channel, i, i, i, data.data(), data.size())) ::_exit(3);
    }
    ::raise(SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit status " << WEXITSTATUS(status);

  const auto sut = Reader::open(path);

  ASSERT_TRUE(sut) << sut.error().message();
  EXPECT_TRUE(sut->truncated());
  EXPECT_FALSE(sut->has_summary());
  const auto messages = all_messages(*sut);
  ASSERT_EQ(messages.size(), 102u);
  EXPECT_EQ(messages.back().sequence, 101u);
  EXPECT_EQ(sut->statistics().chunk_count, 17u);
}

// ---- Reader ----------------------------------------------------------------------------

TEST(McapReader, RoundTripsSchemasChannelsMetadataAndMessagesAcrossChunks) {
  TempDir dir;
  const auto sample = write_sample(dir);

  const auto sut = Reader::open(sample.path);

  ASSERT_TRUE(sut) << sut.error().message();
  EXPECT_EQ(sut->profile(), "statebus-test");
  EXPECT_EQ(sut->library(), "statebus");
  ASSERT_EQ(sut->schemas().size(), 2u);
  EXPECT_EQ(sut->schemas().at(1), (SchemaInfo{1, "Pose", "jsonschema", R"({"type":"object"})"}));
  EXPECT_EQ(sut->schemas().at(2), (SchemaInfo{2, "Imu", "ros2msg", "float64 ax"}));
  ASSERT_EQ(sut->channels().size(), 3u);
  EXPECT_EQ(sut->channels().at(1), (ChannelInfo{1, 1, "/pose", "json", {{"rate", "10"}}}));
  EXPECT_EQ(sut->channels().at(2), (ChannelInfo{2, 2, "/imu", "cdr", {}}));
  EXPECT_EQ(sut->channels().at(3), (ChannelInfo{3, 0, "/log", "json", {}}));
  EXPECT_EQ(all_messages(*sut), sample.messages);
}

TEST(McapReader, ComputesStatisticsFromWhatItReads) {
  TempDir dir;
  const auto sample = write_sample(dir);

  const auto sut = Reader::open(sample.path).value().statistics();

  EXPECT_EQ(sut.message_count, 40u);
  EXPECT_EQ(sut.schema_count, 2u);
  EXPECT_EQ(sut.channel_count, 3u);
  EXPECT_EQ(sut.chunk_count, 8u);
  EXPECT_EQ(sut.message_start_time, 1000u);
  EXPECT_EQ(sut.message_end_time, 1390u);
  EXPECT_EQ(sut.channel_message_counts, (std::map<std::uint16_t, std::uint64_t>{{1, 14}, {2, 13}, {3, 13}}));
}

TEST(McapReader, ForEachMessageStopsWhenTheCallbackSaysSo) {
  TempDir dir;
  const auto sample = write_sample(dir);
  const auto sut = Reader::open(sample.path).value();
  int calls = 0;

  const auto result = sut.for_each_message([&](const Message&) { return ++calls < 7; });

  EXPECT_TRUE(result);
  EXPECT_EQ(calls, 7);
}

TEST(McapReader, FileCutAtAnyByteYieldsExactlyTheMessagesOfItsCompleteChunks) {
  TempDir dir;
  const auto sample = write_sample(dir);
  const std::string bytes = read_bytes(sample.path);
  // A chunk is complete once its Chunk record is; its MessageIndex records follow.
  std::vector<std::uint64_t> chunk_record_ends;
  for (std::size_t i = 0; i < sample.chunk_ends.size(); ++i) {
    const std::uint64_t start = i == 0 ? sample.first_chunk_start : sample.chunk_ends[i - 1];
    ASSERT_EQ(bytes[start], '\x06');
    std::uint64_t length = 0;
    std::memcpy(&length, bytes.data() + start + 1, 8);  // little-endian host
    chunk_record_ends.push_back(start + 9 + length);
    ASSERT_LT(chunk_record_ends.back(), sample.chunk_ends[i]);
  }

  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    std::size_t complete = 0;
    while (complete < chunk_record_ends.size() && chunk_record_ends[complete] <= cut) ++complete;

    const auto sut = Reader::from_bytes(bytes.substr(0, cut), "cut");

    ASSERT_TRUE(sut) << "cut at " << cut << ": " << sut.error().message();
    ASSERT_TRUE(sut->truncated()) << "cut at " << cut;
    ASSERT_FALSE(sut->has_summary()) << "cut at " << cut;
    const auto messages = all_messages(*sut);
    const std::vector<Seen> expected(
        sample.messages.begin(),
        sample.messages.begin() + static_cast<std::ptrdiff_t>(sample.messages_before[complete]));
    ASSERT_EQ(messages, expected) << "cut at " << cut;
    ASSERT_EQ(sut->statistics().chunk_count, complete) << "cut at " << cut;
  }
}

TEST(McapReader, TruncationSaysWhereTheFileEndsInsideTheLastChunk) {
  TempDir dir;
  const auto sample = write_sample(dir);
  const std::uint64_t last_start = sample.chunk_ends[6];
  const std::uint64_t cut = last_start + 100;
  const std::string path = dir.file("cut.mcap");
  write_bytes(path, read_bytes(sample.path).substr(0, cut));

  const auto sut = Reader::open(path);

  ASSERT_TRUE(sut) << sut.error().message();
  EXPECT_TRUE(sut->truncated());
  EXPECT_EQ(sut->truncation(), "file ends at byte " + std::to_string(cut) +
                                   " inside a Chunk record that starts at byte " +
                                   std::to_string(last_start) + "; read 7 complete chunks");
  EXPECT_EQ(all_messages(*sut).size(), 35u);
}

TEST(McapReader, FileCutInsideTheHeaderOpensEmptyAndTruncated) {
  TempDir dir;
  const auto sample = write_sample(dir);
  const std::string bytes = read_bytes(sample.path);
  const std::string path = dir.file("header-cut.mcap");

  for (const std::size_t cut : {std::size_t{3}, std::size_t{8}, std::size_t{12}, std::size_t{20}}) {
    write_bytes(path, bytes.substr(0, cut));

    const auto sut = Reader::open(path);

    ASSERT_TRUE(sut) << cut << ": " << sut.error().message();
    EXPECT_TRUE(sut->truncated());
    EXPECT_TRUE(contains(sut->truncation(), "read 0 complete chunks")) << sut->truncation();
    EXPECT_TRUE(all_messages(*sut).empty());
    EXPECT_TRUE(sut->channels().empty());
  }
}

TEST(McapReader, FlippedByteInAChunkIsACrcErrorNamingTheChunkOffset) {
  TempDir dir;
  const auto sample = write_sample(dir);
  std::string bytes = read_bytes(sample.path);
  const std::uint64_t third_chunk = sample.chunk_ends[1];
  bytes[third_chunk + 200] = static_cast<char>(bytes[third_chunk + 200] ^ 0x01);  // a payload byte
  const std::string path = dir.file("flipped.mcap");
  write_bytes(path, bytes);

  const auto sut = Reader::open(path);

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(
      contains(sut.error().message(), "chunk at byte " + std::to_string(third_chunk) + ": CRC mismatch (stored 0x"))
      << sut.error().message();
  EXPECT_TRUE(contains(sut.error().message(), path)) << sut.error().message();
}

TEST(McapReader, FlippedByteOutsideChunksIsADataSectionCrcError) {
  TempDir dir;
  const auto sample = write_sample(dir);
  std::string bytes = read_bytes(sample.path);
  const auto at = bytes.find("float64 ax");  // the Imu schema's data, in the data section
  ASSERT_LT(at, sample.first_chunk_start);
  bytes[at] = 'F';

  const auto sut = Reader::from_bytes(bytes, "f.mcap");

  ASSERT_FALSE(sut);
  EXPECT_TRUE(contains(sut.error().message(), "data section")) << sut.error().message();
  EXPECT_TRUE(contains(sut.error().message(), "CRC mismatch")) << sut.error().message();
}

TEST(McapReader, DataSectionCrcCoversChunksThatCarryNoCrcOfTheirOwn) {
  const std::string head = kMagic + header_record() + channel_record(1, "/a");
  const std::string data = head + chunk_record(message_record(1, 5, "payload"), "");
  const std::string good = data + record(0x0F, le(crc32_of(data), 4));
  std::string bad = good;
  bad[good.find("payload")] = 'P';

  const auto sut_good = Reader::from_bytes(good, "good.mcap");
  const auto sut_bad = Reader::from_bytes(bad, "bad.mcap");

  ASSERT_TRUE(sut_good) << sut_good.error().message();
  EXPECT_EQ(all_messages(*sut_good).size(), 1u);
  ASSERT_FALSE(sut_bad);
  EXPECT_TRUE(contains(sut_bad.error().message(), "data section (bytes 0.." + std::to_string(data.size()) +
                                                      "): CRC mismatch"))
      << sut_bad.error().message();
}

TEST(McapReader, FlippedByteInTheSummaryIsASummaryCrcError) {
  TempDir dir;
  const auto sample = write_sample(dir);
  std::string bytes = read_bytes(sample.path);
  const auto at = bytes.rfind("float64 ax");  // the Imu schema's copy in the summary
  ASSERT_GT(at, sample.chunk_ends.back());
  bytes[at] = 'F';

  const auto sut = Reader::from_bytes(bytes, "s.mcap");

  ASSERT_FALSE(sut);
  EXPECT_TRUE(contains(sut.error().message(), "summary")) << sut.error().message();
  EXPECT_TRUE(contains(sut.error().message(), "CRC mismatch")) << sut.error().message();
}

TEST(McapReader, ForeignFilesAreNotMcapFilesAndTheirFirstBytesAreShown) {
  TempDir dir;
  const std::string png = dir.file("image.png");
  write_bytes(png, std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  const std::string text = dir.file("notes.txt");
  write_bytes(text, "hello world, this is text\n");

  const auto png_result = Reader::open(png);
  const auto text_result = Reader::open(text);

  ASSERT_FALSE(png_result);
  EXPECT_EQ(png_result.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(contains(png_result.error().message(), "is not an MCAP file")) << png_result.error().message();
  EXPECT_TRUE(contains(png_result.error().message(), "89 50 4E 47 0D 0A 1A 0A")) << png_result.error().message();
  ASSERT_FALSE(text_result);
  EXPECT_TRUE(contains(text_result.error().message(), "is not an MCAP file")) << text_result.error().message();
  EXPECT_TRUE(contains(text_result.error().message(), "\"hello wo\"")) << text_result.error().message();
}

TEST(McapReader, EmptyFileIsAClearError) {
  TempDir dir;
  const std::string path = dir.file("empty.mcap");
  write_bytes(path, "");

  const auto sut = Reader::open(path);

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(contains(sut.error().message(), path + " is empty")) << sut.error().message();
}

TEST(McapReader, MissingFileNamesPathAndErrno) {
  TempDir dir;
  const std::string path = dir.file("missing.mcap");

  const auto sut = Reader::open(path);

  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().code(), Errc::system_error);
  EXPECT_TRUE(contains(sut.error().message(), path)) << sut.error().message();
  EXPECT_TRUE(contains(sut.error().message(), "No such file or directory (errno 2)")) << sut.error().message();
}

TEST(McapReader, OtherMajorVersionIsReportedAsUnsupported) {
  TempDir dir;
  const auto sample = write_sample(dir);
  std::string bytes = read_bytes(sample.path);
  bytes[5] = '1';

  const auto sut = Reader::from_bytes(bytes, "v1.mcap");

  ASSERT_FALSE(sut);
  EXPECT_TRUE(contains(sut.error().message(), "unsupported MCAP major version \"1\" (byte 5 is 0x31)"))
      << sut.error().message();
}

TEST(McapReader, RecordLengthPastTheEndIsAnErrorNamingTheRecordOffset) {
  TempDir dir;
  const auto sample = write_sample(dir);
  std::string bytes = read_bytes(sample.path);
  // Header: 8 bytes magic + 9 + profile "statebus-test" (4+13) + library "statebus" (4+8).
  const std::size_t first_schema = 8 + 9 + 17 + 12;
  ASSERT_EQ(bytes[first_schema], '\x03');
  bytes.replace(first_schema + 1, 8, le(0x7FFF'FFFF'FFFF'FFFFull, 8));

  const auto sut = Reader::from_bytes(bytes, "long.mcap");

  ASSERT_FALSE(sut);
  EXPECT_TRUE(contains(sut.error().message(), "record at byte " + std::to_string(first_schema) + " (Schema"))
      << sut.error().message();
  EXPECT_TRUE(contains(sut.error().message(), "beyond the end of the file")) << sut.error().message();
}

TEST(McapReader, CompressedChunkIsReportedAsUnsupported) {
  const std::string records = channel_record(1, "/a") + message_record(1, 5, "{}");
  const std::string head = kMagic + header_record();
  const std::string bytes = head + chunk_record(records, "zstd") + record(0x0F, le(0, 4));

  const auto sut = Reader::from_bytes(bytes, "z.mcap");

  ASSERT_FALSE(sut);
  EXPECT_TRUE(
      contains(sut.error().message(), "chunk at byte " + std::to_string(head.size()) +
                                          " is compressed with \"zstd\"; this reader reads only uncompressed chunks"))
      << sut.error().message();
}

TEST(McapReader, SkipsRecordsOfUnknownOpcodesAndReadsMessagesOutsideChunks) {
  const std::string records = channel_record(2, "/b") + record(0x99, "opaque") + message_record(2, 8, "in");
  const std::string bytes = kMagic + header_record() + channel_record(1, "/a") + record(0x80, "ext") +
                            message_record(1, 5, "out") + chunk_record(records, "");

  const auto sut = Reader::from_bytes(bytes, "hand.mcap");

  ASSERT_TRUE(sut) << sut.error().message();
  EXPECT_EQ(sut->library(), "hand");
  EXPECT_TRUE(sut->truncated());  // no DataEnd, summary or Footer
  const auto messages = all_messages(*sut);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].data, "out");
  EXPECT_EQ(messages[1].data, "in");
  EXPECT_EQ(messages[1].channel_id, 2);
}

TEST(McapReader, MessageOnAnUndefinedChannelIsAnError) {
  const std::string head = kMagic + header_record() + channel_record(1, "/a");
  const std::string bytes = head + message_record(9, 5, "x");

  const auto sut = Reader::from_bytes(bytes, "undefined.mcap");

  ASSERT_FALSE(sut);
  EXPECT_TRUE(contains(sut.error().message(), "Message record at byte " + std::to_string(head.size()) +
                                                  " is on channel 9, which no Channel record before it defines"))
      << sut.error().message();
}

TEST(McapReader, MalformedFieldsNameTheRecordAndTheField) {
  const std::string head = kMagic + header_record();
  // A Channel whose topic length runs past the record.
  const std::string bytes = head + record(0x04, le(1, 2) + le(0, 2) + le(1000, 4) + "/a");

  const auto sut = Reader::from_bytes(bytes, "bad.mcap");

  ASSERT_FALSE(sut);
  EXPECT_TRUE(contains(sut.error().message(), "Channel record at byte " + std::to_string(head.size()) +
                                                  " is malformed: its 10 bytes end inside the field 'topic'"))
      << sut.error().message();
}

TEST(McapReader, DamagedFilesFailCleanlyOrReadNeverOutOfBounds) {
  TempDir dir;
  const auto sample = write_sample(dir);
  const std::string original = read_bytes(sample.path);
  std::mt19937 random(12345);
  int opened = 0;

  for (int round = 0; round < 3000; ++round) {
    std::string bytes = original;
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < flips; ++i) {
      bytes[random() % bytes.size()] = static_cast<char>(random());
    }
    if (round % 3 == 0) bytes.resize(1 + random() % bytes.size());

    const auto sut = Reader::from_bytes(bytes, "fuzz");

    if (!sut) {
      ASSERT_EQ(sut.error().code(), Errc::invalid_argument) << sut.error().message();
      continue;
    }
    ++opened;
    std::size_t count = 0;
    const auto result = sut->for_each_message([&](const Message& m) {
      count += m.data.empty() ? 0u : 1u;
      return true;
    });
    ASSERT_TRUE(result) << "open() accepted what for_each_message() rejects: " << result.error().message();
    ASSERT_LE(count, sample.messages.size());
  }
  EXPECT_GT(opened, 0);  // truncations and flips in unchecked fields still open
}

}  // namespace
}  // namespace statebus::mcap
