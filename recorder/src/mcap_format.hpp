#pragma once
// The MCAP format as the writer and the scanner share it: magic, record
// opcodes and fixed sizes, little-endian fields (appended by Encoder, read
// bounds-checked by Cursor), CRC32, and bytes shown in error messages.
// Format: https://mcap.dev/spec (major version 0).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace statebus::mcap::detail {

using Byte = unsigned char;

inline constexpr Byte kMagic[8] = {0x89, 'M', 'C', 'A', 'P', '0', '\r', '\n'};
inline constexpr std::size_t kMagicSize = sizeof kMagic;
inline constexpr std::size_t kRecordPrefix = 9;  // opcode + uint64 content length

namespace op {
inline constexpr Byte header = 0x01;
inline constexpr Byte footer = 0x02;
inline constexpr Byte schema = 0x03;
inline constexpr Byte channel = 0x04;
inline constexpr Byte message = 0x05;
inline constexpr Byte chunk = 0x06;
inline constexpr Byte message_index = 0x07;
inline constexpr Byte chunk_index = 0x08;
[[maybe_unused]] inline constexpr Byte attachment = 0x09;  // not written: the spec's opcodes, for the reader
inline constexpr Byte statistics = 0x0B;
[[maybe_unused]] inline constexpr Byte metadata = 0x0C;
inline constexpr Byte summary_offset = 0x0E;
inline constexpr Byte data_end = 0x0F;
}  // namespace op

inline constexpr std::uint64_t kFooterContent = 8 + 8 + 4;
inline constexpr std::uint64_t kFooterRecord = kRecordPrefix + kFooterContent;
// Message: channel_id, sequence, log_time, publish_time.
inline constexpr std::uint64_t kMessageFixed = 2 + 4 + 8 + 8;
// An uncompressed Chunk up to its records: prefix, start, end, uncompressed
// size, crc, empty compression string, records length.
inline constexpr std::size_t kChunkHeader = kRecordPrefix + 8 + 8 + 8 + 4 + 4 + 8;
// Strings, byte arrays and maps carry a uint32 length.
inline constexpr std::uint64_t kMaxString = std::numeric_limits<std::uint32_t>::max();

// "Header", "Chunk", ...; "invalid" for 0, "unknown" beyond the spec's opcodes.
std::string_view opcode_name(Byte opcode);

// ---- CRC32 (zlib's) --------------------------------------------------------------------

// The CRC of `size` bytes at `data` continued from `crc` (0 to start); any size.
std::uint32_t crc_update(std::uint32_t crc, const void* data, std::size_t size);

// The CRC of A followed by B from the CRCs of both: no second pass over B.
std::uint32_t crc_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t size_b);

// ---- little-endian encoding ---------------------------------------------------------
// Inline: the writer and the scanner call these for every message.

inline void store16(Byte* p, std::uint16_t v) {
  p[0] = static_cast<Byte>(v);
  p[1] = static_cast<Byte>(v >> 8);
}
inline void store32(Byte* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<Byte>(v >> (8 * i));
}
inline void store64(Byte* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<Byte>(v >> (8 * i));
}
inline std::uint16_t load16(const Byte* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t load32(const Byte* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t load64(const Byte* p) {
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

// ---- bytes in error messages ------------------------------------------------------------

// "0x0000ABCD".
std::string hex32(std::uint32_t value);
// "0x0A".
std::string hex8(Byte value);
// Bytes as a C string literal, shortened: for showing untrusted text in messages.
std::string quoted(const Byte* p, std::size_t n, std::size_t max = 32);
std::string quoted(std::string_view s);
// "89 4D 43": bytes in hex, space-separated.
std::string hex_bytes(const Byte* p, std::size_t n);

}  // namespace statebus::mcap::detail
