// mcap::Writer: records into uncompressed chunks, each written in one
// write(2) with its message indexes; the summary when closed.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "mcap_format.hpp"
#include "statebus/recorder/mcap.hpp"

namespace statebus::mcap {

using namespace detail;

namespace {

std::string metadata_too_long(const std::map<std::string, std::string>& metadata) {
  std::uint64_t total = 0;
  for (const auto& [key, value] : metadata) {
    if (key.size() > kMaxString || value.size() > kMaxString) return "a metadata entry";
    total += 8 + key.size() + value.size();
  }
  return total > kMaxString ? "the metadata" : "";
}

}  // namespace

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
    if (auto written = write_raw(p, n); !written) return written;
    if (!summary) data_crc = crc_update(data_crc, p, n);
    return {};
  }

  // Writes all bytes with write(2) and advances the file offset; no CRC.
  Result<void> write_raw(const char* p, std::size_t n) {
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
    if (auto written = write_raw(chunk.data(), chunk.size()); !written) return written;
    // The data CRC without a second pass over the records.
    data_crc = crc_update(data_crc, chunk.data(), kChunkHeader);
    data_crc = crc_combine(data_crc, records_crc, records);
    data_crc = crc_update(data_crc, chunk.data() + chunk_length, index_length);

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

}  // namespace statebus::mcap
