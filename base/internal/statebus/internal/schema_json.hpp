#pragma once
/// A value as the JSON document Schema::render_json dumps, before it is
/// dumped: for in-tree code that hands values on without going through
/// text (the Python module). Not installed.

#include <nlohmann/json.hpp>

#include "statebus/base/schema.hpp"

namespace statebus::detail {

/// The `schema.size` bytes at `data` as a JSON object, field by field, as
/// render_json renders them (enums by name, non-finite floats as null,
/// text as strings that may hold invalid UTF-8, which dump() replaces).
nlohmann::json value_as_json(const Schema& schema, const void* data);

}  // namespace statebus::detail
