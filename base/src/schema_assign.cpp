// A value from text and from JSON, by its schema: Schema::assign and parse_json.
#include "statebus/base/schema.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "field_bytes.hpp"

namespace statebus {
namespace {

using nlohmann::json;
using namespace field_bytes;

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

// ---- declared ranges (FieldInfo) -------------------------------------------

std::string number_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

// "5…30", "≥ 0", "≤ 100".
std::string declared_range(const FieldInfo& info) {
  if (info.min && info.max) return number_text(*info.min) + "…" + number_text(*info.max);
  if (info.min) return "≥ " + number_text(*info.min);
  return "≤ " + number_text(*info.max);
}

bool has_range(const FieldInfo& info) { return info.min || info.max; }

bool in_declared_range(const FieldInfo& info, double value) {
  if (!has_range(info)) return true;
  if (std::isnan(value)) return false;
  return (!info.min || value >= *info.min) && (!info.max || value <= *info.max);
}

// One element of a number field as a double (integers beyond 2^53 round, as
// the declared bounds do).
double number_at(FieldKind kind, const unsigned char* p) {
  switch (kind) {
    case FieldKind::float32: return static_cast<double>(load<float>(p));
    case FieldKind::float64: return load<double>(p);
    default: return is_signed(kind) ? static_cast<double>(load_signed(kind, p))
                                    : static_cast<double>(load_unsigned(kind, p));
  }
}

Result<void> check_fields(const std::vector<FieldSchema>& fields, const std::string& where, const unsigned char* base,
                          const std::string& type) {
  for (const FieldSchema& f : fields) {
    const std::string at = where.empty() ? f.name : where + "." + f.name;
    const std::uint32_t n = std::max<std::uint32_t>(f.count, 1);
    for (std::uint32_t i = 0; i < n; ++i) {
      const unsigned char* p = base + f.offset + i * f.size;
      const std::string element = f.count == 0 ? at : at + "[" + std::to_string(i) + "]";
      if (f.kind == FieldKind::structure) {
        if (auto nested = check_fields(f.fields, element, p, type); !nested) return nested;
      } else if (has_range(f.info)) {
        const double value = number_at(f.kind, p);
        if (!in_declared_range(f.info, value)) {
          return fail(Errc::invalid_argument, "'" + element + "' is " + number_text(value) + ", out of range (" +
                                                  declared_range(f.info) + ", as " + type + " declares)");
        }
      }
      if (f.kind == FieldKind::text) break;  // one text, not `count` of them
    }
  }
  return {};
}

bool fields_have_ranges(const std::vector<FieldSchema>& fields) {
  return std::any_of(fields.begin(), fields.end(),
                     [](const FieldSchema& f) { return has_range(f.info) || fields_have_ranges(f.fields); });
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
      if (!in_declared_range(f.info, value)) return out_of_range("declared range " + declared_range(f.info));
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
      const double value = is_signed(kind) ? static_cast<double>(static_cast<std::int64_t>(bits))
                                           : static_cast<double>(bits);
      if (!in_declared_range(f.info, value)) return out_of_range("declared range " + declared_range(f.info));
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
    const bool known =
        std::any_of(fields.begin(), fields.end(), [&](const FieldSchema& f) { return f.name == item.key(); });
    if (!known) {
      const std::string at = where.empty() ? item.key() : where + "." + item.key();
      return fail(Errc::invalid_argument, "unknown field " + in_quotes(at) + "; the fields are: " +
                                              field_names(fields, where.empty() ? "" : where + "."));
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
  // The field's fixed bytes, not a C string.
  std::memcpy(p, bytes.data(), bytes.size());  // NOLINT(bugprone-not-null-terminated-result)
  return {};
}

}  // namespace

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

Result<void> Schema::check_ranges(const void* data) const {
  return check_fields(fields, "", static_cast<const unsigned char*>(data), name);
}

bool Schema::has_ranges() const noexcept { return fields_have_ranges(fields); }

namespace {

// The text assign() takes for a JSON scalar, as a user would type it.
std::optional<std::string> scalar_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number()) return value.dump();
  if (value.is_null()) return "nan";  // render_json writes non-finite floats as null
  return std::nullopt;
}

Result<void> assign_all(const Schema& schema, const json& object, const std::string& path, void* value) {
  for (const auto& item : object.items()) {
    const std::string at = path.empty() ? item.key() : path + "." + item.key();
    const json& v = item.value();
    if (v.is_object()) {
      if (auto done = assign_all(schema, v, at, value); !done) return done;
    } else if (v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string element = at + "[" + std::to_string(i) + "]";
        const auto text = scalar_text(v[i]);
        if (!text) return fail(Errc::invalid_argument, in_quotes(element) + " is not a number, string or boolean");
        if (auto done = schema.assign(value, element, *text); !done) return done;
      }
    } else {
      if (auto done = schema.assign(value, at, *scalar_text(v)); !done) return done;
    }
  }
  return {};
}

}  // namespace

Result<void> Schema::apply_json(std::string_view text, void* data) const {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) j = json(std::string(text));  // a text field's bare word is not JSON
  std::string copy(size, '\0');
  std::memcpy(copy.data(), data, size);
  if (j.is_object()) {
    if (j.empty()) return fail(Errc::invalid_argument, "every field is missing: the write names none");
    if (auto done = assign_all(*this, j, "", copy.data()); !done) return done;
  } else {
    const bool one_field = fields.size() == 1 && fields[0].kind != FieldKind::structure &&
                           (fields[0].count == 0 || fields[0].kind == FieldKind::text);
    if (!one_field) {
      return fail(Errc::invalid_argument, "a bare value needs a type of one field; " + name +
                                              " has several: send a JSON object such as {\"" + fields[0].name +
                                              "\": …}");
    }
    const auto value = scalar_text(j);
    if (!value) return fail(Errc::invalid_argument, "the value is not a number, string or boolean");
    if (auto done = assign(copy.data(), fields[0].name, *value); !done) return done;
  }
  std::memcpy(data, copy.data(), size);
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
