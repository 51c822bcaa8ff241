#pragma once
// What the schema's files share about field bytes: reading a scalar of any
// kind from a payload, text fields, and JSON written the one way. Internal
// to base/src.

#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "statebus/base/schema.hpp"

namespace statebus::field_bytes {

using nlohmann::json;

// Size in bytes a scalar kind must have (0: any, checked elsewhere).
inline std::uint32_t scalar_size(FieldKind kind) {
  switch (kind) {
    case FieldKind::boolean:
    case FieldKind::int8:
    case FieldKind::uint8: return 1;
    case FieldKind::int16:
    case FieldKind::uint16: return 2;
    case FieldKind::int32:
    case FieldKind::uint32:
    case FieldKind::float32: return 4;
    case FieldKind::int64:
    case FieldKind::uint64:
    case FieldKind::float64: return 8;
    default: return 0;
  }
}

template <class T>
inline T load(const unsigned char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

inline std::int64_t load_signed(FieldKind kind, const unsigned char* p) {
  switch (kind) {
    case FieldKind::int8: return load<std::int8_t>(p);
    case FieldKind::int16: return load<std::int16_t>(p);
    case FieldKind::int32: return load<std::int32_t>(p);
    default: return load<std::int64_t>(p);
  }
}

inline std::uint64_t load_unsigned(FieldKind kind, const unsigned char* p) {
  switch (kind) {
    case FieldKind::uint8: return load<std::uint8_t>(p);
    case FieldKind::uint16: return load<std::uint16_t>(p);
    case FieldKind::uint32: return load<std::uint32_t>(p);
    default: return load<std::uint64_t>(p);
  }
}

inline bool is_signed(FieldKind kind) { return kind >= FieldKind::int8 && kind <= FieldKind::int64; }

inline std::string text_of(const unsigned char* p, std::uint32_t size) {
  const auto* end = static_cast<const unsigned char*>(std::memchr(p, 0, size));
  return std::string(reinterpret_cast<const char*>(p), end != nullptr ? static_cast<std::size_t>(end - p) : size);
}

inline bool is_integer(FieldKind kind) {
  return kind >= FieldKind::int8 && kind <= FieldKind::uint64;
}

inline std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace statebus::field_bytes
