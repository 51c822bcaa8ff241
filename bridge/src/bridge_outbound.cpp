// Channels out: each channel --out matches, claimed for this bridge's target,
// sent as JSON with its schema and its liveness (bus thread).
#include <chrono>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "bridge_impl.hpp"
#include "topics.hpp"

namespace statebus {

using namespace std::chrono_literals;
using bridge_detail::Carry;
using bridge_detail::first_part_is_state;
using bridge_detail::match;
using bridge_detail::wall_ns;

bool MqttBridge::Impl::send(const std::string& topic, std::string_view payload, int qos, bool retain) {
  return link->publish(topic, payload, qos, retain) == bridge_detail::MqttLink::Sent::ok;
}

void MqttBridge::Impl::count_drop(const std::string& channel) {
  std::lock_guard lock(mutex);
  ++stats.dropped;
  ++stats.dropped_by_channel[channel];
  changed.notify_all();
  if (!link->connected()) ++dropped_while_down[channel];
}

void MqttBridge::Impl::announce_channel(OutChannel& out) {
  if (!out.carried) return;
  if (out.schema) {
    send(bridge_detail::channel_schema_topic(options.prefix, out.name), out.schema->to_json(), 1, true);
    if (!options.homeassistant_prefix.empty()) {
      for (const auto& m : bridge_detail::discover_channel(discovery, out.name, *out.schema)) {
        send(m.topic, m.payload, 1, true);
      }
    }
  }
  // The last sample again, so that a Home Assistant (or a broker) that
  // restarted shows the state now, not "unknown" until the next change.
  if (!out.last_payload.empty()) {
    send(bridge_detail::channel_topic(options.prefix, out.name), out.last_payload, out.qos, false);
  }
  out.alive.reset();  // liveness is sent again at the next look
}

void MqttBridge::Impl::scan_channels() {
  if (!watch) return;
  for (const std::string& name : watch->next(0ns)) {
    const Route* route = match(out_routes, name);
    if (route == nullptr || skipped_channels.count(name) != 0) continue;
    if (is_internal_channel(name)) {  // a service's own channels: calls are not carried over MQTT
      skipped_channels.insert(name);
      continue;
    }
    if (first_part_is_state(name)) {
      skipped_channels.insert(name);
      spdlog::warn("not bridging channel '{}': topics under state/ are cells'; rename the channel", name);
      continue;
    }
    if (outs.size() >= 64) {
      skipped_channels.insert(name);
      spdlog::warn("not bridging channel '{}': a bridge takes at most 64 channels; run a second bridge", name);
      continue;
    }
    auto sub = UntypedSubscriber::create(*node, name, SubscriberOptions{256, 1, false});
    if (!sub) {
      skipped_channels.insert(name);
      spdlog::warn("not bridging channel '{}': {}", name, sub.error().message());
      continue;
    }
    OutChannel out{name, route->qos, std::nullopt, std::move(*sub), std::nullopt, false, {}};
    if (auto schema = fetch_schema(*node, name, 500ms)) out.schema = std::move(*schema);
    outs.push_back(std::move(out));
    if (auto added = waitset->add(outs.back().sub); !added) {
      spdlog::warn("not bridging channel '{}': {}", name, added.error().message());
      outs.pop_back();
      skipped_channels.insert(name);
      continue;
    }
    claim_out(outs.back());
  }
  for (OutChannel& out : outs) {
    if (!out.carried) claim_out(out);  // its bridge may have gone
  }
}

// Claims `out` for this bridge's target; sends what a new carrier sends,
// unless the announcement of a new connection is still to come (it
// sends everything: a channel found meanwhile is announced once).
void MqttBridge::Impl::claim_out(OutChannel& out) {
  out.carried = registry->claim(Carry::out, out.name);
  if (out.carried && link->connected() && connection_announced()) announce_channel(out);
}

bool MqttBridge::Impl::connection_announced() const {
  std::lock_guard lock(mutex);
  return up && announced_connects == stats.connects;
}

void MqttBridge::Impl::take_and_send(OutChannel& out) {
  while (auto sample = out.sub.take()) {
    const SampleHeader& h = sample->header();
    {
      std::lock_guard lock(mutex);
      if (own_ports.count(h.publisher_port) != 0) {  // came from the broker: never back
        ++stats.echoes_skipped;
        changed.notify_all();
        continue;
      }
      if (!out.carried) {  // another bridge of this bus and broker sends it
        ++stats.left_to_peers;
        changed.notify_all();
        continue;
      }
    }
    if (registry->published_by_peer(h.publisher_port)) {  // came from the broker through another bridge
      std::lock_guard lock(mutex);
      ++stats.echoes_skipped;
      changed.notify_all();
      continue;
    }
    const Schema* schema = out.schema && out.schema->fingerprint == h.fingerprint ? &*out.schema : nullptr;
    std::string payload =
        bridge_detail::encode_sample(h, schema, sample->data(), sample->size(), options.client_id, wall_ns());
    const bool sent = send(bridge_detail::channel_topic(options.prefix, out.name), payload, out.qos, false);
    // Kept either way: the channel's state, sent again when the link is
    // (back) up, so a sample taken before is not lost with the rest.
    out.last_payload = std::move(payload);
    if (sent) {
      std::lock_guard lock(mutex);
      ++stats.sent;
      changed.notify_all();
    } else {
      count_drop(out.name);
    }
  }
}

// A channel is alive while a publisher other than the bridge's own offers
// it: the daemon's registry says whether anyone offers it (a killed
// process's ports go within its monitoring time); where the bridge offers
// it too, the publishers its samples came from say who else does.
void MqttBridge::Impl::send_liveness() {
  for (OutChannel& out : outs) {
    if (!out.carried) continue;
    bool alive = channel_offered(*node, out.name);
    {
      std::lock_guard lock(mutex);
      const auto in = in_channels.find(out.name);
      if (alive && in != in_channels.end() && in->second.pub) {
        alive = false;
        for (const PublisherStatus& p : out.sub.publishers()) {
          alive = alive || (p.state == PublisherState::alive && own_ports.count(p.port) == 0 &&
                            !registry->published_by_peer(p.port));
        }
      }
    }
    if (out.alive == alive || !link->connected() || !connection_announced()) continue;  // after the announcement
    if (send(bridge_detail::alive_topic(options.prefix, out.name), alive ? "online" : "offline", 1, true)) {
      out.alive = alive;
    }
  }
}

}  // namespace statebus
