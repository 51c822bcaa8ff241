// The recorder's MCAP sink: one MCAP channel per bus channel and type, its
// schema as JSON Schema, samples as JSON (log records as foxglove.Log), raw
// bytes where there is no schema; chunks flushed by the housekeeper.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "json_schema.hpp"
#include "recorder_impl.hpp"

namespace statebus {

// The MCAP message of a sample: JSON, or empty where the raw bytes go. A
// request or reply of a service says which call it is, first: `"_call":
// {"client": <the client's request port>, "id": <the call's id>}`, the same
// object on a request and its reply.
std::string Recorder::Impl::mcap_json(const std::optional<LogEntry>& log_entry, const Schema* schema,
                                      std::string_view payload, const Source& from, const SampleHeader& header) {
  if (log_entry) return detail::to_foxglove_log(*log_entry);
  if (schema == nullptr) return {};
  std::string json = schema->render_json(payload.data());
  if (from.service && !json.empty() && json.front() == '{') {
    const bool call = *from.service == detail::ServiceChannelKind::call;
    const std::uint64_t client = call ? header.publisher_port : from.client_port;
    const std::uint32_t id = call ? static_cast<std::uint32_t>(header.sequence) : header.reply_to;
    const std::string link = "\"_call\":{\"client\":" + std::to_string(client) + ",\"id\":" + std::to_string(id) + "}";
    json.insert(1, json.size() > 2 ? link + "," : link);
  }
  return json;
}

// Under `mutex`, with a writer and no write error yet.
void Recorder::Impl::write_mcap(ChannelState& state, const Source& from, const SampleHeader& header,
                                const Schema* schema, bool log, const std::string& json, std::string_view payload) {
  const bool as_json = log || schema != nullptr;
  if (const auto id = mcap_channel(state, from, as_json ? header.fingerprint : (from.is_log ? ~std::uint64_t{0} : 0),
                                   schema, log)) {
    const std::string_view data = as_json ? std::string_view(json) : payload;
    const auto t = static_cast<std::uint64_t>(std::max<std::int64_t>(header.virtual_time_ns, 0));
    if (auto wrote = writer->write(*id, static_cast<std::uint32_t>(header.sequence), t, t, data.data(), data.size());
        !wrote) {
      write_error = wrote.error();
    }
    written_since_flush = true;
    ++written;
  }
}

std::optional<std::uint16_t> Recorder::Impl::mcap_channel(ChannelState& state, const Source& from,
                                                          std::uint64_t fingerprint, const Schema* schema, bool log) {
  if (const auto found = state.mcap_channels.find(fingerprint); found != state.mcap_channels.end()) {
    return found->second;
  }
  auto note = [&](const Error& error) {
    if (!write_error) write_error = error;
    return std::nullopt;
  };
  std::uint16_t schema_id = 0;
  std::string encoding = "statebus.bytes";
  if (log) {
    if (!mcap_log_schema) {
      auto id = writer->add_schema(detail::kFoxgloveLogName, "jsonschema", detail::foxglove_log_schema());
      if (!id) return note(id.error());
      mcap_log_schema = *id;
    }
    schema_id = *mcap_log_schema;
    encoding = "json";
  } else if (schema != nullptr) {
    // A service's requests and replies carry the `_call` link: a schema of its own.
    auto& known_schemas = from.service ? mcap_call_schemas : mcap_schemas;
    auto known = known_schemas.find(fingerprint);
    if (known == known_schemas.end()) {
      auto id = writer->add_schema(
          schema->name, "jsonschema",
          from.service ? detail::to_json_schema_with_call_link(*schema) : detail::to_json_schema(*schema));
      if (!id) return note(id.error());
      known = known_schemas.emplace(fingerprint, *id).first;
    }
    schema_id = known->second;
    encoding = "json";
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fingerprint));
  std::map<std::string, std::string> metadata{{"statebus.fingerprint", hex}};
  if (from.service && schema != nullptr) {
    // Which service, and where a message says which call it is.
    const auto service = detail::parse_service_channel(state.name);
    metadata.emplace("statebus.service", std::string(service->service));
    metadata.emplace("statebus.call_link", "_call");
    if (*from.service == detail::ServiceChannelKind::reply) {
      metadata.emplace("statebus.client_port", std::to_string(from.client_port));
    }
  }
  auto id = writer->add_channel(schema_id, state.name, encoding, metadata);
  if (!id) return note(id.error());
  state.mcap_channels.emplace(fingerprint, *id);
  return *id;
}

void Recorder::Impl::flush_if_due(bool force) {
  std::lock_guard lock(mutex);
  if (!writer || write_error || (!written_since_flush && !force)) return;
  if (auto done = writer->flush(); !done) {
    write_error = done.error();
  } else {
    flushed = written;
  }
  written_since_flush = false;
}

std::uint64_t Recorder::flushed() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->flushed;
}

}  // namespace statebus
