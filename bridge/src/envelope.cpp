#include "envelope.hpp"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

namespace statebus::bridge_detail {
namespace {

using json = nlohmann::json;

tl::unexpected<Refusal> refuse(std::string category, std::string reason) {
  return tl::make_unexpected(Refusal{std::move(category), std::move(reason)});
}

// The envelope's own keys; any other key beside `value` is refused.
constexpr std::array<const char*, 13> kEnvelopeKeys = {
    "sequence", "publisher_pid", "publisher_port", "real_time_ns", "virtual_time_ns", "value",       "fingerprint",
    "origin",   "wall_time_ns",  "base64",         "real_time_ms", "virtual_time_ms", "wall_time_ms"};
constexpr std::array<const char*, 7> kCellKeys = {"value",  "version",      "fingerprint", "origin",
                                                  "wall_time_ns", "wall_time_ms", "base64"};

// Milliseconds beside each nanosecond time: a JavaScript number (a double)
// holds them exactly, where ~1.8e18 ns loses its last digits.
std::string ms(std::int64_t ns) { return std::to_string(ns / 1'000'000); }

bool is_envelope_key(const std::string& key) {
  auto is_key = [&](const char* k) { return key == k; };
  return std::any_of(kEnvelopeKeys.begin(), kEnvelopeKeys.end(), is_key) ||
         std::any_of(kCellKeys.begin(), kCellKeys.end(), is_key);
}

bool schema_has_field(const Schema& schema, std::string_view name) {
  return std::any_of(schema.fields.begin(), schema.fields.end(), [&](const FieldSchema& f) { return f.name == name; });
}

}  // namespace

Refusal refusal_from(const Error& error) {
  const std::string& m = error.message();
  auto has = [&](const char* text) { return m.find(text) != std::string::npos; };
  std::string category = "wrong type";
  if (has("not valid JSON")) {
    category = "malformed JSON";
  } else if (has("unknown field") || has("no field")) {
    category = "unknown field";
  } else if (has("is missing")) {
    category = "missing field";
  } else if (has("out of range") || has("too long")) {
    category = "out of range";
  }
  return Refusal{category, m};
}

std::string encode_sample(const SampleHeader& h, const Schema* schema, const void* data, std::size_t size,
                          std::string_view origin, std::int64_t wall_time_ns) {
  char head[192];
  std::snprintf(head, sizeof head,
                "{\"sequence\":%" PRIu64 ",\"publisher_pid\":%d,\"publisher_port\":%" PRIu64 ",\"real_time_ns\":%" PRId64
                ",\"virtual_time_ns\":%" PRId64 ",\"value\":",
                h.sequence, h.publisher_pid, h.publisher_port, h.real_time_ns, h.virtual_time_ns);
  std::string out = head;
  if (schema != nullptr && schema->size == size) {
    out += schema->render_json(data);
  } else {
    out += "null,\"base64\":\"" + base64_encode(std::string_view(static_cast<const char*>(data), size)) + "\"";
  }
  out += ",\"fingerprint\":\"" + fingerprint_hex(h.fingerprint) + "\",\"origin\":" + json(std::string(origin)).dump() +
         ",\"wall_time_ns\":" + std::to_string(wall_time_ns) + ",\"real_time_ms\":" + ms(h.real_time_ns) +
         ",\"virtual_time_ms\":" + ms(h.virtual_time_ns) + ",\"wall_time_ms\":" + ms(wall_time_ns) + "}";
  return out;
}

std::string encode_cell(const Schema& schema, const void* value, std::uint64_t version, std::string_view origin,
                        std::int64_t wall_time_ns) {
  return "{\"value\":" + schema.render_json(value) + ",\"version\":" + std::to_string(version) + ",\"fingerprint\":\"" +
         fingerprint_hex(schema.fingerprint) + "\",\"origin\":" + json(std::string(origin)).dump() +
         ",\"wall_time_ns\":" + std::to_string(wall_time_ns) + ",\"wall_time_ms\":" + ms(wall_time_ns) + "}";
}

tl::expected<Inbound, Refusal> decode_message(std::string_view payload, const Schema* schema) {
  const json j = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return refuse("malformed JSON", "the payload is not valid JSON");
  if (!j.is_object()) return refuse("wrong type", "the payload is not a JSON object");
  Inbound in;
  const json* value = &j;
  // An envelope: a `value` key the schema does not have as a field.
  const bool envelope = j.contains("value") && (schema == nullptr || !schema_has_field(*schema, "value"));
  if (envelope) {
    for (const auto& item : j.items()) {
      if (!is_envelope_key(item.key())) {
        return refuse("unknown field", "unknown field '" + item.key() + "' beside 'value'");
      }
    }
    if (const auto o = j.find("origin"); o != j.end()) {
      if (!o->is_string()) return refuse("wrong type", "'origin' is not a string");
      in.origin = o->get<std::string>();
    }
    // The publisher: its port where the envelope names it (a pid may hold
    // several publishers of one channel), else its pid.
    auto publisher = j.find("publisher_port");
    if (publisher == j.end() || !publisher->is_number_unsigned()) publisher = j.find("publisher_pid");
    const auto sequence = j.find("sequence");
    if (publisher != j.end() && sequence != j.end() && publisher->is_number_integer() &&
        sequence->is_number_unsigned()) {
      in.publisher_sequence = std::pair{publisher->get<std::int64_t>(), sequence->get<std::uint64_t>()};
    }
    if (const auto f = j.find("fingerprint"); f != j.end() && schema != nullptr) {
      if (!f->is_string() || f->get<std::string>() != fingerprint_hex(schema->fingerprint)) {
        return refuse("type mismatch", "fingerprint " + f->dump() + " is not " + schema->name + "'s (" +
                                           fingerprint_hex(schema->fingerprint) + "): another type or version");
      }
    }
    value = &j["value"];
  }
  if (schema == nullptr) {
    const auto b = j.find("base64");
    if (!envelope || b == j.end() || !b->is_string()) {
      return refuse("no schema", "no schema is known for it and it carries no 'base64' bytes");
    }
    auto bytes = base64_decode(b->get<std::string>());
    if (!bytes) return refuse("wrong type", "'base64' is not valid base64");
    in.bytes = std::move(*bytes);
    return in;
  }
  in.bytes.assign(schema->size, '\0');
  if (auto parsed = schema->parse_json(value->dump(), in.bytes.data()); !parsed) {
    return tl::make_unexpected(refusal_from(parsed.error()));
  }
  return in;
}

tl::expected<void, Refusal> apply_write(const Schema& schema, std::string_view payload, void* value) {
  if (auto done = schema.apply_json(payload, value); !done) return tl::make_unexpected(refusal_from(done.error()));
  return {};
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]) << 16 |
                                              static_cast<unsigned char>(bytes[i + 1]) << 8 |
                                              static_cast<unsigned char>(bytes[i + 2]));
    out += kDigits[n >> 18 & 63];
    out += kDigits[n >> 12 & 63];
    out += kDigits[n >> 6 & 63];
    out += kDigits[n & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]) << 16);
    if (i + 1 < bytes.size()) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kDigits[n >> 18 & 63];
    out += kDigits[n >> 12 & 63];
    out += i + 1 < bytes.size() ? kDigits[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t n = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        ++pad;
        n <<= 6;
        continue;
      }
      const int d = digit(c);
      if (d < 0 || pad > 0) return std::nullopt;
      n = n << 6 | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>(n >> 16 & 255);
    if (pad < 2) out += static_cast<char>(n >> 8 & 255);
    if (pad < 1) out += static_cast<char>(n & 255);
  }
  return out;
}

}  // namespace statebus::bridge_detail
