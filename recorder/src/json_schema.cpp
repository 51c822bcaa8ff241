#include "json_schema.hpp"

#include <chrono>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace statebus::detail {
namespace {

using json = nlohmann::ordered_json;

json value_schema(const FieldSchema& f);

json struct_schema(const std::vector<FieldSchema>& fields, const std::string& title) {
  json out = {{"type", "object"}, {"title", title}};
  json properties = json::object();
  json required = json::array();
  for (const FieldSchema& f : fields) {
    json one = value_schema(f);
    if (f.count > 0 && f.kind != FieldKind::text) {
      one = {{"type", "array"}, {"items", std::move(one)}, {"minItems", f.count}, {"maxItems", f.count}};
    }
    properties[f.name] = std::move(one);
    required.push_back(f.name);
  }
  out["properties"] = std::move(properties);
  out["required"] = std::move(required);
  return out;
}

json value_schema(const FieldSchema& f) {
  switch (f.kind) {
    case FieldKind::boolean: return {{"type", "boolean"}};
    case FieldKind::int8: case FieldKind::int16: case FieldKind::int32: case FieldKind::int64:
    case FieldKind::uint8: case FieldKind::uint16: case FieldKind::uint32: case FieldKind::uint64:
      return {{"type", "integer"}};
    case FieldKind::float32: case FieldKind::float64:
      return {{"type", {"number", "null"}}};  // render_json writes NaN and infinities as null
    case FieldKind::text: return {{"type", "string"}, {"maxLength", f.size == 0 ? 0 : f.size - 1}};
    case FieldKind::enumeration: {
      // Named values render as names, unnamed ones as numbers.
      json names = json::array();
      for (const auto& [value, name] : f.enumerators) names.push_back(name);
      json out = {{"title", f.type_name}};
      if (names.empty()) {
        out["type"] = "integer";
      } else {
        out["anyOf"] = {{{"type", "string"}, {"enum", std::move(names)}}, {{"type", "integer"}}};
      }
      return out;
    }
    case FieldKind::structure: return struct_schema(f.fields, f.type_name);
  }
  return json::object();
}

// foxglove.Log levels: 0 unknown, 1 debug, 2 info, 3 warning, 4 error, 5 fatal.
int foxglove_level(LogLevel level) {
  switch (level) {
    case LogLevel::trace: case LogLevel::debug: return 1;
    case LogLevel::info: return 2;
    case LogLevel::warn: return 3;
    case LogLevel::error: return 4;
    case LogLevel::critical: return 5;
  }
  return 0;
}

}  // namespace

std::string to_json_schema(const Schema& schema) {
  json out = {{"$schema", "https://json-schema.org/draft/2020-12/schema"}};
  out.update(struct_schema(schema.fields, schema.name));
  out["x-statebus"] = json::parse(schema.to_json());
  return out.dump();
}

std::string to_json_schema_with_call_link(const Schema& schema) {
  json out = json::parse(to_json_schema(schema));
  out["properties"]["_call"] = {
      {"type", "object"},
      {"description",
       "the call this message is: a request on S/_call and its reply on S/_reply/<client> carry the same object"},
      {"properties",
       {{"client", {{"type", "integer"}, {"description", "the client's request port (its reply channel's last part)"}}},
        {"id", {{"type", "integer"}, {"description", "the call's id: the low 32 bits of its request's sequence"}}}}},
      {"required", json::array({"client", "id"})}};
  return out.dump();
}

Result<Schema> from_json_schema(std::string_view json_schema) {
  const json parsed = json::parse(json_schema.begin(), json_schema.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object())
    return fail(Errc::invalid_argument, "the schema is not a JSON object");
  const auto embedded = parsed.find("x-statebus");
  if (embedded == parsed.end()) {
    return fail(Errc::invalid_argument, "the JSON schema has no \"x-statebus\" member (not written by statebus)");
  }
  return Schema::from_json(embedded->dump());
}

