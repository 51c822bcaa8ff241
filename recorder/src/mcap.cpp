#include "statebus/recorder/mcap.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bitset>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace statebus::mcap {
namespace {

using Byte = unsigned char;

constexpr Byte kMagic[8] = {0x89, 'M', 'C', 'A', 'P', '0', '\r', '\n'};
constexpr std::size_t kMagicSize = sizeof kMagic;
constexpr std::size_t kRecordPrefix = 9;  // opcode + uint64 content length

namespace op {
constexpr Byte header = 0x01;
constexpr Byte footer = 0x02;
constexpr Byte schema = 0x03;
constexpr Byte channel = 0x04;
constexpr Byte message = 0x05;
constexpr Byte chunk = 0x06;
constexpr Byte message_index = 0x07;
constexpr Byte chunk_index = 0x08;
[[maybe_unused]] constexpr Byte attachment = 0x09;  // not written: the spec's opcodes, for the reader
constexpr Byte statistics = 0x0B;
[[maybe_unused]] constexpr Byte metadata = 0x0C;
constexpr Byte summary_offset = 0x0E;
constexpr Byte data_end = 0x0F;
}  // namespace op

constexpr std::uint64_t kFooterContent = 8 + 8 + 4;
constexpr std::uint64_t kFooterRecord = kRecordPrefix + kFooterContent;
// Message: channel_id, sequence, log_time, publish_time.
constexpr std::uint64_t kMessageFixed = 2 + 4 + 8 + 8;
// An uncompressed Chunk up to its records: prefix, start, end, uncompressed
// size, crc, empty compression string, records length.
constexpr std::size_t kChunkHeader = kRecordPrefix + 8 + 8 + 8 + 4 + 4 + 8;

std::string_view opcode_name(Byte opcode) {
  static constexpr std::string_view kNames[] = {
      "invalid",         "Header",     "Footer",      "Schema",         "Channel",
      "Message",         "Chunk",      "MessageIndex", "ChunkIndex",    "Attachment",
      "AttachmentIndex", "Statistics", "Metadata",    "MetadataIndex",  "SummaryOffset",
      "DataEnd"};
  if (opcode < std::size(kNames)) return kNames[opcode];
  return "unknown";
}

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08" PRIx32, value);
  return text;
}

std::string hex8(Byte value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", static_cast<unsigned>(value));
  return text;
}

// Bytes as a C string literal, shortened: for showing untrusted text in messages.
std::string quoted(const Byte* p, std::size_t n, std::size_t max = 32) {
  std::string out = "\"";
  for (std::size_t i = 0; i < n && i < max; ++i) {
    const Byte c = p[i];
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned>(c));
      out += esc;
    }
  }
  out += n > max ? "\"..." : "\"";
  return out;
}

std::string quoted(std::string_view s) {
  return quoted(reinterpret_cast<const Byte*>(s.data()), s.size());
}

std::string hex_bytes(const Byte* p, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    char text[4];
    std::snprintf(text, sizeof text, "%02X", static_cast<unsigned>(p[i]));
    if (i) out += ' ';
    out += text;
  }
  return out;
}

// zlib's crc32 takes a 32-bit length: feed larger ranges in pieces.
std::uint32_t crc_update(std::uint32_t crc, const void* data, std::size_t size) {
  auto* p = static_cast<const Bytef*>(data);
  uLong value = crc;
  while (size > 0) {
    const uInt step = static_cast<uInt>(std::min<std::size_t>(size, std::size_t{1} << 30));
    value = ::crc32(value, p, step);
    p += step;
    size -= step;
  }
  return static_cast<std::uint32_t>(value);
}

// The CRC of A followed by B from the CRCs of both: no second pass over B.
std::uint32_t crc_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t size_b) {
  return static_cast<std::uint32_t>(::crc32_combine(crc_a, crc_b, static_cast<z_off_t>(size_b)));
}

// ---- little-endian encoding ---------------------------------------------------------

