// What comes in, on the link's network thread: its events (connected, down,
// given up) and messages, samples published on the bus or refused whole.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "bridge_impl.hpp"
#include "topics.hpp"

namespace statebus {

using namespace std::chrono_literals;
using bridge_detail::Carry;
using bridge_detail::match;
using bridge_detail::Refusal;

namespace bridge_detail {

void RefusalLog::log(const std::string& topic, const Refusal& refusal) {
  const auto now = std::chrono::steady_clock::now();
  if (now - window_ >= 1s) {
    if (suppressed_ > 0) spdlog::warn("{} more inbound messages refused in the last second", suppressed_);
    window_ = now;
    lines_ = 0;
    suppressed_ = 0;
  }
  if (++lines_ <= 10) {
    spdlog::warn("refused {}: {} ({}); nothing was published", topic, refusal.reason, refusal.category);
  } else {
    ++suppressed_;
  }
}

}  // namespace bridge_detail

void MqttBridge::Impl::refuse(const std::string& topic, const Refusal& refusal) {
  ++stats.refused;
  ++stats.refused_by_reason[refusal.category];
  changed.notify_all();
  refusal_log.log(topic, refusal);
}

void MqttBridge::Impl::on_connected() {
  std::vector<std::pair<std::string, int>> filters;
  const std::string& p = options.prefix;
  for (const Route& r : in_routes) {
    filters.emplace_back(bridge_detail::mqtt_filter(p + "/$schema", r.pattern.text()), 1);
    filters.emplace_back(bridge_detail::mqtt_filter(p, r.pattern.text()), r.qos);
  }
  for (const Route& r : state_routes) {
    const std::string f = bridge_detail::mqtt_filter(p + "/state", r.pattern.text());
    filters.emplace_back(f.back() == '#' ? f : f + "/set", r.qos);
  }
  for (const Route& r : mirror_routes) {
    filters.emplace_back(bridge_detail::mqtt_filter(p + "/$schema/state", r.pattern.text()), 1);
    filters.emplace_back(bridge_detail::mqtt_filter(p + "/state", r.pattern.text()), r.qos);
  }
  if (!options.homeassistant_prefix.empty()) filters.emplace_back(options.homeassistant_prefix + "/status", 1);
  if (options.clock == MqttOptions::ClockSync::follow) filters.emplace_back(bridge_detail::clock_topic(p), 0);
  for (const auto& [filter, qos] : filters) link->subscribe({filter}, qos);
  link->publish(bridge_detail::status_topic(p, options.client_id), "online", 1, true);
  std::lock_guard lock(mutex);
  ++stats.connects;
  up = true;
  if (was_connected) {
    const auto down = std::chrono::duration<double>(SteadyClock::now() - down_since).count();
    std::uint64_t total = 0;
    std::string detail;
    for (const auto& [channel, n] : dropped_while_down) {
      total += n;
      detail += (detail.empty() ? "" : ", ") + channel + ": " + std::to_string(n);
    }
    if (total > 0) {
      spdlog::warn("link to {} back after {:.1f} s; {} samples were dropped while it was down ({})", options.broker,
                   down, total, detail);
    } else {
      spdlog::info("link to {} back after {:.1f} s; nothing was dropped", options.broker, down);
    }
  } else {
    spdlog::info("connected to {} as {}", options.broker, options.client_id);
  }
  dropped_while_down.clear();
  was_connected = true;
  resync = true;
  changed.notify_all();
}

void MqttBridge::Impl::on_disconnected(const std::string& why, std::chrono::seconds next_try) {
  std::lock_guard lock(mutex);
  up = false;
  if (ready || !was_connected) down_since = SteadyClock::now();
  ready = false;
  changed.notify_all();
  spdlog::warn("no link to {}: {}; trying again in {} s", options.broker, why, next_try.count());
}

void MqttBridge::Impl::on_gave_up(const std::string& why) {
  spdlog::error("no link to {}: {}; trying again cannot mend that, so the bridge gives up after {} tries "
                "(--keep-trying goes on)",
                options.broker, why, 3);
  std::lock_guard lock(mutex);
  ready = false;
  link_lost = Error(Errc::not_permitted, "the link to " + options.broker + " gave up: " + why);
  changed.notify_all();
}

void MqttBridge::Impl::on_message(std::string_view topic, std::string_view payload) {
  if (!options.homeassistant_prefix.empty() && topic == options.homeassistant_prefix + "/status") {
    if (payload == "online") resync = true;  // Home Assistant restarted: announce everything again
    return;
  }
  if (options.clock == MqttOptions::ClockSync::follow && topic == bridge_detail::clock_topic(options.prefix)) {
    follow(payload);
    return;
  }
  const std::string topic_text(topic);
  std::unique_lock lock(mutex);
  if (payload.size() > options.max_payload) {
    refuse(topic_text, {"oversize", std::to_string(payload.size()) + " bytes is over the limit of " +
                                        std::to_string(options.max_payload) + " (--max-payload)"});
    return;
  }
  const auto parsed = bridge_detail::parse_topic(options.prefix, topic);
  switch (parsed.kind) {
    case bridge_detail::TopicKind::channel_schema:
    case bridge_detail::TopicKind::cell_schema: {
      const std::string key = (parsed.kind == bridge_detail::TopicKind::cell_schema ? "state/" : "") + parsed.name;
      if (payload.empty()) {
        remote_schemas.erase(key);
        return;
      }
      auto schema = Schema::from_json(payload);
      if (!schema) {
        refuse(topic_text, {"wrong type", schema.error().message()});
        return;
      }
      auto stored = remote_schemas.insert_or_assign(key, std::move(*schema)).first;
      // Offer the channel on the bus now, so subscribers there connect before the first sample.
      if (parsed.kind == bridge_detail::TopicKind::channel_schema && match(in_routes, parsed.name) != nullptr &&
          validate_channel_name(parsed.name) && registry->claim(Carry::in, parsed.name)) {
        if (auto opened = open_in_publisher(parsed.name, in_channels[parsed.name], &stored->second); !opened) {
          refuse(topic_text, *opened.error());
        }
      }
      if (parsed.kind == bridge_detail::TopicKind::cell_schema) {
        if (auto pending = pending_mirror.find(parsed.name); pending != pending_mirror.end()) {
          const std::string value = std::move(pending->second);
          pending_mirror.erase(pending);
          mirror_in(parsed.name, bridge_detail::cell_topic(options.prefix, parsed.name), value, lock);
        }
      }
      return;
    }
    case bridge_detail::TopicKind::channel:
      if (match(in_routes, parsed.name) != nullptr) sample_in(parsed.name, topic_text, payload, lock);
      return;
    case bridge_detail::TopicKind::cell_set:
      if (match(state_routes, parsed.name) == nullptr || bridge_detail::is_bridges_cell(parsed.name)) return;
      if (!registry->claim(Carry::owned_cell, parsed.name)) {
        ++stats.left_to_peers;
        return;
      }
      write_in(parsed.name, topic_text, payload);
      return;
    case bridge_detail::TopicKind::cell:
      if (match(mirror_routes, parsed.name) != nullptr && match(state_routes, parsed.name) == nullptr &&
          !bridge_detail::is_bridges_cell(parsed.name)) {
        if (!registry->claim(Carry::mirrored_cell, parsed.name)) {
          ++stats.left_to_peers;
          return;
        }
        mirror_in(parsed.name, topic_text, payload, lock);
      }
      return;
    case bridge_detail::TopicKind::other:
      return;
  }
}

void MqttBridge::Impl::sample_in(const std::string& channel, const std::string& topic, std::string_view payload,
                                 std::unique_lock<std::mutex>& lock) {
  if (auto valid = validate_channel_name(channel); !valid) {
    refuse(topic, {"bad name", valid.error().message()});
    return;
  }
  InChannel& in = in_channels[channel];
  const Schema* schema = nullptr;
  if (auto remote = remote_schemas.find(channel); remote != remote_schemas.end()) {
    schema = &remote->second;
  } else {
    // A publisher on this bus may offer the type; ask at most every 5 s.
    if (!in.local_schema && SteadyClock::now() - in.local_tried > 5s) {
      in.local_tried = SteadyClock::now();
      lock.unlock();
      auto local = fetch_schema(*node, channel, 200ms);
      lock.lock();
      if (local) in.local_schema = std::move(*local);
    }
    if (in.local_schema) schema = &*in.local_schema;
  }
  auto decoded = bridge_detail::decode_message(payload, schema);
  if (!decoded) {
    if (decoded.error().category == "no schema") {
      decoded.error().reason =
          "no schema is known for channel '" + channel + "' (a bridge that sends it retains it on " +
          bridge_detail::channel_schema_topic(options.prefix, channel) + "), and the message carries no base64 bytes";
    }
    refuse(topic, decoded.error());
    return;
  }
  if (registry->sent_by_peer(decoded->origin)) {  // sent from this bus (by this or another of its bridges)
    ++stats.echoes_skipped;
    return;
  }
  if (!registry->claim(Carry::in, channel)) {  // another bridge of this bus and broker publishes it
    ++stats.left_to_peers;
    return;
  }
  std::uint64_t gap = 0;  // samples of this publisher lost upstream
  if (decoded->publisher_sequence) {
    const auto [publisher, sequence] = *decoded->publisher_sequence;
    auto [last, first] = in.last_sequence.try_emplace({decoded->origin, publisher}, sequence);
    if (!first && last->second == sequence) {
      ++stats.repeats_skipped;
      changed.notify_all();
      return;
    }
    // A lower number is a new publisher behind the same port (its bus was
    // restarted): counted from here, like one heard for the first time.
    if (!first && sequence > last->second) gap = sequence - last->second - 1;
    last->second = sequence;
  }
  if (auto opened = open_in_publisher(channel, in, schema); !opened) {
    refuse(topic, *opened.error());
    return;
  }
  if (gap != 0) {
    in.pub->skip(gap);  // a gap here too: this bus's subscribers count them lost
    stats.lost_upstream += gap;
  }
  if (auto published = in.pub->publish(decoded->bytes.data(), decoded->bytes.size()); !published) {
    in.pub->skip(1);  // lost here: the bus's subscribers count it
    refuse(topic, {"bus", published.error() == LoanError::payload_too_large ? "larger than the bus's largest pool"
                                                                            : "the bus's pools are exhausted"});
    return;
  }
  ++stats.received;
  changed.notify_all();
}

// The bus publisher for an inbound channel, (re)made for `schema`.
tl::expected<void, std::optional<Refusal>> MqttBridge::Impl::open_in_publisher(const std::string& channel,
                                                                               InChannel& in, const Schema* schema) {
  const std::uint64_t fingerprint = schema != nullptr ? schema->fingerprint : 0;
  if (in.pub && in.fingerprint == fingerprint) return {};
  if (in.pub) own_ports.erase(in.pub->port_id());
  in.pub.reset();
  auto pub = UntypedPublisher::create(*node, channel, schema, PublisherOptions{1, false});
  if (!pub) {
    return tl::make_unexpected(
        Refusal{pub.error().code() == Errc::type_mismatch ? "type mismatch" : "bus", pub.error().message()});
  }
  own_ports.insert(pub->port_id());
  registry->set_in_port(channel, pub->port_id());
  in.pub = std::move(*pub);
  in.fingerprint = fingerprint;
  return {};
}

}  // namespace statebus
