#pragma once
// The MCAP scanner: one pass over a whole file from its start, checking
// framing, every CRC and references, for mcap::Reader (mcap_reader.cpp).
// The pass is a template on what it does with each message, so it is here;
// the rest of the scanner is in mcap_scanner.cpp.

#include <bitset>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "mcap_format.hpp"
#include "statebus/base/error.hpp"
#include "statebus/recorder/mcap.hpp"

namespace statebus::mcap::detail {

// What a pass learns besides the messages.
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
  // Naming records and bytes in messages (mcap_scanner.cpp).
  static std::string num(std::uint64_t v);
  // "a Chunk record", "an Attachment record", "a record of unknown opcode 0x80".
  static std::string a_record(Byte opcode);
  static std::string record_kind(Byte opcode);
  std::string record_name(std::uint64_t start) const;

  // Errors and the end of a file cut short (mcap_scanner.cpp).
  tl::unexpected<Error> error(const std::string& what) const;
  tl::unexpected<Error> malformed(std::uint64_t start, std::uint64_t length, const Cursor& c) const;
  tl::unexpected<Error> after_data_end(std::uint64_t start, Byte opcode) const;
  Result<void> cut(const std::string& where);

  // Records (mcap_scanner.cpp).
  Result<void> check_magic();
  Result<void> schema(std::uint64_t start, const Byte* content, std::uint64_t length);
  Result<void> channel(std::uint64_t start, const Byte* content, std::uint64_t length);
  Result<void> footer_mid_file(std::uint64_t start, std::uint64_t end, bool complete);
  Result<void> footer(std::uint64_t at);

  // Inline: called for every message.
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

}  // namespace statebus::mcap::detail