const std::string& foxglove_log_schema() {
  static const std::string schema =
      json{{"$schema", "https://json-schema.org/draft/2020-12/schema"},
           {"title", "foxglove.Log"},
           {"description", "A log message (Foxglove's schema, with statebus's fields)"},
           {"type", "object"},
           {"properties",
            {{"timestamp",
              {{"type", "object"},
               {"title", "time"},
               {"properties",
                {{"sec", {{"type", "integer"}, {"minimum", 0}}},
                 {"nsec", {{"type", "integer"}, {"minimum", 0}, {"maximum", 999999999}}}}}}},
             {"level",
              {{"title", "foxglove.LogLevel"},
               {"description", "0 unknown, 1 debug, 2 info, 3 warning, 4 error, 5 fatal"},
               {"oneOf",
                {{{"title", "UNKNOWN"}, {"const", 0}},
                 {{"title", "DEBUG"}, {"const", 1}},
                 {{"title", "INFO"}, {"const", 2}},
                 {{"title", "WARNING"}, {"const", 3}},
                 {{"title", "ERROR"}, {"const", 4}},
                 {{"title", "FATAL"}, {"const", 5}}}}}},
             {"message", {{"type", "string"}}},
             {"name", {{"type", "string"}, {"description", "process/logger"}}},
             {"file", {{"type", "string"}}},
             {"line", {{"type", "integer"}, {"minimum", 0}}},
             {"statebus_level",
              {{"type", "string"}, {"description", "spdlog's level: trace, debug, info, warn, error, critical"}}},
             {"process", {{"type", "string"}}},
             {"logger", {{"type", "string"}}},
             {"pid", {{"type", "integer"}}},
             {"wall_time_ns", {{"type", "integer"}}},
             {"virtual_time_ns", {{"type", "integer"}}},
             {"dropped_before", {{"type", "integer"}, {"minimum", 0}}}}},
           {"required", {"timestamp", "level", "message", "name", "file", "line"}}}
          .dump();
  return schema;
}

std::string to_foxglove_log(const LogEntry& entry) {
  const std::int64_t virtual_ns = entry.virtual_time.time_since_epoch().count();
  const std::int64_t wall_ns = std::chrono::nanoseconds(entry.wall_time.time_since_epoch()).count();
  const std::int64_t t = virtual_ns < 0 ? 0 : virtual_ns;
  const json out = {{"timestamp", {{"sec", t / 1000000000}, {"nsec", t % 1000000000}}},
                    {"level", foxglove_level(entry.level)},
                    {"message", entry.text},
                    {"name", entry.process + "/" + entry.logger},
                    {"file", ""},
                    {"line", 0},
                    {"statebus_level", std::string(to_string(entry.level))},
                    {"process", entry.process},
                    {"logger", entry.logger},
                    {"pid", entry.pid},
                    {"wall_time_ns", wall_ns},
                    {"virtual_time_ns", virtual_ns},
                    {"dropped_before", entry.dropped_before}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<LogEntry> from_foxglove_log(std::string_view text) {
  const json in = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object()) return fail(Errc::invalid_argument, "a log message is not a JSON object");
  auto missing = [](const char* what) {
    return fail(Errc::invalid_argument, std::string("a log message has no valid \"") + what + "\"");
  };
  LogEntry out;
  const auto level = in.find("statebus_level");
  if (level == in.end() || !level->is_string()) return missing("statebus_level");
  const auto parsed = parse_log_level(level->get<std::string>());
  if (!parsed) return missing("statebus_level");
  out.level = *parsed;
  auto text_of = [&](const char* key, std::string& to) {
    const auto it = in.find(key);
    if (it == in.end() || !it->is_string()) return false;
    to = it->get<std::string>();
    return true;
  };
  if (!text_of("message", out.text)) return missing("message");
  if (!text_of("process", out.process)) return missing("process");
  if (!text_of("logger", out.logger)) return missing("logger");
  auto integer = [&](const char* key, auto& to) {
    const auto it = in.find(key);
    if (it == in.end() || !it->is_number_integer()) return false;
    to = it->get<std::remove_reference_t<decltype(to)>>();
    return true;
  };
  if (!integer("pid", out.pid)) return missing("pid");
  std::int64_t wall_ns = 0;
  std::int64_t virtual_ns = 0;
  if (!integer("wall_time_ns", wall_ns)) return missing("wall_time_ns");
  if (!integer("virtual_time_ns", virtual_ns)) return missing("virtual_time_ns");
  out.wall_time = std::chrono::system_clock::time_point(std::chrono::nanoseconds(wall_ns));
  out.virtual_time = VirtualClock::time_point(VirtualClock::duration(virtual_ns));
  if (!integer("dropped_before", out.dropped_before)) return missing("dropped_before");
  return out;
}

}  // namespace statebus::detail
