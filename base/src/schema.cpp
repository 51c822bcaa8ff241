#include "statebus/base/schema.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

namespace statebus {
namespace {

using nlohmann::json;

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

// Size in bytes a scalar kind must have (0: any, checked elsewhere).
std::uint32_t scalar_size(FieldKind kind) {
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

bool is_integer(FieldKind kind) {
  return kind >= FieldKind::int8 && kind <= FieldKind::uint64;
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
    auto bad_field = [&](const std::string& what) { return fail(Errc::invalid_argument, "schema " + at + ": " + what); };
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
    if (f.kind == FieldKind::structure) {
      if (!j.contains("fields")) return bad_field("struct without fields");
      if (auto nested = fields_from_json(j["fields"], f.size, at, depth + 1, f.fields); !nested) return nested;
    }
    out.push_back(std::move(f));
  }
  return {};
}

// ---- rendering ------------------------------------------------------------

template <class T>
T load(const unsigned char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

std::int64_t load_signed(FieldKind kind, const unsigned char* p) {
  switch (kind) {
    case FieldKind::int8: return load<std::int8_t>(p);
    case FieldKind::int16: return load<std::int16_t>(p);
    case FieldKind::int32: return load<std::int32_t>(p);
    default: return load<std::int64_t>(p);
  }
}

std::uint64_t load_unsigned(FieldKind kind, const unsigned char* p) {
  switch (kind) {
    case FieldKind::uint8: return load<std::uint8_t>(p);
    case FieldKind::uint16: return load<std::uint16_t>(p);
    case FieldKind::uint32: return load<std::uint32_t>(p);
    default: return load<std::uint64_t>(p);
  }
}

bool is_signed(FieldKind kind) { return kind >= FieldKind::int8 && kind <= FieldKind::int64; }

std::string text_of(const unsigned char* p, std::uint32_t size) {
  const auto* end = static_cast<const unsigned char*>(std::memchr(p, 0, size));
  return std::string(reinterpret_cast<const char*>(p), end != nullptr ? static_cast<std::size_t>(end - p) : size);
}

json value_to_json(const FieldSchema& f, const unsigned char* p);

json struct_to_json(const std::vector<FieldSchema>& fields, const unsigned char* base) {
  json out = json::object();
  for (const FieldSchema& f : fields) {
    if (f.count == 0 || f.kind == FieldKind::text) {
      out[f.name] = value_to_json(f, base + f.offset);
    } else {
      json array = json::array();
      for (std::uint32_t i = 0; i < f.count; ++i) array.push_back(value_to_json(f, base + f.offset + i * f.size));
      out[f.name] = std::move(array);
    }
  }
  return out;
}

json value_to_json(const FieldSchema& f, const unsigned char* p) {
  switch (f.kind) {
    case FieldKind::boolean: return load<std::uint8_t>(p) != 0;
    case FieldKind::float32: {
      const double v = static_cast<double>(load<float>(p));
      return std::isfinite(v) ? json(v) : json(nullptr);
    }
    case FieldKind::float64: {
      const double v = load<double>(p);
      return std::isfinite(v) ? json(v) : json(nullptr);
    }
    case FieldKind::text: return json(text_of(p, f.size));  // invalid UTF-8 is replaced at dump()
    case FieldKind::enumeration: {
      const std::int64_t v = is_signed(f.underlying) ? load_signed(f.underlying, p)
                                                     : static_cast<std::int64_t>(load_unsigned(f.underlying, p));
      for (const auto& [value, name] : f.enumerators) {
        if (value == v) return name;
      }
      return v;
    }
    case FieldKind::structure: return struct_to_json(f.fields, p);
    default: return is_signed(f.kind) ? json(load_signed(f.kind, p)) : json(load_unsigned(f.kind, p));
  }
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void text_value(std::string& out, const FieldSchema& f, const unsigned char* p);

void text_struct(std::string& out, const std::vector<FieldSchema>& fields, const unsigned char* base) {
  out += '{';
  bool first = true;
  for (const FieldSchema& f : fields) {
    if (!first) out += ", ";
    first = false;
    out += f.name;
    out += ": ";
    if (f.count == 0 || f.kind == FieldKind::text) {
      text_value(out, f, base + f.offset);
    } else {
      out += '[';
      for (std::uint32_t i = 0; i < f.count; ++i) {
        if (i != 0) out += ", ";
        text_value(out, f, base + f.offset + i * f.size);
      }
      out += ']';
    }
  }
  out += '}';
}

void text_value(std::string& out, const FieldSchema& f, const unsigned char* p) {
  switch (f.kind) {
    case FieldKind::structure: text_struct(out, f.fields, p); return;
    case FieldKind::text: out += dump(json(text_of(p, f.size))); return;
    case FieldKind::float32:
    case FieldKind::float64: {
      const double v = f.kind == FieldKind::float32 ? static_cast<double>(load<float>(p)) : load<double>(p);
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.9g", v);
      out += buffer;
      return;
    }
    default: {
      const json j = value_to_json(f, p);
      out += j.is_string() ? j.get<std::string>() : dump(j);
    }
  }
}

// ---- assigning from text --------------------------------------------------

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string field_names(const std::vector<FieldSchema>& fields, const std::string& prefix) {
  std::string out;
  for (const FieldSchema& f : fields) out += (out.empty() ? "" : ", ") + prefix + f.name;
  return out;
}

template <class T>
void store(unsigned char* p, T value) {
  std::memcpy(p, &value, sizeof(T));
}

// Stores the low `size` bytes of an integer in two's complement.
void store_integer(unsigned char* p, std::uint32_t size, std::uint64_t bits) {
  switch (size) {
    case 1: store(p, static_cast<std::uint8_t>(bits)); return;
    case 2: store(p, static_cast<std::uint16_t>(bits)); return;
    case 4: store(p, static_cast<std::uint32_t>(bits)); return;
    default: store(p, bits); return;
  }
}

// The values of an integer kind: -min_magnitude … max.
struct Limits {
  std::uint64_t min_magnitude;
  std::uint64_t max;
};

Limits limits_of(FieldKind kind) {
  const std::uint32_t bits = scalar_size(kind) * 8;
  if (is_signed(kind)) return {1ULL << (bits - 1), (1ULL << (bits - 1)) - 1};
  return {0, bits == 64 ? ~0ULL : (1ULL << bits) - 1};
}

std::string range_text(FieldKind kind) {
  const Limits limits = limits_of(kind);
  return std::string(to_string(kind)) + ": " + (limits.min_magnitude != 0 ? "-" : "") +
         std::to_string(limits.min_magnitude) + "…" + std::to_string(limits.max);
}

enum class Parsed { ok, invalid, out_of_range };

// Parses a whole integer, decimal or 0x hex, that fits `kind`; `bits` gets it in two's complement.
Parsed parse_integer(std::string_view text, FieldKind kind, std::uint64_t& bits) {
  const bool negative = !text.empty() && text[0] == '-';
  if (negative || (!text.empty() && text[0] == '+')) text.remove_prefix(1);
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint64_t magnitude = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, magnitude, base);
  if (text.empty() || stop != end) return Parsed::invalid;
  const Limits limits = limits_of(kind);
  if (error != std::errc() || magnitude > (negative ? limits.min_magnitude : limits.max)) return Parsed::out_of_range;
  bits = negative ? 0 - magnitude : magnitude;
  return Parsed::ok;
}

// Parses a whole number as strtod does (decimal, exponent, inf, nan) whose magnitude fits float `kind`.
Parsed parse_float(std::string_view text, FieldKind kind, double& value) {
  const std::string copy(text);  // strtod needs the NUL
  if (copy.empty() || std::isspace(static_cast<unsigned char>(copy[0])) != 0) return Parsed::invalid;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return Parsed::invalid;
  const bool overflow = (errno == ERANGE && std::isinf(value)) ||
                        (kind == FieldKind::float32 && std::isfinite(value) &&
                         std::fabs(value) > static_cast<double>(std::numeric_limits<float>::max()));
  return overflow ? Parsed::out_of_range : Parsed::ok;
}

// Encodes `text` as one value of `f` into `out` (f.size bytes, zeroed); `where` names the field in errors.
Result<void> encode(const FieldSchema& f, const std::string& where, std::string_view text, std::string& out) {
  auto invalid = [&](const std::string& accepted) {
    return fail(Errc::invalid_argument, "value " + in_quotes(text) + " is not valid for " + in_quotes(where) + " (" +
                                            accepted + ")");
  };
  auto out_of_range = [&](const std::string& accepted) {
    return fail(Errc::invalid_argument, "value " + std::string(text) + " is out of range for " + in_quotes(where) +
                                            " (" + accepted + ")");
  };
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  switch (f.kind) {
    case FieldKind::boolean:
      if (text != "true" && text != "false" && text != "1" && text != "0") return invalid("bool: true, false, 1 or 0");
      store<std::uint8_t>(p, text == "true" || text == "1" ? 1 : 0);
      return {};
    case FieldKind::float32:
    case FieldKind::float64: {
      const std::string accepted = f.kind == FieldKind::float32
                                       ? "float32: a number up to ±3.40282347e+38, inf or nan"
                                       : "float64: a number up to ±1.79769313e+308, inf or nan";
      double value = 0;
      const Parsed parsed = parse_float(text, f.kind, value);
      if (parsed == Parsed::invalid) return invalid(accepted);
      if (parsed == Parsed::out_of_range) return out_of_range(accepted);
      if (f.kind == FieldKind::float32) {
        store(p, static_cast<float>(value));
      } else {
        store(p, value);
      }
      return {};
    }
    case FieldKind::text:
      if (text.size() >= f.size) {
        return fail(Errc::invalid_argument, "text for " + in_quotes(where) + " is too long: " +
                                                std::to_string(text.size()) + " bytes, it holds at most " +
                                                std::to_string(f.size - 1));
      }
      std::copy(text.begin(), text.end(), out.begin());  // the rest stays zero
      return {};
    case FieldKind::enumeration:
      if (const auto& names = f.enumerators; !names.empty()) {
        const auto named = std::find_if(names.begin(), names.end(), [&](const auto& e) { return e.second == text; });
        std::uint64_t bits = 0;
        if (named != names.end()) {
          bits = static_cast<std::uint64_t>(named->first);
        } else if (parse_integer(text, f.underlying, bits) != Parsed::ok ||
                   std::none_of(names.begin(), names.end(),
                                [&](const auto& e) { return e.first == static_cast<std::int64_t>(bits); })) {
          std::string accepted = "enum " + f.type_name + ":";
          const char* separator = " ";
          for (const auto& [value, name] : names) {
            accepted += separator + name + " = " + std::to_string(value);
            separator = ", ";
          }
          return invalid(accepted);
        }
        store_integer(p, f.size, bits);
        return {};
      }
      [[fallthrough]];  // an enum without names takes any integer of its kind
    default: {
      const FieldKind kind = f.kind == FieldKind::enumeration ? f.underlying : f.kind;
      std::uint64_t bits = 0;
      const Parsed parsed = parse_integer(text, kind, bits);
      if (parsed == Parsed::invalid) return invalid(range_text(kind) + ", in decimal or 0x hex");
      if (parsed == Parsed::out_of_range) return out_of_range(range_text(kind));
      store_integer(p, f.size, bits);
      return {};
    }
  }
}

// One JSON value into the bytes of field `f` (one element), through the same
// checks as a value typed on a command line.
Result<void> decode_value(const FieldSchema& f, const std::string& where, const json& value, unsigned char* p);

Result<void> decode_struct(const std::vector<FieldSchema>& fields, const std::string& where, const json& in,
                           unsigned char* base) {
  if (!in.is_object()) return fail(Errc::invalid_argument, in_quotes(where) + " is not a JSON object");
  // A key that names no field is a typo or another type's value: refuse it
  // rather than store a value the sender did not mean.
  for (const auto& item : in.items()) {
    const bool known = std::any_of(fields.begin(), fields.end(), [&](const FieldSchema& f) { return f.name == item.key(); });
    if (!known) {
      const std::string at = where.empty() ? item.key() : where + "." + item.key();
      return fail(Errc::invalid_argument,
                  "unknown field " + in_quotes(at) + "; the fields are: " + field_names(fields, where.empty() ? "" : where + "."));
    }
  }
  for (const FieldSchema& f : fields) {
    const std::string at = where.empty() ? f.name : where + "." + f.name;
    const auto found = in.find(f.name);
    if (found == in.end()) return fail(Errc::invalid_argument, "field " + in_quotes(at) + " is missing");
    if (f.count == 0 || f.kind == FieldKind::text) {
      if (auto done = decode_value(f, at, *found, base + f.offset); !done) return done;
      continue;
    }
    if (!found->is_array() || found->size() != f.count) {
      return fail(Errc::invalid_argument, in_quotes(at) + " must be an array of " + std::to_string(f.count));
    }
    for (std::uint32_t i = 0; i < f.count; ++i) {
      const std::string element = at + "[" + std::to_string(i) + "]";
      if (auto done = decode_value(f, element, (*found)[i], base + f.offset + i * f.size); !done) return done;
    }
  }
  return {};
}

Result<void> decode_value(const FieldSchema& f, const std::string& where, const json& value, unsigned char* p) {
  if (f.kind == FieldKind::structure) return decode_struct(f.fields, where, value, p);
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_boolean()) {
    text = value.get<bool>() ? "true" : "false";
  } else if (value.is_null() && (f.kind == FieldKind::float32 || f.kind == FieldKind::float64)) {
    text = "nan";  // render_json writes non-finite numbers as null
  } else if (value.is_number()) {
    text = value.dump();
  } else {
    return fail(Errc::invalid_argument, in_quotes(where) + " has a JSON value of the wrong kind for " +
                                            std::string(to_string(f.kind)));
  }
  std::string bytes(f.size, '\0');
  if (auto encoded = encode(f, where, text, bytes); !encoded) return encoded;
  std::memcpy(p, bytes.data(), bytes.size());
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
  if (j.contains("alignment") && j["alignment"].is_number_unsigned()) schema.alignment = j["alignment"].get<std::uint32_t>();
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

std::string Schema::render_text(const void* data) const {
  std::string out;
  text_struct(out, fields, static_cast<const unsigned char*>(data));
  return out;
}

std::string Schema::render_json(const void* data) const {
  return dump(struct_to_json(fields, static_cast<const unsigned char*>(data)));
}

Result<void> Schema::parse_json(std::string_view text, void* data) const {
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::invalid_argument, "a " + name + " value is not valid JSON");
  std::string bytes(size, '\0');
  auto* base = reinterpret_cast<unsigned char*>(bytes.data());
  if (auto done = decode_struct(fields, "", j, base); !done) {
    return fail(Errc::invalid_argument, name + ": " + done.error().message());
  }
  std::memcpy(data, bytes.data(), bytes.size());
  return {};
}

Result<void> Schema::assign(void* data, std::string_view path, std::string_view text) const {
  auto bad = [](const std::string& message) { return fail(Errc::invalid_argument, message); };
  const std::vector<FieldSchema>* scope = &fields;
  std::string scope_name = name;
  const FieldSchema* field = nullptr;
  std::uint32_t offset = 0;
  for (std::size_t start = 0;;) {  // one path segment `name` or `name[i]` per turn
    const std::size_t dot = path.find('.', start);
    const std::string_view segment = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    const std::size_t bracket = segment.find('[');
    const std::string_view field_name = segment.substr(0, bracket);
    const auto found =
        std::find_if(scope->begin(), scope->end(), [&](const FieldSchema& f) { return f.name == field_name; });
    if (found == scope->end()) {
      return bad("no field " + in_quotes(field_name) + " in " + scope_name +
                 "; its fields are: " + field_names(*scope, ""));
    }
    field = &*found;
    offset += field->offset;
    const std::string at(path.substr(0, start + field_name.size()));
    const bool is_array = field->count != 0 && field->kind != FieldKind::text;
    const std::string valid = "0…" + std::to_string(field->count - 1);
    if (bracket != std::string_view::npos) {
      if (!is_array) return bad(in_quotes(at) + " is not an array; name it without an index");
      const std::string_view digits = segment.substr(bracket + 1, segment.size() - bracket - 2);
      std::uint32_t index = 0;
      const auto [stop, error] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (segment.back() != ']' || digits.empty() || stop != digits.data() + digits.size() || error != std::errc()) {
        return bad("bad index in " + in_quotes(segment) + "; give " + at + "[i] with i in " + valid);
      }
      if (index >= field->count) {
        return bad("index " + std::to_string(index) + " is out of range for " + in_quotes(at) + " (" + valid + ")");
      }
      offset += index * field->size;
    } else if (is_array) {
      return bad(in_quotes(at) + " is an array of " + std::to_string(field->count) + "; give an index: " + at +
                 "[i] with i in " + valid);
    }
    if (dot == std::string_view::npos) break;
    const std::string so_far(path.substr(0, dot));
    if (field->kind != FieldKind::structure) {
      return bad(in_quotes(so_far) + " is " + std::string(to_string(field->kind)) + ", not a struct; it has no field " +
                 in_quotes(path.substr(dot + 1)));
    }
    scope = &field->fields;
    scope_name = so_far + " (" + field->type_name + ")";
    start = dot + 1;
  }
  const std::string where(path);
  if (field->kind == FieldKind::structure) {
    return bad(in_quotes(where) + " is a struct (" + field->type_name + "); name one of its fields: " +
               field_names(field->fields, where + "."));
  }
  std::string bytes(field->size, '\0');
  if (auto encoded = encode(*field, where, text, bytes); !encoded) return encoded;
  std::memcpy(static_cast<unsigned char*>(data) + offset, bytes.data(), bytes.size());
  return {};
}

}  // namespace statebus
