// A schema itself: field kinds, the fingerprint, the schema as JSON.
#include "statebus/base/schema.hpp"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "field_bytes.hpp"

namespace statebus {
namespace {

using nlohmann::json;
using namespace field_bytes;

constexpr std::pair<FieldKind, std::string_view> kKindNames[] = {
    {FieldKind::boolean, "bool"},      {FieldKind::int8, "int8"},       {FieldKind::int16, "int16"},
    {FieldKind::int32, "int32"},       {FieldKind::int64, "int64"},     {FieldKind::uint8, "uint8"},
    {FieldKind::uint16, "uint16"},     {FieldKind::uint32, "uint32"},   {FieldKind::uint64, "uint64"},
    {FieldKind::float32, "float32"},   {FieldKind::float64, "float64"}, {FieldKind::text, "text"},
    {FieldKind::enumeration, "enum"},  {FieldKind::structure, "struct"},
};

bool kind_from_string(std::string_view name, FieldKind& kind) {
  for (const auto& [k, n] : kKindNames) {
    if (n == name) {
      kind = k;
      return true;
    }
  }
  return false;
}

// ---- fingerprint ----------------------------------------------------------

struct Fnv1a {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  void bytes(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
      hash ^= p[i];
      hash *= 0x100000001b3ULL;
    }
  }
  void text(std::string_view s) {
    number(s.size());
    bytes(s.data(), s.size());
  }
  void number(std::uint64_t n) { bytes(&n, sizeof n); }
};

void hash_fields(Fnv1a& h, const std::vector<FieldSchema>& fields) {
  h.number(fields.size());
  for (const FieldSchema& f : fields) {
    h.text(f.name);
    h.number(static_cast<std::uint64_t>(f.kind));
    h.number(f.offset);
    h.number(f.size);
    h.number(f.count);
    if (f.kind == FieldKind::enumeration) h.number(static_cast<std::uint64_t>(f.underlying));
    if (f.kind == FieldKind::structure) {
      h.text(f.type_name);
      hash_fields(h, f.fields);
    }
  }
}

// ---- JSON -----------------------------------------------------------------

json info_to_json(const FieldInfo& info) {
  json j = json::object();
  if (info.min) j["min"] = *info.min;
  if (info.max) j["max"] = *info.max;
  if (info.step != 0) j["step"] = info.step;
  if (!info.unit.empty()) j["unit"] = info.unit;
  if (!info.quantity.empty()) j["quantity"] = info.quantity;
  if (info.counter) j["counter"] = true;
  if (!info.label.empty()) j["label"] = info.label;
  return j;
}

constexpr std::size_t kMaxInfoText = 64;

// Reads a field's "info"; the reason if it is not one a described type gives.
std::optional<std::string> info_from_json(const json& j, FieldKind kind, FieldInfo& info) {
  if (!j.is_object()) return "info is not an object";
  for (const auto& [key, value] : j.items()) {
    if (key == "min" || key == "max" || key == "step") {
      if (!value.is_number() || !std::isfinite(value.get<double>())) return "info." + key + " is not a finite number";
      const double number = value.get<double>();
      if (key == "min") info.min = number;
      if (key == "max") info.max = number;
      if (key == "step") {
        if (number < 0) return "info.step is negative";
        info.step = number;
      }
    } else if (key == "unit" || key == "quantity" || key == "label") {
      if (!value.is_string() || value.get<std::string>().size() > kMaxInfoText) {
        return "info." + key + " is not a string of at most " + std::to_string(kMaxInfoText) + " bytes";
      }
      (key == "unit" ? info.unit : key == "quantity" ? info.quantity : info.label) = value.get<std::string>();
    } else if (key == "counter") {
      if (!value.is_boolean()) return "info.counter is not true or false";
      info.counter = value.get<bool>();
    } else {
      return "unknown key info." + key;
    }
  }
  const bool number = is_integer(kind) || kind == FieldKind::float32 || kind == FieldKind::float64;
  if (!number && (info.min || info.max || info.step != 0 || info.counter)) {
    return "a range, step or counter on a " + std::string(to_string(kind)) + " field";
  }
  if (info.min && info.max && *info.min > *info.max) return "info.min is above info.max";
  return std::nullopt;
}

json fields_to_json(const std::vector<FieldSchema>& fields) {
  json out = json::array();
  for (const FieldSchema& f : fields) {
    json j = {{"name", f.name}, {"kind", to_string(f.kind)}, {"offset", f.offset}, {"size", f.size}};
    if (f.count != 0) j["count"] = f.count;
    if (!f.type_name.empty()) j["type"] = f.type_name;
    if (f.kind == FieldKind::enumeration) {
      j["underlying"] = to_string(f.underlying);
      if (!f.enumerators.empty()) {
        json names = json::object();
        for (const auto& [value, name] : f.enumerators) names[name] = value;
        j["enumerators"] = names;
      }
    }
    if (f.kind == FieldKind::structure) j["fields"] = fields_to_json(f.fields);
    if (!f.info.empty()) j["info"] = info_to_json(f.info);
    out.push_back(std::move(j));
  }
  return out;
}

constexpr std::size_t kMaxDepth = 8;
constexpr std::size_t kMaxFields = 1024;

Result<void> fields_from_json(const json& in, std::uint32_t parent_size, const std::string& where, std::size_t depth,
                              std::vector<FieldSchema>& out) {
  auto bad = [&](const std::string& what) { return fail(Errc::invalid_argument, "schema " + where + ": " + what); };
  if (depth > kMaxDepth) return bad("structs nested deeper than " + std::to_string(kMaxDepth));
  if (!in.is_array()) return bad("'fields' is not an array");
  if (in.size() > kMaxFields) return bad("more than " + std::to_string(kMaxFields) + " fields");
  for (const json& j : in) {
    if (!j.is_object()) return bad("a field is not an object");
    FieldSchema f;
    if (!j.contains("name") || !j["name"].is_string()) return bad("a field has no name");
    f.name = j["name"].get<std::string>();
    const std::string at = where + "." + f.name;
    auto bad_field = [&](const std::string& what) {
      return fail(Errc::invalid_argument, "schema " + at + ": " + what);
    };
    if (!j.contains("kind") || !j["kind"].is_string() || !kind_from_string(j["kind"].get<std::string>(), f.kind)) {
      return bad_field("unknown or missing kind");
    }
    for (const char* key : {"offset", "size"}) {
      if (!j.contains(key) || !j[key].is_number_unsigned()) return bad_field(std::string("missing or negative ") + key);
    }
    f.offset = j["offset"].get<std::uint32_t>();
    f.size = j["size"].get<std::uint32_t>();
    if (j.contains("count")) {
      if (!j["count"].is_number_unsigned()) return bad_field("count is not a non-negative number");
      f.count = j["count"].get<std::uint32_t>();
    }
    if (j.contains("type")) {
      if (!j["type"].is_string()) return bad_field("type is not a string");
      f.type_name = j["type"].get<std::string>();
    }
    if (f.size == 0) return bad_field("size 0");
    const std::uint64_t extent = std::uint64_t{f.size} * std::max<std::uint32_t>(f.count, 1);
    if (std::uint64_t{f.offset} + extent > parent_size) {
      return bad_field("lies outside its struct (offset " + std::to_string(f.offset) + " + " + std::to_string(extent) +
                       " bytes > " + std::to_string(parent_size) + ")");
    }
    if (const std::uint32_t expected = scalar_size(f.kind); expected != 0 && expected != f.size) {
      return bad_field("kind " + std::string(to_string(f.kind)) + " needs size " + std::to_string(expected));
    }
    if (f.kind == FieldKind::enumeration) {
      if (!j.contains("underlying") || !j["underlying"].is_string() ||
          !kind_from_string(j["underlying"].get<std::string>(), f.underlying) || !is_integer(f.underlying) ||
          scalar_size(f.underlying) != f.size) {
        return bad_field("enum needs an integer 'underlying' kind of its size");
      }
      if (j.contains("enumerators")) {
        if (!j["enumerators"].is_object()) return bad_field("enumerators is not an object");
        for (const auto& [name, value] : j["enumerators"].items()) {
          if (!value.is_number_integer()) return bad_field("enumerator " + name + " is not an integer");
          f.enumerators.emplace_back(value.get<std::int64_t>(), name);
        }
      }
    }
    if (j.contains("info")) {
      if (auto wrong = info_from_json(j["info"], f.kind, f.info)) return bad_field(*wrong);
    }
    if (f.kind == FieldKind::structure) {
      if (!j.contains("fields")) return bad_field("struct without fields");
      if (auto nested = fields_from_json(j["fields"], f.size, at, depth + 1, f.fields); !nested) return nested;
    }
    out.push_back(std::move(f));
  }
  return {};
}

}  // namespace

