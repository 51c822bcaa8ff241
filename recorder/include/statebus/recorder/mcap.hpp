#pragma once
/// MCAP files: the recording format of ROS 2 and Foxglove, written and read here.
///
/// Writer records messages into uncompressed, CRC-checked chunks with message
/// indexes, and a summary (schemas, channels, statistics, chunk indexes) when
/// closed, so that other MCAP tools (Foxglove, `mcap` CLI, @mcap/core, ros2 bag)
/// read the files. Reader reads any MCAP file with uncompressed chunks, checks
/// every CRC, and reads files that a killed writer cut short up to the last
/// complete chunk.
///
/// Example:
///
///     auto writer = mcap::Writer::create("run.mcap").value();
///     auto schema = writer.add_schema("Pose", "jsonschema", R"({"type":"object"})").value();
///     auto channel = writer.add_channel(schema, "/pose", "json").value();
///     std::string json = R"({"x":1})";
///     writer.write(channel, 0, now, now, json.data(), json.size()).value();
///     writer.close().value();
///
///     auto reader = mcap::Reader::open("run.mcap").value();
///     reader.for_each_message([&](const mcap::Message& m) {
///       std::cout << reader.channels().at(m.channel_id).topic << ' ' << m.data << '\n';
///       return true;
///     });
///
/// Format: https://mcap.dev/spec (major version 0, the current one).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "statebus/base/error.hpp"

namespace statebus::mcap {

/// A Schema record: how the messages of the channels that use it are encoded.
struct SchemaInfo {
  /// 1 or more; 0 means "no schema" in a channel and never names a schema.
  std::uint16_t id = 0;
  /// The type's name, e.g. "geometry_msgs/msg/Pose".
  std::string name;
  /// The schema's format, e.g. "jsonschema", "ros2msg", "protobuf".
  std::string encoding;
  /// The schema itself, in `encoding`.
  std::string data;

  /// Field-wise equality (two records of one id must be equal).
  friend bool operator==(const SchemaInfo& a, const SchemaInfo& b) {
    return a.id == b.id && a.name == b.name && a.encoding == b.encoding && a.data == b.data;
  }
};

/// A Channel record: a topic, its message encoding and its schema.
struct ChannelInfo {
  /// The channel's id within the file.
  std::uint16_t id = 0;
  /// The schema of its messages; 0 for a channel without schema.
  std::uint16_t schema_id = 0;
  /// The topic, e.g. "/pose".
  std::string topic;
  /// How its messages are encoded, e.g. "json", "cdr", "protobuf".
  std::string message_encoding;
  /// Free key/value pairs stored with the channel.
  std::map<std::string, std::string> metadata;

