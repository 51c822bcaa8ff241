#pragma once
// The JSON a bridged sample or cell value travels in (bridge/README.md), and
// the strict reading of what comes in: a message is taken whole or refused
// with a reason, never in part.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "statebus/bus/sample_header.hpp"
#include "statebus/base/error.hpp"
#include "statebus/base/schema.hpp"

namespace statebus::bridge_detail {

/// A sample as JSON: the header fields `statebus echo --json` prints, the
/// value (rendered from `schema`, or `null` and `base64` without one), the
/// fingerprint, the sending bridge and its wall-clock time.
std::string encode_sample(const SampleHeader& header, const Schema* schema, const void* data, std::size_t size,
                          std::string_view origin, std::int64_t wall_time_ns);

/// A cell's value as JSON.
std::string encode_cell(const Schema& schema, const void* value, std::uint64_t version, std::string_view origin,
                        std::int64_t wall_time_ns);

/// Why an inbound message was refused: a short category (for counts) and
/// the whole reason (for the log).
struct Refusal {
  std::string category;  ///< "malformed JSON", "unknown field", "missing field", "wrong type", "out of range",
                         ///< "type mismatch", "no schema", "oversize", "bad name", "not permitted", "bus"
  std::string reason;
};

/// What an inbound sample or cell value holds.
struct Inbound {
  std::string origin;                       ///< empty from a plain client
  std::string bytes;                        ///< exactly schema->size bytes, or the base64 payload
  /// The sample's publisher (its port, or its pid from an envelope without
  /// one) and sequence on its bus, from an envelope that has both (a
  /// bridge's); a plain client's message has neither.
  std::optional<std::pair<std::int64_t, std::uint64_t>> publisher_sequence;
};

/// Reads a sample or a cell value: the envelope above, or the bare value
/// object a plain client sends. With a schema the value must have every
/// field and no other, each in range; an envelope's fingerprint must match.
/// Without one only an envelope with `base64` is taken.
tl::expected<Inbound, Refusal> decode_message(std::string_view payload, const Schema* schema);

/// Applies a write (`/set`): a JSON object with some of the fields (nested
/// objects for nested structs), or a bare value when the schema has exactly
/// one field. Changes `value` only if every field is valid.
tl::expected<void, Refusal> apply_write(const Schema& schema, std::string_view payload, void* value);

/// Sorts a schema's error message into a Refusal category.
Refusal refusal_from(const Error& error);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace statebus::bridge_detail
