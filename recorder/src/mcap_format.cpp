#include "mcap_format.hpp"

#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <iterator>

namespace statebus::mcap::detail {

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
std::string quoted(const Byte* p, std::size_t n, std::size_t max) {
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

}  // namespace statebus::mcap::detail
