// A value as text and as JSON, by its schema.
#include "statebus/base/schema.hpp"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "field_bytes.hpp"
#include "statebus/internal/schema_json.hpp"

namespace statebus {
namespace {

using nlohmann::json;
using namespace field_bytes;

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

}  // namespace

std::string Schema::render_text(const void* data) const {
  std::string out;
  text_struct(out, fields, static_cast<const unsigned char*>(data));
  return out;
}

std::string Schema::render_json(const void* data) const { return dump(detail::value_as_json(*this, data)); }

nlohmann::json detail::value_as_json(const Schema& schema, const void* data) {
  return struct_to_json(schema.fields, static_cast<const unsigned char*>(data));
}

}  // namespace statebus
