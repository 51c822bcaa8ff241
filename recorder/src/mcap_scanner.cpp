#include "mcap_scanner.hpp"

#include <algorithm>

namespace statebus::mcap::detail {
namespace {

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

}  // namespace

std::string Scanner::num(std::uint64_t v) { return std::to_string(v); }

std::string Scanner::a_record(Byte opcode) {
  const std::string_view kind = opcode_name(opcode);
  if (opcode == 0 || opcode > op::data_end) return "a record of unknown opcode " + hex8(opcode);
  return (kind[0] == 'A' ? "an " : "a ") + std::string(kind) + " record";
}

std::string Scanner::record_kind(Byte opcode) {
  return std::string(opcode_name(opcode)) + " (opcode " + hex8(opcode) + ")";
}

std::string Scanner::record_name(std::uint64_t start) const {
  return "record at byte " + num(start) + " (" + record_kind(data_[start]) + ")";
}

tl::unexpected<Error> Scanner::error(const std::string& what) const {
  return fail(Errc::invalid_argument, name_ + ": " + what);
}

tl::unexpected<Error> Scanner::malformed(std::uint64_t start, std::uint64_t length, const Cursor& c) const {
  return error(std::string(opcode_name(data_[start])) + " record at byte " + num(start) +
               " is malformed: its " + num(length) + " bytes end inside the field '" +
               (c.missing() ? c.missing() : "?") + "'");
}

tl::unexpected<Error> Scanner::after_data_end(std::uint64_t start, Byte opcode) const {
  return error(record_kind(opcode) + " record at byte " + num(start) +
               " comes after the DataEnd record at byte " + num(data_end_at_) +
               " (in the summary section)");
}

Result<void> Scanner::cut(const std::string& where) {
  out_.truncated = true;
  out_.truncation = "file ends at byte " + num(size_) + " " + where + "; read " +
                    num(out_.chunk_count) + " complete chunk" +
                    (out_.chunk_count == 1 ? "" : "s");
  return {};
}

Result<void> Scanner::check_magic() {
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

Result<void> Scanner::schema(std::uint64_t start, const Byte* content, std::uint64_t length) {
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

Result<void> Scanner::channel(std::uint64_t start, const Byte* content, std::uint64_t length) {
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

Result<void> Scanner::footer_mid_file(std::uint64_t start, std::uint64_t end, bool complete) {
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

Result<void> Scanner::footer(std::uint64_t at) {
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

}  // namespace statebus::mcap::detail
