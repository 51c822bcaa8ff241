// statebus_mcap_sample OUT.mcap: writes a sample MCAP file for readers of
// other origins to check (the mcap.npm_reader test), with what they should find:
//   OUT.mcap                    2 schemas, 3 channels (one without schema), 3000
//                               JSON messages in many chunks, closed properly
//   OUT.mcap.expect.json        its channels, schemas and message counts
//   OUT.mcap.truncated          a copy cut inside its last chunk, as a killed writer leaves it
//   OUT.mcap.truncated.expect.json  the messages of its complete chunks
// Prints nothing on success; on failure prints why and exits 1.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "statebus/recorder/mcap.hpp"

namespace mcap = statebus::mcap;

namespace {

struct Topic {
  std::string name;
  std::string schema;  // empty: no schema
  std::uint16_t id = 0;
};

int die(const std::string& what) {
  std::fprintf(stderr, "statebus_mcap_sample: %s\n", what.c_str());
  return 1;
}

std::string expect_json(bool truncated, const std::vector<Topic>& topics,
                        const std::map<std::uint16_t, std::uint64_t>& counts) {
  std::string out = std::string("{\"truncated\": ") + (truncated ? "true" : "false") + ", \"channels\": {";
  const char* sep = "";
  for (const Topic& t : topics) {
    const auto it = counts.find(t.id);
    out += sep;
    out += "\"" + t.name + "\": {\"messages\": " + std::to_string(it == counts.end() ? 0 : it->second) +
           ", \"schema\": \"" + t.schema + "\", \"encoding\": \"json\"}";
    sep = ", ";
  }
  out += "}, \"schemas\": [\"statebus.Pose\", \"statebus.Imu\"]}\n";
  return out;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 2) return die("usage: statebus_mcap_sample OUT.mcap");
  const std::string path = argv[1];

  mcap::WriterOptions options;
  options.chunk_size = 16 * 1024;
  auto writer = mcap::Writer::create(path, options);
  if (!writer) return die(writer.error().message());
  auto& sut = *writer;

  const auto pose = sut.add_schema(
      "statebus.Pose", "jsonschema",
      R"({"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"},"seq":{"type":"integer"}}})");
  const auto imu = sut.add_schema(
      "statebus.Imu", "jsonschema",
      R"({"type":"object","properties":{"ax":{"type":"number"},"az":{"type":"number"}}})");
  if (!pose || !imu) return die("add_schema failed");
  std::vector<Topic> topics = {{"/robot/pose", "statebus.Pose"}, {"/robot/imu", "statebus.Imu"}, {"/log", ""}};
  const std::uint16_t schema_ids[] = {*pose, *imu, 0};
  for (std::size_t i = 0; i < topics.size(); ++i) {
    auto id = sut.add_channel(schema_ids[i], topics[i].name, "json", {{"origin", "statebus_mcap_sample"}});
    if (!id) return die(id.error().message());
    topics[i].id = *id;
  }

  std::map<std::uint16_t, std::uint64_t> counts;
  std::uint32_t sequence[3] = {};
  auto write_one = [&](int n) -> bool {
    const std::size_t which = static_cast<std::size_t>(n % 7 == 0 ? 2 : n % 2);
    std::string json;
    if (which == 0) {
      json =
          "{\"x\":" + std::to_string(n * 0.5) + ",\"y\":" + std::to_string(-n) + ",\"seq\":" + std::to_string(n) + "}";
    } else if (which == 1) {
      json = "{\"ax\":" + std::to_string(n % 13) + ".25,\"az\":9.81}";
    } else {
      json = "{\"text\":\"sample message " + std::to_string(n) + "\"}";
    }
    const std::uint64_t t = 1'700'000'000'000'000'000ULL + static_cast<std::uint64_t>(n) * 1'000'000;
    if (!sut.write(topics[which].id, sequence[which]++, t, t, json.data(), json.size())) return false;
    ++counts[topics[which].id];
    return true;
  };

  constexpr int kMessages = 3000;
  constexpr int kLastChunk = 60;  // about 4 KiB: one chunk, smaller than chunk_size
  int n = 0;
  for (; n < kMessages - kLastChunk; ++n) {
    if (!write_one(n)) return die("write failed");
  }
  if (auto flushed = sut.flush(); !flushed) return die(flushed.error().message());
  const auto counts_before_last_chunk = counts;
  const std::uint64_t last_chunk_start = sut.bytes_written();
  for (; n < kMessages; ++n) {
    if (!write_one(n)) return die("write failed");
  }
  if (auto flushed = sut.flush(); !flushed) return die(flushed.error().message());
  const std::uint64_t last_chunk_end = sut.bytes_written();
  if (auto closed = sut.close(); !closed) return die(closed.error().message());
  if (sut.statistics().chunk_count < 5) return die("expected several chunks");

  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto cut = static_cast<std::size_t>(last_chunk_start + (last_chunk_end - last_chunk_start) / 2);
  if (!in.good() && !in.eof()) return die("cannot read back " + path);
  if (bytes.size() <= cut) return die("file shorter than expected");

  if (!write_file(path + ".expect.json", expect_json(false, topics, counts)) ||
      !write_file(path + ".truncated", bytes.substr(0, cut)) ||
      !write_file(path + ".truncated.expect.json", expect_json(true, topics, counts_before_last_chunk))) {
    return die("cannot write the files next to " + path);
  }
  return 0;
} catch (const std::exception& e) {
  return die(e.what());
}