void store16(Byte* p, std::uint16_t v) {
  p[0] = static_cast<Byte>(v);
  p[1] = static_cast<Byte>(v >> 8);
}
void store32(Byte* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<Byte>(v >> (8 * i));
}
void store64(Byte* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<Byte>(v >> (8 * i));
}
std::uint16_t load16(const Byte* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t load32(const Byte* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t load64(const Byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Appends records to a byte string.
class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}

  void u8(Byte v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { put<2>(v); }
  void u32(std::uint32_t v) { put<4>(v); }
  void u64(std::uint64_t v) { put<8>(v); }
  void bytes(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  // Starts a record; returns the position of its length, for end_record().
  std::size_t begin_record(Byte opcode) {
    u8(opcode);
    const std::size_t at = out_.size();
    u64(0);
    return at;
  }
  void end_record(std::size_t length_at) {
    const std::uint64_t length = out_.size() - length_at - 8;
    store64(reinterpret_cast<Byte*>(&out_[length_at]), length);
  }

 private:
  template <std::size_t N>
  void put(std::uint64_t v) {
    Byte b[N];
    for (std::size_t i = 0; i < N; ++i) b[i] = static_cast<Byte>(v >> (8 * i));
    out_.append(reinterpret_cast<const char*>(b), N);
  }
  std::string& out_;
};

constexpr std::uint64_t kMaxString = std::numeric_limits<std::uint32_t>::max();

std::string metadata_too_long(const std::map<std::string, std::string>& metadata) {
  std::uint64_t total = 0;
  for (const auto& [key, value] : metadata) {
    if (key.size() > kMaxString || value.size() > kMaxString) return "a metadata entry";
    total += 8 + key.size() + value.size();
  }
  return total > kMaxString ? "the metadata" : "";
}

}  // namespace

// ==== Writer ===========================================================================

struct Writer::Impl {
  struct ChannelSlot {
    // (log_time, offset in the chunk's records) of this channel's messages in the open chunk.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> index;
    std::uint64_t* count = nullptr;  // node of stats.channel_message_counts, once it has messages
  };

  std::string path;
  WriterOptions options;
  int fd = -1;
  std::uint64_t offset = 0;    // bytes in the file
  std::uint32_t data_crc = 0;  // CRC of every byte in the file so far (all of it is data section)
  std::optional<Error> error;  // the first failure; the writer is unusable after it
  bool closed = false;

  // The open chunk: kChunkHeader bytes reserved for the Chunk's fields, then its records.
  std::string chunk;
  std::uint64_t chunk_start_time = 0;
  std::uint64_t chunk_end_time = 0;
  bool chunk_has_messages = false;
  std::vector<std::uint16_t> chunk_channels;  // channels with messages in the open chunk

  std::uint16_t schema_count = 0;
  std::vector<ChannelSlot> channels{1};  // indexed by id; id 0 unused
  std::string schema_records;            // the summary's copies, ready to write
  std::string channel_records;
  std::string chunk_index_records;
  Statistics stats;

  Impl(std::string p, WriterOptions o) : path(std::move(p)), options(std::move(o)) {
    // Beyond 8 MiB the buffer grows as messages come instead of up front.
    chunk.reserve(std::min<std::size_t>(options.chunk_size, std::size_t{8} << 20) + 4096);
    chunk.resize(kChunkHeader);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (fd >= 0) ::close(fd);
  }

  Result<void> usable(const char* call) const {
    if (error) return tl::make_unexpected(*error);
    if (closed) {
      return fail(Errc::invalid_argument,
                  std::string("mcap::Writer::") + call + " after close() on " + path);
    }
    return {};
  }

  // Writes all bytes with write(2); they count into the data section's CRC
  // unless `summary` (the bytes after DataEnd).
  Result<void> write_all(const char* p, std::size_t n, bool summary = false) {
    const char* const begin = p;
    const std::size_t total = n;
    while (n > 0) {
      const ssize_t written = ::write(fd, p, n);
      if (written < 0) {
        if (errno == EINTR) continue;
        return broken(errno);
      }
      if (written == 0) return broken(ENOSPC);
      p += written;
      n -= static_cast<std::size_t>(written);
    }
    if (!summary) data_crc = crc_update(data_crc, begin, total);
    offset += total;
    return {};
  }

  tl::unexpected<Error> broken(int errnum) {
    error = Error(Errc::system_error,
                  "cannot write to MCAP file " + path + ": " + errno_text(errnum));
    return tl::make_unexpected(*error);
  }

  Result<void> flush_chunk() {
    if (!chunk_has_messages) return {};
    const std::uint64_t records = chunk.size() - kChunkHeader;
    const auto* records_begin = reinterpret_cast<const Byte*>(chunk.data()) + kChunkHeader;
    const std::uint32_t records_crc = crc_update(0, records_begin, records);

    auto* h = reinterpret_cast<Byte*>(chunk.data());
    h[0] = op::chunk;
    store64(h + 1, kChunkHeader - kRecordPrefix + records);
    store64(h + 9, chunk_start_time);
    store64(h + 17, chunk_end_time);
    store64(h + 25, records);  // uncompressed_size
    store32(h + 33, records_crc);
    store32(h + 37, 0);  // compression ""
    store64(h + 41, records);

    const std::uint64_t chunk_offset = offset;
    const std::uint64_t chunk_length = chunk.size();
    std::vector<std::pair<std::uint16_t, std::uint64_t>> index_offsets;
    index_offsets.reserve(chunk_channels.size());
    Encoder e(chunk);
    for (const std::uint16_t id : chunk_channels) {
      index_offsets.emplace_back(id, chunk_offset + chunk.size());
      const auto& entries = channels[id].index;
      e.u8(op::message_index);
      e.u64(2 + 4 + 16 * entries.size());
      e.u16(id);
      e.u32(static_cast<std::uint32_t>(16 * entries.size()));
      for (const auto& [time, at] : entries) {
        e.u64(time);
        e.u64(at);
      }
    }
    const std::uint64_t index_length = chunk.size() - chunk_length;

    // One write(2) for the chunk and its indexes: a kill leaves all or a prefix.
    const char* p = chunk.data();
    std::size_t n = chunk.size();
    while (n > 0) {
      const ssize_t written = ::write(fd, p, n);
      if (written < 0) {
        if (errno == EINTR) continue;
        return broken(errno);
      }
      if (written == 0) return broken(ENOSPC);
      p += written;
      n -= static_cast<std::size_t>(written);
    }
    // The data CRC without a second pass over the records.
    data_crc = crc_update(data_crc, chunk.data(), kChunkHeader);
    data_crc = crc_combine(data_crc, records_crc, records);
    data_crc = crc_update(data_crc, chunk.data() + chunk_length, index_length);
    offset += chunk.size();

    Encoder ci(chunk_index_records);
    const std::size_t at = ci.begin_record(op::chunk_index);
    ci.u64(chunk_start_time);
    ci.u64(chunk_end_time);
    ci.u64(chunk_offset);
    ci.u64(chunk_length);
    ci.u32(static_cast<std::uint32_t>(10 * index_offsets.size()));
    for (const auto& [id, index_at] : index_offsets) {
      ci.u16(id);
      ci.u64(index_at);
    }
    ci.u64(index_length);
    ci.str("");
    ci.u64(records);  // compressed_size
    ci.u64(records);  // uncompressed_size
    ci.end_record(at);

    for (const std::uint16_t id : chunk_channels) channels[id].index.clear();
    chunk_channels.clear();
    chunk.resize(kChunkHeader);
    chunk_has_messages = false;
    ++stats.chunk_count;
    return {};
  }
};

Writer::Writer(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Writer::Writer(Writer&& other) noexcept = default;
Writer& Writer::operator=(Writer&& other) noexcept {
  if (this != &other) {
    if (impl_) (void)close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Writer::~Writer() {
  if (impl_) (void)close();
}

Result<Writer> Writer::create(const std::string& path, WriterOptions options) {
  if (options.profile.size() > kMaxString || options.library.size() > kMaxString) {
    return fail(Errc::invalid_argument, "MCAP profile or library longer than 4 GiB for " + path);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    const Errc code = (e == EACCES || e == EPERM) ? Errc::not_permitted : Errc::system_error;
    return fail(code, "cannot create MCAP file " + path + ": " + errno_text(e));
  }
  auto impl = std::make_unique<Impl>(path, std::move(options));
  impl->fd = fd;

  std::string start(reinterpret_cast<const char*>(kMagic), kMagicSize);
  Encoder e(start);
  const std::size_t at = e.begin_record(op::header);
  e.str(impl->options.profile);
  e.str(impl->options.library);
  e.end_record(at);
  if (auto written = impl->write_all(start.data(), start.size()); !written) {
    return tl::make_unexpected(written.error());
  }
  return Writer(std::move(impl));
}

Result<std::uint16_t> Writer::add_schema(std::string_view name, std::string_view encoding,
                                         std::string_view data) {
  if (!impl_) return fail(Errc::invalid_argument, "mcap::Writer::add_schema on a moved-from Writer");
  auto& s = *impl_;
  if (auto ok = s.usable("add_schema"); !ok) return tl::make_unexpected(ok.error());
  if (name.size() > kMaxString || encoding.size() > kMaxString || data.size() > kMaxString) {
    return fail(Errc::invalid_argument,
                "schema " + quoted(name) + ": name, encoding and data must each be under 4 GiB");
  }
  if (s.schema_count == std::numeric_limits<std::uint16_t>::max()) {
    return fail(Errc::out_of_resources, "MCAP file " + s.path + " already has 65535 schemas");
  }
  const auto id = static_cast<std::uint16_t>(s.schema_count + 1);
  std::string record;
  Encoder e(record);
  const std::size_t at = e.begin_record(op::schema);
  e.u16(id);
  e.str(name);
  e.str(encoding);
  e.str(data);
  e.end_record(at);
  if (auto written = s.write_all(record.data(), record.size()); !written) {
    return tl::make_unexpected(written.error());
  }
  s.schema_records += record;
  s.schema_count = id;
  s.stats.schema_count = id;
  return id;
}

Result<std::uint16_t> Writer::add_channel(std::uint16_t schema_id, std::string_view topic,
                                          std::string_view message_encoding,
                                          const std::map<std::string, std::string>& metadata) {
  if (!impl_) return fail(Errc::invalid_argument, "mcap::Writer::add_channel on a moved-from Writer");
  auto& s = *impl_;
  if (auto ok = s.usable("add_channel"); !ok) return tl::make_unexpected(ok.error());
  if (schema_id > s.schema_count) {
    return fail(Errc::invalid_argument,
                "channel " + quoted(topic) + ": unknown schema id " + std::to_string(schema_id) +
                    " (add_schema has returned ids 1.." + std::to_string(s.schema_count) +
                    "; use 0 for a channel without schema)");
  }
  if (topic.size() > kMaxString || message_encoding.size() > kMaxString) {
    return fail(Errc::invalid_argument,
                "channel " + quoted(topic) + ": topic and encoding must be under 4 GiB");
  }
  if (const std::string what = metadata_too_long(metadata); !what.empty()) {
    return fail(Errc::invalid_argument,
                "channel " + quoted(topic) + ": " + what + " is 4 GiB or longer");
  }
  if (s.channels.size() > std::numeric_limits<std::uint16_t>::max()) {
    return fail(Errc::out_of_resources, "MCAP file " + s.path + " already has 65535 channels");
  }
  const auto id = static_cast<std::uint16_t>(s.channels.size());
  std::string record;
  Encoder e(record);
  const std::size_t at = e.begin_record(op::channel);
  e.u16(id);
  e.u16(schema_id);
  e.str(topic);
  e.str(message_encoding);
  std::uint64_t map_bytes = 0;
  for (const auto& [key, value] : metadata) map_bytes += 8 + key.size() + value.size();
  e.u32(static_cast<std::uint32_t>(map_bytes));
  for (const auto& [key, value] : metadata) {
    e.str(key);
    e.str(value);
  }
  e.end_record(at);
  if (auto written = s.write_all(record.data(), record.size()); !written) {
    return tl::make_unexpected(written.error());
  }
  s.channel_records += record;
  s.channels.emplace_back();
  s.stats.channel_count = id;
  return id;
}

Result<void> Writer::write(std::uint16_t channel_id, std::uint32_t sequence, std::uint64_t log_time,
                           std::uint64_t publish_time, const void* data, std::size_t size) {
  if (!impl_) return fail(Errc::invalid_argument, "mcap::Writer::write on a moved-from Writer");
  auto& s = *impl_;
  if (s.error || s.closed) return s.usable("write");
  if (channel_id == 0 || channel_id >= s.channels.size()) {
    return fail(Errc::invalid_argument,
                "write: unknown channel id " + std::to_string(channel_id) +
                    " (add_channel has returned ids 1.." + std::to_string(s.channels.size() - 1) +
                    ")");
  }
  if (data == nullptr && size != 0) {
    return fail(Errc::invalid_argument, "write: null data with size " + std::to_string(size));
  }

  const std::size_t at = s.chunk.size();
  s.chunk.resize(at + kRecordPrefix + kMessageFixed + size);
  auto* p = reinterpret_cast<Byte*>(&s.chunk[at]);
  p[0] = op::message;
  store64(p + 1, kMessageFixed + size);
  store16(p + 9, channel_id);
  store32(p + 11, sequence);
  store64(p + 15, log_time);
  store64(p + 23, publish_time);
  if (size != 0) std::memcpy(p + 31, data, size);

  auto& slot = s.channels[channel_id];
  if (slot.index.empty()) s.chunk_channels.push_back(channel_id);
  slot.index.emplace_back(log_time, at - kChunkHeader);
  if (!s.chunk_has_messages) {
    s.chunk_start_time = s.chunk_end_time = log_time;
    s.chunk_has_messages = true;
  } else {
    s.chunk_start_time = std::min(s.chunk_start_time, log_time);
    s.chunk_end_time = std::max(s.chunk_end_time, log_time);
  }

  auto& st = s.stats;
  if (st.message_count == 0) {
    st.message_start_time = st.message_end_time = log_time;
  } else {
    st.message_start_time = std::min(st.message_start_time, log_time);
    st.message_end_time = std::max(st.message_end_time, log_time);
  }
  ++st.message_count;
  // The map node stays put: count it through a pointer instead of a lookup per message.
  if (slot.count == nullptr) slot.count = &st.channel_message_counts[channel_id];
  ++*slot.count;

  if (s.chunk.size() - kChunkHeader >= s.options.chunk_size) return s.flush_chunk();
  return {};
}

Result<void> Writer::flush() {
  if (!impl_) return fail(Errc::invalid_argument, "mcap::Writer::flush on a moved-from Writer");
  if (auto ok = impl_->usable("flush"); !ok) return ok;
  return impl_->flush_chunk();
}

Result<void> Writer::close() {
  if (!impl_) return fail(Errc::invalid_argument, "mcap::Writer::close on a moved-from Writer");
  auto& s = *impl_;
  if (s.closed) {
    if (s.error) return tl::make_unexpected(*s.error);
    return {};
  }
  Result<void> result = s.error ? Result<void>(tl::make_unexpected(*s.error)) : s.flush_chunk();
  if (result) {
    std::string tail;
    Encoder e(tail);
    const std::size_t at = e.begin_record(op::data_end);
    e.u32(s.data_crc);
    e.end_record(at);

    const std::uint64_t summary_start = s.offset + tail.size();
    struct Group {
      Byte opcode;
      std::uint64_t start;
      std::uint64_t length;
    };
    std::vector<Group> groups;
    auto add_group = [&](Byte opcode, const std::string& records) {
      if (records.empty()) return;
      groups.push_back({opcode, s.offset + tail.size(), records.size()});
      tail += records;
    };
    add_group(op::schema, s.schema_records);
    add_group(op::channel, s.channel_records);
    std::string statistics;
    {
      Encoder st(statistics);
      const auto& v = s.stats;
      const std::size_t sat = st.begin_record(op::statistics);
      st.u64(v.message_count);
      st.u16(s.schema_count);
      st.u32(static_cast<std::uint32_t>(s.channels.size() - 1));
      st.u32(0);  // attachments
      st.u32(0);  // metadata
      st.u32(v.chunk_count);
      st.u64(v.message_start_time);
      st.u64(v.message_end_time);
      st.u32(static_cast<std::uint32_t>(10 * v.channel_message_counts.size()));
      for (const auto& [id, count] : v.channel_message_counts) {
        st.u16(id);
        st.u64(count);
      }
      st.end_record(sat);
    }
    add_group(op::statistics, statistics);
    add_group(op::chunk_index, s.chunk_index_records);

    const std::uint64_t summary_offset_start = s.offset + tail.size();
    for (const Group& g : groups) {
      const std::size_t gat = e.begin_record(op::summary_offset);
      e.u8(g.opcode);
      e.u64(g.start);
      e.u64(g.length);
      e.end_record(gat);
    }
    // The footer's length is part of the summary CRC: write it now, not patched later.
    e.u8(op::footer);
    e.u64(kFooterContent);
    e.u64(summary_start);
    e.u64(summary_offset_start);
    // The summary CRC runs from the summary's start through summary_offset_start.
    const std::size_t crc_from = static_cast<std::size_t>(summary_start - s.offset);
    const std::uint32_t summary_crc = crc_update(0, tail.data() + crc_from, tail.size() - crc_from);
    e.u32(summary_crc);
    e.bytes(kMagic, kMagicSize);

    // DataEnd is not part of the data section's CRC, so none of the tail is.
    result = s.write_all(tail.data(), tail.size(), /*summary=*/true);
  }
  s.closed = true;
  if (s.fd >= 0) {
    const int rc = ::close(s.fd);
    s.fd = -1;
    if (rc != 0 && result) result = s.broken(errno);
  }
  if (!result && !s.error) s.error = result.error();
  return result;
}

const Statistics& Writer::statistics() const noexcept {
  static const Statistics kEmpty;
  return impl_ ? impl_->stats : kEmpty;
}

std::uint64_t Writer::bytes_written() const noexcept { return impl_ ? impl_->offset : 0; }

// ==== Reader ===========================================================================

namespace {

// Reads the fields of one record's content, bounds-checked; remembers the
// first field that did not fit for the error message.
class Cursor {
 public:
  Cursor(const Byte* p, std::uint64_t n) : p_(p), end_(p + n) {}

  bool u16(std::uint16_t& v, const char* field) {
    if (!need(2, field)) return false;
    v = load16(p_);
    p_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v, const char* field) {
    if (!need(4, field)) return false;
    v = load32(p_);
    p_ += 4;
    return true;
  }
  bool u64(std::uint64_t& v, const char* field) {
    if (!need(8, field)) return false;
    v = load64(p_);
    p_ += 8;
    return true;
  }
  // uint32 length-prefixed bytes (String, Bytes, Map and Array payloads).
  bool prefixed(std::string_view& v, const char* field) {
    std::uint32_t n = 0;
    if (!u32(n, field) || !need(n, field)) return false;
    v = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool prefixed64(const Byte*& data, std::uint64_t& n, const char* field) {
    if (!u64(n, field) || !need(n, field)) return false;
    data = p_;
    p_ += n;
    return true;
  }
  [[nodiscard]] std::uint64_t remaining() const { return static_cast<std::uint64_t>(end_ - p_); }
  [[nodiscard]] const char* missing() const { return missing_; }

 private:
  bool need(std::uint64_t n, const char* field) {
    if (missing_ != nullptr) return false;
    if (n > remaining()) {
      missing_ = field;
      return false;
    }
    return true;
  }
  const Byte* p_;
  const Byte* end_;
  const char* missing_ = nullptr;
};

bool parse_string_map(std::string_view bytes, std::map<std::string, std::string>& out) {
  Cursor c(reinterpret_cast<const Byte*>(bytes.data()), bytes.size());
  while (c.remaining() > 0) {
    std::string_view key;
    std::string_view value;
    if (!c.prefixed(key, "key") || !c.prefixed(value, "value")) return false;
    out.insert_or_assign(std::string(key), std::string(value));
  }
  return true;
}

struct ScanResult {
  std::map<std::uint16_t, SchemaInfo> schemas;
  std::map<std::uint16_t, ChannelInfo> channels;
  std::string profile;
  std::string library;
  std::uint32_t chunk_count = 0;
  bool truncated = false;
  std::string truncation;
  bool has_summary = false;
};

// One pass over the file from its start. Calls on_message(const Message&) for
// every message in file order (a false return stops the pass successfully).
class Scanner {
 public:
  Scanner(const Byte* data, std::uint64_t size, const std::string& name, ScanResult& out)
      : data_(data), size_(size), name_(name), out_(out) {}

  template <class OnMessage>
  Result<void> run(OnMessage&& on_message) {
    if (size_ == 0) {
      return fail(Errc::invalid_argument, name_ + " is empty (0 bytes): not an MCAP file");
    }
    if (auto ok = check_magic(); !ok || out_.truncated) return ok;

    // A file ends with Footer and magic only if it was closed; otherwise it is
    // cut short and its last record may be incomplete.
    const bool complete = size_ >= kMagicSize + kRecordPrefix + kFooterRecord + kMagicSize &&
                          std::memcmp(data_ + size_ - kMagicSize, kMagic, kMagicSize) == 0 &&
                          data_[size_ - kMagicSize - kFooterRecord] == op::footer &&
                          load64(data_ + size_ - kMagicSize - kFooterRecord + 1) == kFooterContent;
    const std::uint64_t limit = complete ? size_ - kMagicSize - kFooterRecord : size_;
    // The summary's CRC first: a damaged summary is reported as such, not as
    // a record that differs from its copy in the data section.
    if (complete) {
      if (auto ok = footer(limit); !ok) return ok;
    }

    std::uint64_t pos = kMagicSize;
    while (pos < limit) {
      const std::uint64_t start = pos;
      if (limit - pos < kRecordPrefix) {
        if (complete) {
          return error("record at byte " + num(start) + ": only " + num(limit - pos) +
                       " bytes before the Footer at byte " + num(limit) +
                       ", too few for an opcode and a length");
        }
        return cut("inside the opcode and length of a record that starts at byte " + num(start));
      }
      const Byte opcode = data_[pos];
      if (!header_seen_ && opcode != op::header) {
        return error("the first record, at byte " + num(start) + ", is " + record_kind(opcode) +
                     "; an MCAP file starts with a Header record");
      }
      const std::uint64_t length = load64(data_ + pos + 1);
      if (length > limit - pos - kRecordPrefix) {
        if (complete) {
          return error(record_name(start) + " has length " + num(length) + ", beyond " +
                       (length > size_ - pos - kRecordPrefix
                            ? "the end of the file (" + num(size_) + " bytes)"
                            : "the start of the Footer at byte " + num(limit)));
        }
        return cut("inside " + a_record(opcode) + " that starts at byte " + num(start));
      }
      const Byte* content = data_ + pos + kRecordPrefix;
      pos += kRecordPrefix + length;

      switch (opcode) {
        case 0:
          return error("record at byte " + num(start) + " has opcode 0x00, which is not valid");
        case op::header: {
          if (header_seen_) return error("second Header record at byte " + num(start));
          header_seen_ = true;
          Cursor c(content, length);
          std::string_view profile;
          std::string_view library;
          if (!c.prefixed(profile, "profile") || !c.prefixed(library, "library")) {
            return malformed(start, length, c);
          }
          out_.profile = profile;
          out_.library = library;
          break;
        }
        case op::footer:
          return footer_mid_file(start, pos, complete);
        case op::schema:
          if (auto ok = schema(start, content, length); !ok) return ok;
          break;
        case op::channel:
          if (auto ok = channel(start, content, length); !ok) return ok;
          break;
        case op::message: {
          if (data_end_at_) return after_data_end(start, opcode);
          Message m;
          if (auto ok = message(start, content, length, m); !ok) return ok;
          if (!on_message(std::as_const(m))) return {};
          break;
        }
        case op::chunk: {
          if (data_end_at_) return after_data_end(start, opcode);
          bool go_on = true;
          if (auto ok = chunk(start, content, length, on_message, go_on); !ok || !go_on) return ok;
          break;
        }
        case op::data_end: {
          if (data_end_at_) return error("second DataEnd record at byte " + num(start));
          data_end_at_ = start;
          Cursor c(content, length);
          std::uint32_t stored = 0;
          if (!c.u32(stored, "data_section_crc")) return malformed(start, length, c);
          if (stored != 0) {
            data_crc_ = crc_update(data_crc_, data_ + crc_pos_, start - crc_pos_);
            if (data_crc_ != stored) {
              return error("data section (bytes 0.." + num(start) + "): CRC mismatch (stored " +
                           hex32(stored) + ", computed " + hex32(data_crc_) + ")");
            }
          }
          break;
        }
        default:
          break;  // indexes, attachments, metadata, summary records, unknown opcodes
      }
    }

    if (!complete) {
      if (!header_seen_) return cut("after the leading magic, before the Header");
      if (data_end_at_) return cut("inside the summary, before the Footer");
      return cut("after a complete record, before DataEnd, summary and Footer");
    }
    return {};
  }

 private:
  static std::string num(std::uint64_t v) { return std::to_string(v); }

  // "a Chunk record", "an Attachment record", "a record of unknown opcode 0x80".
  static std::string a_record(Byte opcode) {
    const std::string_view kind = opcode_name(opcode);
    if (opcode == 0 || opcode > op::data_end) return "a record of unknown opcode " + hex8(opcode);
    return (kind[0] == 'A' ? "an " : "a ") + std::string(kind) + " record";
  }

  static std::string record_kind(Byte opcode) {
    return std::string(opcode_name(opcode)) + " (opcode " + hex8(opcode) + ")";
  }

  std::string record_name(std::uint64_t start) const {
    return "record at byte " + num(start) + " (" + record_kind(data_[start]) + ")";
  }

  tl::unexpected<Error> error(const std::string& what) const {
    return fail(Errc::invalid_argument, name_ + ": " + what);
  }

  tl::unexpected<Error> malformed(std::uint64_t start, std::uint64_t length, const Cursor& c) const {
    return error(std::string(opcode_name(data_[start])) + " record at byte " + num(start) +
                 " is malformed: its " + num(length) + " bytes end inside the field '" +
                 (c.missing() ? c.missing() : "?") + "'");
  }

  tl::unexpected<Error> after_data_end(std::uint64_t start, Byte opcode) const {
    return error(record_kind(opcode) + " record at byte " + num(start) +
                 " comes after the DataEnd record at byte " + num(data_end_at_) +
                 " (in the summary section)");
  }

  Result<void> cut(const std::string& where) {
    out_.truncated = true;
    out_.truncation = "file ends at byte " + num(size_) + " " + where + "; read " +
                      num(out_.chunk_count) + " complete chunk" +
                      (out_.chunk_count == 1 ? "" : "s");
    return {};
  }

  Result<void> check_magic() {
    const std::uint64_t n = std::min<std::uint64_t>(size_, kMagicSize);
    const bool mcap = std::memcmp(data_, kMagic, std::min<std::uint64_t>(n, 5)) == 0 &&
                      (n < 7 || data_[6] == '\r') && (n < 8 || data_[7] == '\n');
    if (!mcap) {
      return fail(Errc::invalid_argument,
                  name_ + " is not an MCAP file: it starts with " + hex_bytes(data_, n) + " (" +
                      quoted(data_, n) + "); an MCAP file starts with " +
                      hex_bytes(kMagic, kMagicSize) + " (\"\\x89MCAP0\\r\\n\")");
    }
    if (n > 5 && data_[5] != '0') {
      return fail(Errc::invalid_argument,
                  name_ + ": unsupported MCAP major version " + quoted(data_ + 5, 1) +
                      " (byte 5 is " + hex8(data_[5]) +
                      "); this reader reads major version \"0\" (0x30)");
    }
    if (size_ < kMagicSize) return cut("inside the leading magic");
    return {};
  }

  Result<void> schema(std::uint64_t start, const Byte* content, std::uint64_t length) {
    Cursor c(content, length);
    SchemaInfo s;
    std::string_view name;
    std::string_view encoding;
    std::string_view data;
    if (!c.u16(s.id, "id") || !c.prefixed(name, "name") || !c.prefixed(encoding, "encoding") ||
        !c.prefixed(data, "data")) {
      return malformed(start, length, c);
    }
    if (s.id == 0) return {};  // invalid id: the specification says to ignore such a record
    s.name = name;
    s.encoding = encoding;
    s.data = data;
    auto [it, added] = out_.schemas.try_emplace(s.id, s);
    if (added) {
      schema_at_[s.id] = start;
    } else if (!(it->second == s)) {
      return error("Schema record at byte " + num(start) + " redefines schema " + num(s.id) +
                   " (first defined at byte " + num(schema_at_[s.id]) + ") differently");
    }
    return {};
  }

  Result<void> channel(std::uint64_t start, const Byte* content, std::uint64_t length) {
    Cursor c(content, length);
    ChannelInfo ch;
    std::string_view topic;
    std::string_view encoding;
    std::string_view metadata;
    if (!c.u16(ch.id, "id") || !c.u16(ch.schema_id, "schema_id") || !c.prefixed(topic, "topic") ||
        !c.prefixed(encoding, "message_encoding") || !c.prefixed(metadata, "metadata")) {
      return malformed(start, length, c);
    }
    ch.topic = topic;
    ch.message_encoding = encoding;
    if (!parse_string_map(metadata, ch.metadata)) {
      return error("Channel record at byte " + num(start) + " (topic " + quoted(topic) +
                   ") is malformed: an entry of its metadata runs past the map's length");
    }
    if (ch.schema_id != 0 && out_.schemas.count(ch.schema_id) == 0) {
      return error("Channel record at byte " + num(start) + " (topic " + quoted(topic) +
                   ") refers to schema " + num(ch.schema_id) +
                   ", which no Schema record before it defines");
    }
    auto [it, added] = out_.channels.try_emplace(ch.id, ch);
    if (added) {
      channel_at_[ch.id] = start;
      channel_known_.set(ch.id);
    } else if (!(it->second == ch)) {
      return error("Channel record at byte " + num(start) + " redefines channel " + num(ch.id) +
                   " (first defined at byte " + num(channel_at_[ch.id]) + ") differently");
    }
    return {};
  }

  Result<void> message(std::uint64_t start, const Byte* content, std::uint64_t length, Message& m) {
    if (length < kMessageFixed) {
      return error("Message record at byte " + num(start) + " is malformed: " + num(length) +
                   " bytes, fewer than the " + num(kMessageFixed) + " of its fixed fields");
    }
    m.channel_id = load16(content);
    if (!channel_known_[m.channel_id]) {
      return error("Message record at byte " + num(start) + " is on channel " + num(m.channel_id) +
                   ", which no Channel record before it defines");
    }
    m.sequence = load32(content + 2);
    m.log_time = load64(content + 6);
    m.publish_time = load64(content + 14);
    m.data = std::string_view(reinterpret_cast<const char*>(content + kMessageFixed),
                              static_cast<std::size_t>(length - kMessageFixed));
    return {};
  }

  template <class OnMessage>
  Result<void> chunk(std::uint64_t start, const Byte* content, std::uint64_t length,
                     OnMessage& on_message, bool& go_on) {
    Cursor c(content, length);
    std::uint64_t start_time = 0;
    std::uint64_t end_time = 0;
    std::uint64_t uncompressed_size = 0;
    std::uint32_t stored_crc = 0;
    std::string_view compression;
    const Byte* records = nullptr;
    std::uint64_t records_size = 0;
    if (!c.u64(start_time, "message_start_time") || !c.u64(end_time, "message_end_time") ||
        !c.u64(uncompressed_size, "uncompressed_size") || !c.u32(stored_crc, "uncompressed_crc") ||
        !c.prefixed(compression, "compression") || !c.prefixed64(records, records_size, "records")) {
      return malformed(start, length, c);
    }
    if (!compression.empty()) {
      return error("chunk at byte " + num(start) + " is compressed with " + quoted(compression) +
                   "; this reader reads only uncompressed chunks (compression \"\")");
    }
    if (uncompressed_size != records_size) {
      return error("chunk at byte " + num(start) + ": uncompressed_size " +
                   num(uncompressed_size) + " differs from the length of its records (" +
                   num(records_size) + " bytes) in an uncompressed chunk");
    }
    const std::uint64_t records_at = static_cast<std::uint64_t>(records - data_);
    if (stored_crc != 0) {
      const std::uint32_t computed = crc_update(0, records, records_size);
      if (computed != stored_crc) {
        return error("chunk at byte " + num(start) + ": CRC mismatch (stored " + hex32(stored_crc) +
                     ", computed " + hex32(computed) + ")");
      }
      // Carry the data section's CRC over the records without reading them again.
      data_crc_ = crc_update(data_crc_, data_ + crc_pos_, records_at - crc_pos_);
      data_crc_ = crc_combine(data_crc_, stored_crc, records_size);
      crc_pos_ = records_at + records_size;
    }

    std::uint64_t pos = 0;
    while (pos < records_size) {
      const std::uint64_t at = records_at + pos;
      if (records_size - pos < kRecordPrefix) {
        return error("chunk at byte " + num(start) + ": its last " + num(records_size - pos) +
                     " bytes, from byte " + num(at) + ", are too few for a record");
      }
      const Byte opcode = records[pos];
      const std::uint64_t inner_length = load64(records + pos + 1);
      if (inner_length > records_size - pos - kRecordPrefix) {
        return error(record_name(at) + " inside the chunk at byte " + num(start) + " has length " +
                     num(inner_length) + ", beyond the end of the chunk's records at byte " +
                     num(records_at + records_size));
      }
      const Byte* inner = records + pos + kRecordPrefix;
      pos += kRecordPrefix + inner_length;
      switch (opcode) {
        case op::schema:
          if (auto ok = schema(at, inner, inner_length); !ok) return ok;
          break;
        case op::channel:
          if (auto ok = channel(at, inner, inner_length); !ok) return ok;
          break;
        case op::message: {
          Message m;
          if (auto ok = message(at, inner, inner_length, m); !ok) return ok;
          if (!on_message(std::as_const(m))) {
            go_on = false;
            return {};
          }
          break;
        }
        default:
          if (opcode == 0 || opcode <= op::data_end) {
            return error(record_name(at) + " is not allowed inside a chunk (chunk at byte " +
                         num(start) + ")");
          }
          break;  // unknown opcodes are skipped
      }
    }
    ++out_.chunk_count;
    return {};
  }

  Result<void> footer_mid_file(std::uint64_t start, std::uint64_t end, bool complete) {
    if (!complete) {
      const std::uint64_t rest = size_ - end;
      if (rest < kMagicSize && std::memcmp(data_ + end, kMagic, rest) == 0) {
        return cut("after the Footer at byte " + num(start) + ", inside the closing magic");
      }
      return error("the Footer record at byte " + num(start) + " is followed by " + num(rest) +
                   " bytes that are not the closing magic");
    }
    return error("Footer record at byte " + num(start) +
                 " is not the last record (a Footer and the closing magic end the file at byte " +
                 num(size_ - kMagicSize - kFooterRecord) + ")");
  }

  Result<void> footer(std::uint64_t at) {
    const Byte* f = data_ + at + kRecordPrefix;
    const std::uint64_t summary_start = load64(f);
    const std::uint64_t summary_offset_start = load64(f + 8);
    const std::uint32_t stored = load32(f + 16);
    for (const auto& [field, value] : {std::pair{"summary_start", summary_start},
                                       std::pair{"summary_offset_start", summary_offset_start}}) {
      if (value != 0 && (value < kMagicSize || value > at)) {
        return error("Footer at byte " + num(at) + ": " + field + " " + num(value) +
                     " lies outside the file's records (bytes 8.." + num(at) + ")");
      }
    }
    if (stored != 0) {
      const std::uint64_t from = summary_start != 0          ? summary_start
                                 : summary_offset_start != 0 ? summary_offset_start
                                                             : at;
      const std::uint64_t through = at + kRecordPrefix + 16;  // up to summary_crc
      const std::uint32_t computed = crc_update(0, data_ + from, through - from);
      if (computed != stored) {
        return error("summary (bytes " + num(from) + ".." + num(through) +
                     "): CRC mismatch (stored " + hex32(stored) + ", computed " + hex32(computed) +
                     ") in the Footer at byte " + num(at));
      }
    }
    out_.has_summary = true;
    return {};
  }

  const Byte* data_;
  std::uint64_t size_;
  const std::string& name_;
  ScanResult& out_;
  std::bitset<65536> channel_known_;  // 8 KiB: a test per message instead of a map lookup
  std::map<std::uint16_t, std::uint64_t> schema_at_;
  std::map<std::uint16_t, std::uint64_t> channel_at_;
  bool header_seen_ = false;
  std::uint64_t data_end_at_ = 0;
  // CRC of the bytes [0, crc_pos_); extended lazily, and over chunk records
  // by combining with their verified CRC.
  std::uint32_t data_crc_ = 0;
  std::uint64_t crc_pos_ = 0;
};

}  // namespace

struct Reader::Impl {
  std::string name;
  void* map = nullptr;
  std::size_t map_size = 0;
  std::string owned;
  const Byte* data = nullptr;
  std::uint64_t size = 0;
  ScanResult scan;
  Statistics stats;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (map != nullptr) ::munmap(map, map_size);
  }

  static Result<std::unique_ptr<Impl>> load(std::unique_ptr<Impl> impl) {
    auto& s = *impl;
    auto& st = s.stats;
    std::vector<std::uint64_t> counts;  // by channel id, grown to the largest id seen
    Scanner scanner(s.data, s.size, s.name, s.scan);
    auto ok = scanner.run([&](const Message& m) {
      if (st.message_count == 0) {
        st.message_start_time = st.message_end_time = m.log_time;
      } else {
        st.message_start_time = std::min(st.message_start_time, m.log_time);
        st.message_end_time = std::max(st.message_end_time, m.log_time);
      }
      ++st.message_count;
      if (m.channel_id >= counts.size()) counts.resize(std::size_t{m.channel_id} + 1);
      ++counts[m.channel_id];
      return true;
    });
    if (!ok) return tl::make_unexpected(ok.error());
    for (std::size_t id = 0; id < counts.size(); ++id) {
      if (counts[id] != 0) st.channel_message_counts[static_cast<std::uint16_t>(id)] = counts[id];
    }
    st.chunk_count = s.scan.chunk_count;
    st.schema_count = static_cast<std::uint16_t>(s.scan.schemas.size());
    st.channel_count = static_cast<std::uint32_t>(s.scan.channels.size());
    return impl;
  }
};

Reader::Reader(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Reader::Reader(Reader&& other) noexcept = default;
Reader& Reader::operator=(Reader&& other) noexcept = default;
Reader::~Reader() = default;

Result<Reader> Reader::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return fail(e == EACCES || e == EPERM ? Errc::not_permitted : Errc::system_error,
                "cannot open MCAP file " + path + ": " + errno_text(e));
  }
  auto impl = std::make_unique<Impl>();
  impl->name = path;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return fail(Errc::system_error, "cannot stat MCAP file " + path + ": " + errno_text(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return fail(Errc::invalid_argument, path + " is a directory, not an MCAP file");
  }
  if (S_ISREG(st.st_mode)) {
    if (st.st_size == 0) {
      ::close(fd);
      return fail(Errc::invalid_argument, path + " is empty (0 bytes): not an MCAP file");
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (map == MAP_FAILED) {
      return fail(Errc::system_error, "cannot map MCAP file " + path + ": " + errno_text(e));
    }
    impl->map = map;
    impl->map_size = size;
    impl->data = static_cast<const Byte*>(map);
    impl->size = size;
  } else {
    // A pipe or device: read it to the end.
    char buffer[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int e = errno;
        ::close(fd);
        return fail(Errc::system_error, "cannot read MCAP file " + path + ": " + errno_text(e));
      }
      if (n == 0) break;
      impl->owned.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    impl->data = reinterpret_cast<const Byte*>(impl->owned.data());
    impl->size = impl->owned.size();
  }
  auto loaded = Impl::load(std::move(impl));
  if (!loaded) return tl::make_unexpected(loaded.error());
  return Reader(std::move(*loaded));
}

Result<Reader> Reader::from_bytes(std::string bytes, std::string name) {
  auto impl = std::make_unique<Impl>();
  impl->name = std::move(name);
  impl->owned = std::move(bytes);
  impl->data = reinterpret_cast<const Byte*>(impl->owned.data());
  impl->size = impl->owned.size();
  auto loaded = Impl::load(std::move(impl));
  if (!loaded) return tl::make_unexpected(loaded.error());
  return Reader(std::move(*loaded));
}

namespace {
const ScanResult kEmptyScan;
}  // namespace

const std::map<std::uint16_t, SchemaInfo>& Reader::schemas() const noexcept {
  return impl_ ? impl_->scan.schemas : kEmptyScan.schemas;
}
const std::map<std::uint16_t, ChannelInfo>& Reader::channels() const noexcept {
  return impl_ ? impl_->scan.channels : kEmptyScan.channels;
}

Result<void> Reader::for_each_message(const std::function<bool(const Message&)>& f) const {
  if (!impl_) return fail(Errc::invalid_argument, "mcap::Reader::for_each_message on a moved-from Reader");
  if (!f) return fail(Errc::invalid_argument, "mcap::Reader::for_each_message: empty callback");
  ScanResult scratch;  // the second pass rebuilds what open() kept; only the messages matter
  Scanner scanner(impl_->data, impl_->size, impl_->name, scratch);
  return scanner.run([&f](const Message& m) { return f(m); });
}

bool Reader::truncated() const noexcept { return impl_ && impl_->scan.truncated; }
const std::string& Reader::truncation() const noexcept {
  return impl_ ? impl_->scan.truncation : kEmptyScan.truncation;
}
const std::string& Reader::profile() const noexcept {
  return impl_ ? impl_->scan.profile : kEmptyScan.profile;
}
const std::string& Reader::library() const noexcept {
  return impl_ ? impl_->scan.library : kEmptyScan.library;
}
Statistics Reader::statistics() const { return impl_ ? impl_->stats : Statistics{}; }
bool Reader::has_summary() const noexcept { return impl_ && impl_->scan.has_summary; }

}  // namespace statebus::mcap
