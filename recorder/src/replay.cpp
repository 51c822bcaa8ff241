#include "statebus/recorder/replay.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "json_schema.hpp"
#include "statebus/bus/log_record.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/log_ring.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "statebus/recorder/mcap.hpp"

namespace statebus {
namespace {

enum class Decode { json, log, bytes };

struct Outlet {
  std::string topic;
  Decode decode = Decode::bytes;
  std::optional<Schema> schema;
  std::optional<UntypedPublisher> publisher;
  std::uint64_t published = 0;
  // A member the recorder added that is no field of the type (a service's
  // `_call` link), left out before the JSON is read back.
  std::string added_member;
};

// How a recorded channel becomes samples again, or why it cannot.
Result<Outlet> plan(const mcap::ChannelInfo& channel, const std::map<std::uint16_t, mcap::SchemaInfo>& schemas) {
  Outlet out;
  out.topic = channel.topic;
  const mcap::SchemaInfo* schema = nullptr;
  if (channel.schema_id != 0) {
    const auto found = schemas.find(channel.schema_id);
    if (found == schemas.end()) return fail(Errc::invalid_argument, "its schema is missing from the file");
    schema = &found->second;
  }
  if (channel.message_encoding == "statebus.bytes") {
    out.decode = Decode::bytes;
    return out;
  }
  if (channel.message_encoding != "json" || schema == nullptr || schema->encoding != "jsonschema") {
    return fail(Errc::invalid_argument, "message encoding '" + channel.message_encoding +
                                            "' is not one statebus records (json with a JSON Schema, statebus.bytes)");
  }
  if (schema->name == detail::kFoxgloveLogName) {
    out.decode = Decode::log;
    return out;
  }
  auto parsed = detail::from_json_schema(schema->data);
  if (!parsed) return fail(Errc::invalid_argument, "schema '" + schema->name + "': " + parsed.error().message());
  out.decode = Decode::json;
  out.schema = std::move(*parsed);
  if (const auto link = channel.metadata.find("statebus.call_link"); link != channel.metadata.end()) {
    out.added_member = link->second;
  }
  return out;
}

}  // namespace

Result<ReplaySummary> replay(const Node& node, const std::string& path, const ReplayOptions& options) {
  if (!(options.rate >= 0.0) || !std::isfinite(options.rate)) {
    return fail(Errc::invalid_argument, "replay rate " + std::to_string(options.rate) +
                                            " is not a finite number ≥ 0 (0 replays as fast as subscribers take it)");
  }
  std::vector<ChannelPattern> patterns;
  for (const std::string& text : options.patterns) {
    auto pattern = ChannelPattern::parse(text);
    if (!pattern) return tl::make_unexpected(pattern.error());
    patterns.push_back(std::move(*pattern));
  }
  auto reader = mcap::Reader::open(path);
  if (!reader) return tl::make_unexpected(reader.error());

  ReplaySummary summary;
  summary.truncated = reader->truncated();
  std::map<std::uint16_t, std::unique_ptr<Outlet>> outlets;
  for (const auto& [id, channel] : reader->channels()) {
    const std::string& topic = channel.topic;
    if (std::none_of(patterns.begin(), patterns.end(), [&](const ChannelPattern& p) { return p.matches(topic); })) {
      continue;
    }
    auto outlet = plan(channel, reader->schemas());
    if (!outlet) {
      summary.skipped[channel.topic] = outlet.error().message();
      continue;
    }
    outlets.emplace(id, std::make_unique<Outlet>(std::move(*outlet)));
  }
  // One publisher per recorded (channel, type): a channel recorded with two
  // types gets two, and each reader takes the type it reads.
  for (auto& [id, outlet] : outlets) {
    if (outlet->decode == Decode::log) {
      // Log records go into this process's log ring, as a logging process's.
      if (auto claimed = detail::LogWriter::claim(); !claimed) {
        return fail(claimed.error().code(),
                    "cannot replay channel '" + outlet->topic + "': " + claimed.error().message());
      }
      continue;
    }
    const Schema* schema = outlet->schema ? &*outlet->schema : nullptr;
    auto publisher = UntypedPublisher::create(node, outlet->topic, schema);
    if (!publisher) {
      return fail(publisher.error().code(),
                  "cannot replay channel '" + outlet->topic + "': " + publisher.error().message());
    }
    outlet->publisher.emplace(std::move(*publisher));
  }
  if (options.wait_for_subscribers.count() > 0) {
    const auto deadline = std::chrono::steady_clock::now() + options.wait_for_subscribers;
    for (auto& [id, outlet] : outlets) {
      if (!outlet->publisher) continue;  // the log: its readers read the rings from their start
      const auto left =
          std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
      // Published to nobody if none comes (or the bus went: publishing says so).
      (void)outlet->publisher->wait_for_subscribers(left);
    }
  }

  // What will be published, and over what recorded span.
  ReplayProgress progress;
  std::optional<std::uint64_t> first_time;
  std::uint64_t last_time = 0;
  if (auto counted = reader->for_each_message([&](const mcap::Message& message) {
        if (outlets.count(message.channel_id) == 0) return true;
        ++progress.total;
        if (!first_time) first_time = message.log_time;
        last_time = std::max(last_time, message.log_time);
        return true;
      });
      !counted) {
    return tl::make_unexpected(counted.error());
  }
  if (first_time) progress.span = VirtualClock::duration(static_cast<std::int64_t>(last_time - *first_time));

  const auto start = VirtualClock::now();
  std::string bytes;
  std::optional<Error> error;
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed); };
  auto wait_until = [&](VirtualClock::time_point target) {
    if (options.cancel == nullptr) {
      VirtualClock::sleep_until(target);
      return;
    }
    while (!cancelled()) {
      const auto slice = detail::wait_slice(target);
      if (!slice) return;
      if (*slice <= std::chrono::milliseconds(100)) {
        VirtualClock::sleep_until(target);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // looks at `cancel` between slices
    }
  };

  auto walked = reader->for_each_message([&](const mcap::Message& message) {
    const auto found = outlets.find(message.channel_id);
    if (found == outlets.end()) return true;
    if (cancelled()) {
      summary.cancelled = true;
      return false;
    }
    Outlet& outlet = *found->second;
    const std::string where = "message " + std::to_string(message.sequence) + " of channel '" + outlet.topic + "'";
    switch (outlet.decode) {
      case Decode::bytes:
        bytes.assign(message.data.data(), message.data.size());
        break;
      case Decode::json: {
        bytes.assign(outlet.schema->size, '\0');
        std::string_view text = message.data;
        std::string without_link;
        if (!outlet.added_member.empty()) {
          auto object = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
          if (object.is_object()) {
            object.erase(outlet.added_member);
            without_link = object.dump();
            text = without_link;
          }
        }
        if (auto parsed = outlet.schema->parse_json(text, bytes.data()); !parsed) {
          error = Error(Errc::invalid_argument, path + ": " + where + ": " + parsed.error().message());
          return false;
        }
        break;
      }
      case Decode::log: {
        auto entry = detail::from_foxglove_log(message.data);
        if (!entry) {
          error = Error(Errc::invalid_argument, path + ": " + where + ": " + entry.error().message());
          return false;
        }
        encode_log_record(*entry, bytes);
        break;
      }
    }
    const auto publish = [&]() -> Result<void> {
      if (outlet.decode == Decode::log) {
        LogRecordHeader record;
        std::memcpy(&record, bytes.data(), sizeof record);
        if (!detail::LogWriter::write(record, std::string_view(bytes).substr(sizeof record), /*stamp=*/false)) {
          return fail(Errc::no_daemon, "this process lost its log ring (its bus was replaced)");
        }
        return {};
      }
      if (auto published = outlet.publisher->publish(bytes.data(), bytes.size()); !published) {
        return fail(Errc::out_of_resources, std::string("(") + std::to_string(bytes.size()) + " bytes): " +
                                                (published.error() == LoanError::payload_too_large
                                                     ? "larger than the daemon's largest pool; start the daemon "
                                                       "with larger pools"
                                                     : "the daemon's pools are exhausted"));
      }
      return {};
    };
    const std::int64_t offset = static_cast<std::int64_t>(message.log_time - *first_time);
    if (options.rate > 0.0) {
      const auto target =
          start + VirtualClock::duration(static_cast<std::int64_t>(static_cast<double>(offset) / options.rate));
      if (VirtualClock::now() < target) wait_until(target);
      if (cancelled()) {
        summary.cancelled = true;
        return false;
      }
    }
    if (auto published = publish(); !published) {
      error = Error(published.error().code(), path + ": " + where + " " + published.error().message());
      return false;
    }
    ++outlet.published;
    ++summary.published;
    progress.published = summary.published;
    progress.position = VirtualClock::duration(offset);
    if (options.on_progress) options.on_progress(progress);
    return true;
  });
  if (!walked) return tl::make_unexpected(walked.error());
  if (error) return tl::make_unexpected(*error);
  for (const auto& [id, outlet] : outlets) summary.channels[outlet->topic] += outlet->published;
  return summary;
}

}  // namespace statebus