std::string_view to_string(FieldKind kind) noexcept {
  for (const auto& [k, n] : kKindNames) {
    if (k == kind) return n;
  }
  return "unknown";
}

std::uint64_t compute_fingerprint(const Schema& schema) {
  Fnv1a h;
  h.text(schema.name);
  h.number(schema.size);
  hash_fields(h, schema.fields);
  return h.hash;
}

std::string fingerprint_hex(std::uint64_t fingerprint) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016" PRIx64, fingerprint);
  return buffer;
}

std::string Schema::to_json() const {
  const json j = {{"name", name},
                  {"size", size},
                  {"alignment", alignment},
                  {"fingerprint", fingerprint_hex(fingerprint)},
                  {"fields", fields_to_json(fields)}};
  return dump(j);
}

Result<Schema> Schema::from_json(std::string_view text) {
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::invalid_argument, "schema is not valid JSON");
  if (!j.is_object()) return fail(Errc::invalid_argument, "schema is not a JSON object");
  Schema schema;
  if (!j.contains("name") || !j["name"].is_string()) return fail(Errc::invalid_argument, "schema has no name");
  schema.name = j["name"].get<std::string>();
  if (!j.contains("size") || !j["size"].is_number_unsigned() || j["size"].get<std::uint64_t>() == 0 ||
      j["size"].get<std::uint64_t>() > (1ULL << 30)) {
    return fail(Errc::invalid_argument, "schema " + schema.name + ": size missing or outside 1 B–1 GiB");
  }
  schema.size = j["size"].get<std::uint32_t>();
  if (j.contains("alignment") && j["alignment"].is_number_unsigned())
    schema.alignment = j["alignment"].get<std::uint32_t>();
  if (!j.contains("fields")) return fail(Errc::invalid_argument, "schema " + schema.name + ": no fields");
  if (auto fields = fields_from_json(j["fields"], schema.size, schema.name, 0, schema.fields); !fields) {
    return tl::make_unexpected(fields.error());
  }
  schema.fingerprint = compute_fingerprint(schema);
  if (j.contains("fingerprint")) {
    if (!j["fingerprint"].is_string() || j["fingerprint"].get<std::string>() != fingerprint_hex(schema.fingerprint)) {
      return fail(Errc::invalid_argument, "schema " + schema.name + ": its fingerprint does not match its fields "
                                          "(corrupt, or written by an incompatible version)");
    }
  }
  return schema;
}

}  // namespace statebus
