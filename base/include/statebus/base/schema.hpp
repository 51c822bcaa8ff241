#pragma once
/// Schemas: the layout of a message or state type as data, so that a process
/// compiled without the type (the CLI, the recorder) can decode, print and
/// record it. Built from a description (statebus/base/describe.hpp) or parsed
/// from the JSON a publisher puts on the bus.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "statebus/base/error.hpp"

namespace statebus {

/// What a field holds.
enum class FieldKind : std::uint8_t {
  boolean,
  int8, int16, int32, int64,
  uint8, uint16, uint32, uint64,
  float32, float64,
  text,         ///< fixed-size char array, NUL-terminated if shorter
  enumeration,  ///< an enum; `underlying` says its integer kind
  structure,    ///< a nested described struct; `fields` describe it
};

/// The name of a field kind as it appears in schemas ("int32", "text" …).
std::string_view to_string(FieldKind kind) noexcept;

/// What a field means, declared once with its type (STATEBUS_FIELD_INFO in
/// statebus/base/describe.hpp) and carried in its schema, so that every
/// writer and tool honours it: Schema::assign, parse_json and apply_json
/// (the CLI, the bridge's inbound samples and `/set`, the demo's web API)
/// and Cell::store refuse a value outside the range; Home Assistant gets
/// the range, step, unit and kind of quantity. Not part of the fingerprint.
struct FieldInfo {
  std::optional<double> min;  ///< smallest valid value of a number (each element of an array); NaN is never valid
  std::optional<double> max;  ///< largest valid value
  double step = 0;            ///< the increment a user interface offers; 0: none declared
  std::string unit;           ///< "°C", "W", "s" …
  std::string quantity;       ///< what it measures: "temperature", "power", "duration" …
                              ///< (Home Assistant's device classes)
  bool counter = false;       ///< a total that only grows (Home Assistant's total_increasing)
  std::string label;          ///< a readable name ("Target temperature"); else tools use the field's name

  [[nodiscard]] bool empty() const noexcept {
    return !min && !max && step == 0 && unit.empty() && quantity.empty() && !counter && label.empty();
  }
};

/// One field of a struct. Arrays have `count` > 0 elements of `size` bytes each.
struct FieldSchema {
  std::string name;
  FieldKind kind = FieldKind::int32;
  std::uint32_t offset = 0;  ///< bytes from the start of the enclosing struct
  std::uint32_t size = 0;    ///< bytes of one element (text: the whole array)
  std::uint32_t count = 0;   ///< 0: a single value; N: an array of N
  std::string type_name;     ///< enum or struct name, else empty
  FieldKind underlying = FieldKind::int32;                          ///< enums only
  std::vector<std::pair<std::int64_t, std::string>> enumerators;   ///< enums only, may be empty
  std::vector<FieldSchema> fields;                                  ///< structures only
  FieldInfo info;                                                   ///< what it means, if declared
};

/// The layout of a trivially copyable type, with its fingerprint.
struct Schema {
  std::string name;
  std::uint32_t size = 0;
  std::uint32_t alignment = 1;
  std::vector<FieldSchema> fields;
  /// FNV-1a 64 over name, size, field names, kinds, offsets, sizes and counts
  /// (nested structs included). Equal fingerprints mean the same layout.
  std::uint64_t fingerprint = 0;

  /// The schema as compact JSON, the form carried on the bus and in recordings.
  [[nodiscard]] std::string to_json() const;
  /// Parses and checks a schema: every field inside the struct, known kinds,
  /// sizes that match the kinds, and a fingerprint that matches the content.
  /// Fails with invalid_argument saying what is wrong and where.
  static Result<Schema> from_json(std::string_view text);

  /// Renders `size` bytes at `data` field by field:
  /// `{celsius: 21.5, room: "living", mode: heat}`.
  [[nodiscard]] std::string render_text(const void* data) const;
  /// Renders `size` bytes at `data` as a JSON object.
  [[nodiscard]] std::string render_json(const void* data) const;

  /// The inverse of render_json: fills the `size` bytes at `data` from a
  /// JSON object with every field (enums by name or number, non-finite
  /// floats as null) and no other key. Fails with invalid_argument naming
  /// the first missing, unknown, malformed or out-of-range field (the
  /// kind's range or the declared FieldInfo range); `data` is unchanged then.
  Result<void> parse_json(std::string_view text, void* data) const;

  /// A partial write onto the `size` bytes at `data`: a JSON object with some
  /// of the fields (nested objects for nested structs, arrays element by
  /// element), or a bare value (`21.5`, `"heat"`) when the type has exactly
  /// one field. Each value is checked as assign() checks it. Fails with
  /// invalid_argument naming the first bad field; `data` is unchanged then.
  Result<void> apply_json(std::string_view text, void* data) const;

  /// Checks the `size` bytes at `data` against the declared ranges
  /// (FieldInfo::min/max, NaN never in range). Fails with invalid_argument
  /// naming the first field out of its range, its value and the range.
  [[nodiscard]] Result<void> check_ranges(const void* data) const;
  /// True if some field (nested ones included) declares a range.
  [[nodiscard]] bool has_ranges() const noexcept;

  /// Sets one field of the `size` bytes at `data` from text, as a user types
  /// it on a command line: `path` names the field (`celsius`, nested
  /// `limits.low`, array element `values[2]`); `text` is its value (numbers
  /// in decimal, `0x` hex for integers; `true`/`false`/`1`/`0` for booleans;
  /// an enumerator name or its integer for enums; any string that fits for
  /// text fields). Fails with invalid_argument, naming the field and the
  /// accepted range or the known field names, for an unknown field, an
  /// unparsable value or one out of the field's range (its kind's, or the
  /// declared FieldInfo range); `data` is unchanged then.
  Result<void> assign(void* data, std::string_view path, std::string_view text) const;
};

/// Computes the fingerprint of a schema's content (ignores `fingerprint`).
std::uint64_t compute_fingerprint(const Schema& schema);

/// A fingerprint as 16 hex digits.
std::string fingerprint_hex(std::uint64_t fingerprint);

}  // namespace statebus
