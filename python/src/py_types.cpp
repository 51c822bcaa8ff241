// statebus.Message (a channel's or cell's type, laid out as a C struct) and
// values between schemas and Python objects.

#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "statebus/internal/schema_json.hpp"

namespace statebus::python {
namespace {

// json.dumps, looked up once and kept for the process.
const py::object& json_dumps() {
  static auto* dumps = new py::object(py::module_::import("json").attr("dumps"));
  return *dumps;
}

struct Kind {
  FieldKind kind;
  std::uint32_t size;
};

std::optional<Kind> scalar_kind(std::string_view name) {
  static const std::pair<std::string_view, Kind> kinds[] = {
      {"bool", {FieldKind::boolean, 1}},    {"int8", {FieldKind::int8, 1}},       {"int16", {FieldKind::int16, 2}},
      {"int32", {FieldKind::int32, 4}},     {"int64", {FieldKind::int64, 8}},     {"uint8", {FieldKind::uint8, 1}},
      {"uint16", {FieldKind::uint16, 2}},   {"uint32", {FieldKind::uint32, 4}},   {"uint64", {FieldKind::uint64, 8}},
      {"float32", {FieldKind::float32, 4}}, {"float64", {FieldKind::float64, 8}},
  };
  for (const auto& [known, kind] : kinds)
    if (known == name) return kind;
  return std::nullopt;
}

[[noreturn]] void bad_field(const std::string& type, const std::string& field, const std::string& why) {
  raise(Errc::invalid_argument, "Message " + type + ", field '" + field + "': " + why +
                                    " (kinds: bool, int8 … int64, uint8 … uint64, float32, float64, text[N], "
                                    "KIND[N] for an array of N, or a Message for a nested struct)");
}

constexpr std::uint64_t kMaxMessageSize = std::uint64_t{64} << 20;  // beyond any pool (4 MiB) many times over

std::uint32_t align_up(std::uint32_t offset, std::uint32_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

// "float64[4]" → ("float64", 4); "text[16]" → ("text", 16); "int32" → ("int32", 0).
std::pair<std::string, std::uint32_t> split_count(const std::string& type, const std::string& field,
                                                  const std::string& spec) {
  const auto open = spec.find('[');
  if (open == std::string::npos) return {spec, 0};
  if (spec.back() != ']') bad_field(type, field, "'" + spec + "' has no closing ']'");
  const std::string digits = spec.substr(open + 1, spec.size() - open - 2);
  if (digits.empty() || digits.size() > 6 || !std::all_of(digits.begin(), digits.end(), ::isdigit) ||
      std::stoul(digits) == 0)
    bad_field(type, field, "'" + spec + "': the count must be 1 to 999999");
  return {spec.substr(0, open), static_cast<std::uint32_t>(std::stoul(digits))};
}

Message make_message(const std::string& name, const py::iterable& fields) {
  if (name.empty()) raise(Errc::invalid_argument, "a Message needs a name, e.g. \"home/Reading\"");
  Schema schema;
  schema.name = name;
  std::uint32_t offset = 0;
  for (py::handle entry : fields) {
    auto pair = py::reinterpret_borrow<py::tuple>(py::tuple(py::reinterpret_borrow<py::object>(entry)));
    if (pair.size() != 2 || !py::isinstance<py::str>(pair[0])) {
      raise(Errc::invalid_argument,
            "Message " + name + ": each field is a (name, kind) pair, e.g. (\"celsius\", \"float64\")");
    }
    FieldSchema field;
    field.name = pair[0].cast<std::string>();
    if (field.name.empty()) raise(Errc::invalid_argument, "Message " + name + ": a field has an empty name");
    for (const auto& other : schema.fields)
      if (other.name == field.name) bad_field(name, field.name, "named twice");
    std::uint32_t alignment = 1;
    if (py::isinstance<Message>(pair[1])) {
      const Schema& nested = pair[1].cast<const Message&>().schema;
      field.kind = FieldKind::structure;
      field.size = nested.size;
      field.type_name = nested.name;
      field.fields = nested.fields;
      alignment = nested.alignment;
    } else if (py::isinstance<py::str>(pair[1])) {
      auto [kind_name, count] = split_count(name, field.name, pair[1].cast<std::string>());
      if (kind_name == "text") {
        if (count == 0) bad_field(name, field.name, "text needs its size in bytes, e.g. text[16]");
        field.kind = FieldKind::text;
        field.size = count;
      } else if (auto kind = scalar_kind(kind_name)) {
        field.kind = kind->kind;
        field.size = kind->size;
        field.count = count;
        alignment = kind->size;
      } else {
        bad_field(name, field.name, "unknown kind '" + kind_name + "'");
      }
    } else {
      bad_field(name, field.name, "the kind must be a string or a Message");
    }
    offset = align_up(offset, alignment);
    field.offset = offset;
    // In 64 bits, and bounded: no payload or cell is near this size.
    const std::uint64_t end =
        std::uint64_t{offset} + std::uint64_t{field.size} * std::max<std::uint32_t>(field.count, 1);
    if (end > kMaxMessageSize) {
      raise(Errc::invalid_argument, "Message " + name + " would be larger than " +
                                        std::to_string(kMaxMessageSize >> 20) + " MiB at field '" + field.name +
                                        "': no channel or cell carries that much");
    }
    offset = static_cast<std::uint32_t>(end);
    schema.alignment = std::max(schema.alignment, alignment);
    schema.fields.push_back(std::move(field));
  }
  if (schema.fields.empty()) raise(Errc::invalid_argument, "Message " + name + " needs at least one field");
  schema.size = align_up(offset, schema.alignment);
  schema.fingerprint = compute_fingerprint(schema);
  return Message{std::move(schema)};
}

// A JSON document as Python objects (null → None, objects → dicts).
py::object json_to_python(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(value.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(value.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(value.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float: return py::float_(value.get<double>());
    case nlohmann::json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      // A text field may hold invalid UTF-8: replaced, as render_json's dump() does.
      return py::reinterpret_steal<py::object>(
          PyUnicode_DecodeUTF8(text.data(), static_cast<py::ssize_t>(text.size()), "replace"));
    }
    case nlohmann::json::value_t::array: {
      py::list out(value.size());
      std::size_t i = 0;
      for (const auto& element : value) out[i++] = json_to_python(element);
      return std::move(out);
    }
    case nlohmann::json::value_t::object: {
      py::dict out;
      for (const auto& [key, element] : value.items()) out[py::str(key)] = json_to_python(element);
      return std::move(out);
    }
    default: return py::none();  // binary and discarded: never in a rendered value
  }
}

}  // namespace

namespace {

// The rendered document has null for a non-finite float (JSON has no such
// number): Python gets the float itself (nan, inf, -inf) from the bytes.
py::object float_at(FieldKind kind, const unsigned char* p) {
  if (kind == FieldKind::float32) {
    float value = 0;
    std::memcpy(&value, p, sizeof value);
    return py::float_(static_cast<double>(value));
  }
  double value = 0;
  std::memcpy(&value, p, sizeof value);
  return py::float_(value);
}

bool has_null(const nlohmann::json& value) {
  if (value.is_null()) return true;
  return value.is_structured() && std::any_of(value.begin(), value.end(), [](const auto& e) { return has_null(e); });
}

void restore_non_finite(const std::vector<FieldSchema>& fields, const unsigned char* base, py::dict& out) {
  for (const FieldSchema& field : fields) {
    const unsigned char* p = base + field.offset;
    const bool is_float = field.kind == FieldKind::float32 || field.kind == FieldKind::float64;
    if (field.kind == FieldKind::structure) {
      if (field.count == 0) {
        auto nested = out[py::str(field.name)].cast<py::dict>();
        restore_non_finite(field.fields, p, nested);
      } else {
        auto list = out[py::str(field.name)].cast<py::list>();
        for (std::uint32_t i = 0; i < field.count; ++i) {
          auto nested = list[i].cast<py::dict>();
          restore_non_finite(field.fields, p + std::size_t{i} * field.size, nested);
        }
      }
    } else if (is_float && field.count == 0) {
      if (out[py::str(field.name)].is_none()) out[py::str(field.name)] = float_at(field.kind, p);
    } else if (is_float) {
      auto list = out[py::str(field.name)].cast<py::list>();
      for (std::uint32_t i = 0; i < field.count; ++i) {
        if (list[i].is_none()) list[i] = float_at(field.kind, p + std::size_t{i} * field.size);
      }
    }
  }
}

}  // namespace

py::object value_to_python(const Schema& schema, const void* data) {
  const nlohmann::json document = detail::value_as_json(schema, data);
  py::object value = json_to_python(document);
  if (has_null(document)) {  // rare: only a non-finite float renders as null
    auto dict = value.cast<py::dict>();
    restore_non_finite(schema.fields, static_cast<const unsigned char*>(data), dict);
  }
  return value;
}

void value_from_python(const Schema& schema, py::handle value, void* data) {
  if (value.is_none()) return;
  unwrap(schema.apply_json(value_json(schema, value), data));
}

namespace {

// `value` with each non-finite float as the text Schema::apply_json reads
// for it ("nan", "inf", "-inf"): JSON has no such numbers.
py::object with_finite_numbers(py::handle value) {
  if (PyFloat_Check(value.ptr())) {
    const double number = PyFloat_AS_DOUBLE(value.ptr());
    if (std::isfinite(number)) return py::reinterpret_borrow<py::object>(value);
    return py::str(std::isnan(number) ? "nan" : number > 0 ? "inf" : "-inf");
  }
  if (PyDict_Check(value.ptr())) {
    py::dict out;
    for (auto [key, element] : py::reinterpret_borrow<py::dict>(value)) out[key] = with_finite_numbers(element);
    return std::move(out);
  }
  if (PyList_Check(value.ptr()) || PyTuple_Check(value.ptr())) {
    py::list out;
    for (py::handle element : value) out.append(with_finite_numbers(element));
    return std::move(out);
  }
  return py::reinterpret_borrow<py::object>(value);
}

}  // namespace

std::string value_json(const Schema& schema, py::handle value) {
  try {
    return json_dumps()(with_finite_numbers(value)).cast<std::string>();
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError) && !e.matches(PyExc_ValueError)) throw;
    raise(Errc::invalid_argument, schema.name + ": the value is not plain data (" + std::string(e.what()) +
                                      "): give a dict of numbers, strings, bools, lists and dicts");
  }
}

py::dict header_to_python(const SampleHeader& header) {
  py::dict d;
  d["sequence"] = header.sequence;
  d["publisher_pid"] = header.publisher_pid;
  d["publisher_port"] = header.publisher_port;
  d["real_ns"] = header.real_time_ns;
  d["virtual_ns"] = header.virtual_time_ns;
  d["fingerprint"] = fingerprint_hex(header.fingerprint);
  d["size"] = header.payload_size;
  return d;
}

void bind_types(py::module_& m) {
  py::class_<Message>(m, "Message", R"(A channel's or cell's type: a C struct's layout with its schema.

Message("home/Reading", [("celsius", "float64"), ("room", "text[16]")]) lays the
fields out as the C compiler does (natural alignment), so its fingerprint is
the one STATEBUS_MESSAGE gives the same struct in C++.)")
      .def(py::init(&make_message), py::arg("name"), py::arg("fields"))
      .def_static(
          "from_json", [](const std::string& text) { return Message{unwrap(Schema::from_json(text))}; },
          py::arg("schema_json"), "A Message from a schema as JSON (as `statebus ls` and recordings carry it).")
      .def_property_readonly("name", [](const Message& self) { return self.schema.name; })
      .def_property_readonly("size", [](const Message& self) { return self.schema.size; })
      .def_property_readonly("fingerprint",
                             [](const Message& self) { return fingerprint_hex(self.schema.fingerprint); })
      .def_property_readonly("fields",
                             [](const Message& self) {
                               std::vector<std::string> names;
                               for (const auto& field : self.schema.fields) names.push_back(field.name);
                               return names;
                             })
      .def("to_json", [](const Message& self) { return self.schema.to_json(); })
      .def(
          "encode",
          [](const Message& self, py::object value) {
            std::string bytes(self.schema.size, '\0');
            value_from_python(self.schema, value, bytes.data());
            return py::bytes(bytes);
          },
          py::arg("value"), "The value's bytes as a C++ process holds them (fields left out are zero).")
      .def(
          "decode",
          [](const Message& self, const py::bytes& bytes) {
            const std::string_view view(bytes);
            if (view.size() != self.schema.size) {
              raise(Errc::invalid_argument, self.schema.name + " is " + std::to_string(self.schema.size) +
                                                " bytes, not " + std::to_string(view.size()));
            }
            return value_to_python(self.schema, view.data());
          },
          py::arg("data"))
      .def("__eq__", [](const Message& a, const Message& b) { return a.schema.fingerprint == b.schema.fingerprint; })
      .def("__hash__", [](const Message& self) { return self.schema.fingerprint; })
      .def("__repr__", [](const Message& self) {
        std::string fields;
        for (const auto& field : self.schema.fields) fields += (fields.empty() ? "" : ", ") + field.name;
        return "Message(" + self.schema.name + ": " + fields + ")";
      });

  py::class_<Sample>(m, "Sample", "A sample taken or recorded: its channel, value and header.")
      .def_readonly("channel", &Sample::channel)
      .def_readonly("value", &Sample::value, "A dict by field name (typed), or bytes (untyped).")
      .def_property_readonly("sequence", [](const Sample& s) { return s.header.sequence; })
      .def_property_readonly("publisher_pid", [](const Sample& s) { return s.header.publisher_pid; })
      .def_property_readonly(
          "virtual_ns", [](const Sample& s) { return s.header.virtual_time_ns; },
          "The bus's virtual time at publish, in nanoseconds.")
      .def_property_readonly(
          "real_ns", [](const Sample& s) { return s.header.real_time_ns; },
          "CLOCK_MONOTONIC at publish, in nanoseconds.")
      .def_property_readonly("header", [](const Sample& s) { return header_to_python(s.header); })
      .def("__getitem__", [](const Sample& s, py::handle key) { return s.value[key]; })
      .def("__repr__", [](const Sample& s) {
        return "Sample(" + s.channel + " #" + std::to_string(s.header.sequence) + " from pid " +
               std::to_string(s.header.publisher_pid) + " at virtual " + std::to_string(s.header.virtual_time_ns) +
               " ns: " + std::string(py::repr(s.value)) + ")";
      });
}

}  // namespace statebus::python