  /// Field-wise equality (two records of one id must be equal).
  friend bool operator==(const ChannelInfo& a, const ChannelInfo& b) {
    return a.id == b.id && a.schema_id == b.schema_id && a.topic == b.topic &&
           a.message_encoding == b.message_encoding && a.metadata == b.metadata;
  }
};

/// One message as Reader::for_each_message hands it over.
struct Message {
  /// The channel it was recorded on (a key of Reader::channels()).
  std::uint16_t channel_id = 0;
  /// The publisher's sequence number.
  std::uint32_t sequence = 0;
  /// When it was recorded, in nanoseconds since the writer's epoch.
  std::uint64_t log_time = 0;
  /// When it was published, in nanoseconds since the writer's epoch.
  std::uint64_t publish_time = 0;
  /// The payload; points into the reader's copy of the file, valid during the callback only.
  std::string_view data;
};

/// Counts and time range of a recording.
struct Statistics {
  /// Messages in the file.
  std::uint64_t message_count = 0;
  /// Schemas in the file (id 0 not counted).
  std::uint16_t schema_count = 0;
  /// Channels in the file.
  std::uint32_t channel_count = 0;
  /// Chunks in the file (Writer: chunks already written to the file).
  std::uint32_t chunk_count = 0;
  /// Earliest message log_time; 0 when there are no messages.
  std::uint64_t message_start_time = 0;
  /// Latest message log_time; 0 when there are no messages.
  std::uint64_t message_end_time = 0;
  /// Messages per channel id, for the channels that have messages.
  std::map<std::uint16_t, std::uint64_t> channel_message_counts;
};

/// How a Writer lays out its file.
struct WriterOptions {
  /// The Header's profile, e.g. "ros2"; empty for none.
  std::string profile;
  /// The Header's library field: who wrote the file.
  std::string library = "statebus";
  /// A chunk is written to the file once its records reach this many bytes.
  /// Smaller chunks lose less on a crash and cost a little more space.
  std::size_t chunk_size = std::size_t{1} << 20;
};

/// Writes an MCAP file: messages in uncompressed chunks, then an indexed summary.
///
/// Layout: magic, Header, then in the data section each Schema and Channel
/// record as it is added (outside chunks, so every message's channel and
/// schema precede it), Chunk records each followed by its MessageIndex
/// records; close() adds DataEnd (with the data section's CRC), the summary
/// (Schema, Channel, Statistics and ChunkIndex records), SummaryOffset records,
/// Footer (with the summary's CRC) and the closing magic.
///
/// Crash behaviour: every chunk reaches the file in one write(2) at once; a
/// process killed at any point leaves a file that Reader (and other MCAP
/// readers that stream) reads up to the last complete chunk. Messages of the
/// open chunk are lost; call flush() to bound that.
///
/// Thread safety: one thread at a time (no internal locking). Move-only.
/// Errors: after a write to the file failed, every later call returns that error.
class Writer {
 public:
  /// Creates (or truncates) `path` and writes the magic and the Header.
  /// Blocks on file I/O; allocates. Fails with system_error (not_permitted for
  /// EACCES/EPERM) naming the path and the errno text.
  static Result<Writer> create(const std::string& path, WriterOptions options = {});

  /// Takes over the file; `other` is left empty (its calls fail with invalid_argument).
  Writer(Writer&& other) noexcept;
  /// Closes this Writer's file (ignoring errors), then takes over `other`'s.
  Writer& operator=(Writer&& other) noexcept;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  /// Closes the file (see close()), ignoring errors.
  ~Writer();

  /// Adds a schema and writes its Schema record to the file; returns its id (1, 2, ...).
  /// Fails with invalid_argument for a field longer than 4 GiB or after close(),
  /// out_of_resources after 65535 schemas, system_error when the write fails.
  Result<std::uint16_t> add_schema(std::string_view name, std::string_view encoding,
                                   std::string_view data);

  /// Adds a channel and writes its Channel record to the file; returns its id (1, 2, ...).
  /// `schema_id` 0 makes a channel without schema. Fails with invalid_argument
  /// for an unknown schema id, a field longer than 4 GiB or after close(),
  /// out_of_resources after 65535 channels, system_error when the write fails.
  Result<std::uint16_t> add_channel(std::uint16_t schema_id, std::string_view topic,
                                    std::string_view message_encoding,
                                    const std::map<std::string, std::string>& metadata = {});

  /// Appends a message to the open chunk; writes the chunk when it reaches
  /// WriterOptions::chunk_size. Copies `data`. Log times need not be ordered.
  /// Fails with invalid_argument for an unknown channel id, a null `data` with
  /// a nonzero size or after close(); system_error when writing the chunk fails.
  Result<void> write(std::uint16_t channel_id, std::uint32_t sequence, std::uint64_t log_time,
                     std::uint64_t publish_time, const void* data, std::size_t size);

  /// Ends the open chunk, if any: writes the Chunk record (with the CRC of its
  /// records) and its MessageIndex records in one write(2). Nothing written so
  /// far stays buffered in this process after it returns (no fsync: the kernel
  /// has the bytes). Fails with system_error naming the path and errno text.
  Result<void> flush();

