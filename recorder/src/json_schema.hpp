#pragma once
// Our schemas and log records in the forms MCAP tools read: JSON Schema with
// our own schema under "x-statebus", and Foxglove's foxglove.Log.

#include <string>
#include <string_view>

#include "statebus/bus/log_record.hpp"
#include "statebus/base/error.hpp"
#include "statebus/base/schema.hpp"

namespace statebus::detail {

/// A JSON Schema (draft 2020-12) of the JSON that Schema::render_json
/// writes, with `schema.to_json()` embedded under "x-statebus".
std::string to_json_schema(const Schema& schema);
/// to_json_schema, with the `_call` member that a service's requests and
/// replies carry in MCAP: `{"client": <request port>, "id": <call id>}`.
std::string to_json_schema_with_call_link(const Schema& schema);
/// The schema embedded by to_json_schema; invalid_argument if there is none
/// or it is corrupt.
Result<Schema> from_json_schema(std::string_view json_schema);

/// Name and JSON Schema of Foxglove's log message.
inline constexpr std::string_view kFoxgloveLogName = "foxglove.Log";
const std::string& foxglove_log_schema();
/// A log record as a foxglove.Log JSON message (timestamp: virtual time),
/// with our own fields next to Foxglove's.
std::string to_foxglove_log(const LogEntry& entry);
/// The inverse of to_foxglove_log; invalid_argument naming what is missing.
Result<LogEntry> from_foxglove_log(std::string_view text);

}  // namespace statebus::detail