  /// Flushes, then writes DataEnd, the summary, SummaryOffset records, the
  /// Footer and the closing magic, and closes the file. Idempotent: a second
  /// call returns the first one's result. The Writer accepts nothing afterwards.
  Result<void> close();

  /// Counts so far; chunk_count counts the chunks already in the file.
  [[nodiscard]] const Statistics& statistics() const noexcept;

  /// Bytes written to the file so far (its size, unless the write failed).
  [[nodiscard]] std::uint64_t bytes_written() const noexcept;

 private:
  struct Impl;
  explicit Writer(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

/// Reads a whole MCAP file and checks it: framing, every CRC, references.
///
/// open() maps the file and reads it once from the start (not through the
/// index), so files without summary and files cut short are read the same
/// way. It reads only uncompressed chunks. Records of unknown opcodes are
/// skipped, as the specification asks.
///
/// Cut short: a file that ends before its Footer and closing magic (the
/// writer was killed) is not an error. open() succeeds, truncated() is true,
/// truncation() says where the file ends, and for_each_message() yields the
/// messages of the complete chunks before that point.
///
/// Any other damage fails with invalid_argument and a message that says what
/// is wrong and at which byte offset. Reading never crashes, hangs or reads
/// out of bounds, whatever the bytes; the file must not be truncated by
/// someone else while a Reader maps it (that raises SIGBUS).
///
/// Thread safety: after open(), all methods are const and may be called from
/// several threads at once. Move-only.
class Reader {
 public:
  /// Maps `path` and reads it through once. Fails with system_error (errno
  /// text) when the file cannot be opened, invalid_argument when it is empty,
  /// not MCAP, of another major version or damaged (see the class comment).
  static Result<Reader> open(const std::string& path);

  /// Reads an MCAP file held in memory, as open() does; `name` stands for the
  /// file in messages. Useful for tests and fuzzing.
  static Result<Reader> from_bytes(std::string bytes, std::string name = "<memory>");

  /// Takes over the mapping; `other` is left empty (no schemas, channels or messages).
  Reader(Reader&& other) noexcept;
  /// Releases this Reader's mapping, then takes over `other`'s.
  Reader& operator=(Reader&& other) noexcept;
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  /// Unmaps the file.
  ~Reader();

  /// Schemas by id, from wherever in the file they appear.
  [[nodiscard]] const std::map<std::uint16_t, SchemaInfo>& schemas() const noexcept;
  /// Channels by id, from wherever in the file they appear.
  [[nodiscard]] const std::map<std::uint16_t, ChannelInfo>& channels() const noexcept;

  /// Calls `f` for every message in file order until `f` returns false. Stops
  /// before the incomplete chunk of a cut-short file. Checks every chunk's CRC
  /// and the data section's CRC (when DataEnd has one) again; fails with
  /// invalid_argument as open() does. Does not allocate per message.
  Result<void> for_each_message(const std::function<bool(const Message&)>& f) const;

  /// True when the file ends before its Footer and closing magic.
  [[nodiscard]] bool truncated() const noexcept;
  /// Where and how a cut-short file ends, e.g. "file ends at byte 5000 inside a
  /// Chunk record that starts at byte 4100; read 3 complete chunks"; empty otherwise.
  [[nodiscard]] const std::string& truncation() const noexcept;

  /// The Header's profile.
  [[nodiscard]] const std::string& profile() const noexcept;
  /// The Header's library: who wrote the file.
  [[nodiscard]] const std::string& library() const noexcept;

  /// Counts computed while reading (the file's own Statistics record is not
  /// trusted); chunk_count counts complete chunks.
  [[nodiscard]] Statistics statistics() const;

  /// True when the file was closed properly: it has a Footer and closing
  /// magic after its summary (whose CRC, when stored, was checked).
  [[nodiscard]] bool has_summary() const noexcept;

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace statebus::mcap
