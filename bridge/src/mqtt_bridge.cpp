// The bridge: a bus thread sends what the bus says, libmosquitto's network
// thread brings in what the broker says. The contract is bridge/README.md.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "bridge_registry.hpp"
#include "climate.hpp"
#include "clock_sync.hpp"
#include "envelope.hpp"
#include "homeassistant.hpp"
#include "mqtt_link.hpp"
#include "statebus/bridge/mqtt.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/bus/wait_set.hpp"
#include "statebus/state/cell.hpp"
#include "topics.hpp"

namespace statebus {

using namespace std::chrono_literals;
using bridge_detail::Carry;
using bridge_detail::Refusal;
using SteadyClock = std::chrono::steady_clock;

namespace {

Error bad_option(const std::string& message) { return Error(Errc::invalid_argument, message); }

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string default_client_id() {
  char host[64] = "host";
  ::gethostname(host, sizeof host - 1);
  std::string id = std::string("statebus-") + host + "-" + std::to_string(::getpid());
  return id;
}

bool first_part_is_state(std::string_view name) { return name == "state" || name.rfind("state/", 0) == 0; }

struct Route {
  ChannelPattern pattern;
  int qos;
};

Result<std::vector<Route>> parse_routes(const std::vector<MqttRoute>& routes, const char* option) {
  std::vector<Route> out;
  for (const MqttRoute& route : routes) {
    auto pattern = ChannelPattern::parse(route.pattern);
    if (!pattern) return tl::make_unexpected(bad_option(std::string(option) + ": " + pattern.error().message()));
    if (route.qos != 0 && route.qos != 1) {
      return tl::make_unexpected(bad_option(std::string(option) + " " + route.pattern + ": QoS must be 0 or 1"));
    }
    out.push_back({std::move(*pattern), route.qos});
  }
  return out;
}

const Route* match(const std::vector<Route>& routes, std::string_view name) {
  for (const Route& route : routes) {
    if (route.pattern.matches(name)) return &route;
  }
  return nullptr;
}

// At most ten refusal lines a second; the rest are counted and summed up.
class RefusalLog {
 public:
  void log(const std::string& topic, const Refusal& refusal) {
    const auto now = SteadyClock::now();
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

 private:
  SteadyClock::time_point window_{};
  int lines_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace

Result<MqttRoute> parse_mqtt_route(std::string_view text, int default_qos) {
  MqttRoute route{std::string(text), default_qos};
  if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    const std::string_view qos = text.substr(colon + 1);
    if (qos != "0" && qos != "1") {
      return tl::make_unexpected(bad_option("'" + std::string(text) + "': the QoS after ':' must be 0 or 1"));
    }
    route.pattern = std::string(text.substr(0, colon));
    route.qos = qos[0] - '0';
  }
  if (auto pattern = ChannelPattern::parse(route.pattern); !pattern) return tl::make_unexpected(pattern.error());
  return route;
}

Result<void> load_mqtt_credentials(MqttOptions& options, const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return tl::make_unexpected(bad_option("cannot read the credentials file '" + path + "': " + std::strerror(errno)));
  }
  std::string user, password;
  std::getline(file, user);
  std::getline(file, password);
  for (std::string* s : {&user, &password}) {
    if (!s->empty() && s->back() == '\r') s->pop_back();
  }
  if (user.empty()) {
    return tl::make_unexpected(bad_option("the credentials file '" + path +
                                          "' has no user name on its first line (user, then password)"));
  }
  options.username = user;
  options.password = password;
  return {};
}

// ---- state ----------------------------------------------------------------

struct MqttBridge::Impl {
  struct OutChannel {
    std::string name;
    int qos = 0;
    std::optional<Schema> schema;
    UntypedSubscriber sub;
    std::optional<bool> alive;  // last sent liveness
    bool carried = false;       // claimed: this bridge sends it (else another bridge of the target does)
    std::string last_payload;   // the last sample taken (sent or not): sent again after discovery and reconnects
  };
  struct InChannel {
    std::optional<UntypedPublisher> pub;
    std::uint64_t fingerprint = 0;
    std::optional<Schema> local_schema;
    SteadyClock::time_point local_tried{};
    // The last sequence published, per sending bridge and publisher (its
    // port): a sample sent again (after a reconnect, Home Assistant's
    // restart) is published once, and a gap is skipped in `pub`'s sequence.
    std::map<std::pair<std::string, std::int64_t>, std::uint64_t> last_sequence;
  };
  struct CellLink {
    UntypedCell cell;
    bool owned = false;
    int qos = 1;
    std::uint64_t version_seen = 0;
    std::string last_bytes;  // the value last sent or received: not sent again
    bool announced = false;  // schema and discovery sent since the last connect
  };

  std::optional<Node> node;  // a handle (copied): the caller's Node may go before the bridge
  MqttOptions options;
  std::vector<Route> out_routes, in_routes, state_routes, mirror_routes;
  std::vector<ChannelPattern> settable;
  std::unique_ptr<bridge_detail::MqttLink> link;
  std::unique_ptr<bridge_detail::BridgeRegistry> registry;  // the bus's other bridges
  bridge_detail::DiscoveryContext discovery;

  std::thread bus_thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> resync{false};

  mutable std::mutex mutex;  // everything below, unless marked bus thread
  mutable std::condition_variable changed;
  MqttBridgeStats stats;
  std::optional<Error> bus_lost;  // why the bridge left its bus
  std::optional<Error> link_lost;  // why the link gave up
  bool ready = false;
  std::map<std::string, std::uint64_t> dropped_while_down;
  SteadyClock::time_point down_since{};
  bool was_connected = false;
  bool up = false;  // between on_connected and on_disconnected (the link's flag rises before on_connected runs)
  std::map<std::string, InChannel> in_channels;
  std::map<std::string, Schema> remote_schemas;  // channel, or "state/<cell>"
  std::map<std::string, std::string> pending_mirror;  // cell → value waiting for its schema
  std::set<std::uint64_t> own_ports;
  std::map<std::string, CellLink> cells;
  RefusalLog refusal_log;
  std::set<std::string> climate_refused;  // climates whose refusal was logged

  // bus thread only
  std::deque<OutChannel> outs;  // a deque: the WaitSet keeps their addresses
  std::set<std::string> skipped_channels;
  std::uint64_t announced_connects = 0;  // the connect (stats.connects) whose announcement is done
  std::optional<WaitSet> waitset;
  std::optional<ChannelWatch> watch;
  ClockMode clock_mode_sent = ClockMode::real;
  double clock_rate_sent = -1.0;
  SteadyClock::time_point next_clock{};
  std::string clock_error;  // network thread: the last kind of failure to follow (digits as '#'), logged once

  // ---- outbound ------------------------------------------------------------

  void count_drop(const std::string& channel) {
    std::lock_guard lock(mutex);
    ++stats.dropped;
    ++stats.dropped_by_channel[channel];
    changed.notify_all();
    if (!link->connected()) ++dropped_while_down[channel];
  }

  bool send(const std::string& topic, std::string_view payload, int qos, bool retain) {
    return link->publish(topic, payload, qos, retain) == bridge_detail::MqttLink::Sent::ok;
  }

  void announce_channel(OutChannel& out) {
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

  // The thermostats whose target is the cell `name`.
  void announce_climates(const std::string& name, const Schema& schema, bool settable_cell) {
    for (const MqttClimate& climate : options.climates) {
      if (bridge_detail::split_field(climate.target).first != name) continue;
      auto is_cell = [this](const std::string& thing) {
        return cells.count(thing) != 0 || static_cast<bool>(UntypedCell::open(thing));
      };
      auto entity = bridge_detail::resolve_climate(climate, options.prefix, schema, is_cell);
      if (!entity || !settable_cell) {
        if (climate_refused.insert(climate.name).second) {
          spdlog::warn("Home Assistant climate '{}' is not announced: {}", climate.name,
                       entity ? "its target cell " + name + " is not --settable" : entity.error());
        }
        continue;
      }
      const auto m = bridge_detail::discover_climate(discovery, *entity);
      send(m.topic, m.payload, 1, true);
    }
  }

  void announce_cell(const std::string& name, CellLink& link_) {
    const Schema& schema = link_.cell.schema();
    send(bridge_detail::cell_schema_topic(options.prefix, name), schema.to_json(), 1, true);
    if (!options.homeassistant_prefix.empty()) {
      const bool can_set =
          std::any_of(settable.begin(), settable.end(), [&](const ChannelPattern& p) { return p.matches(name); });
      for (const auto& m : bridge_detail::discover_cell(discovery, name, schema, can_set)) send(m.topic, m.payload, 1, true);
      announce_climates(name, schema, can_set);
    }
    std::string value(link_.cell.size(), '\0');
    const std::uint64_t version = link_.cell.load(value.data());
    if (send(bridge_detail::cell_topic(options.prefix, name),
             bridge_detail::encode_cell(schema, value.data(), version, options.client_id, wall_ns()), link_.qos, true)) {
      link_.version_seen = version;
      link_.last_bytes = value;
      link_.announced = true;
      ++stats.cells_sent;
    }
  }

  void scan_channels() {
    if (!watch) return;
    for (const std::string& name : watch->next(0ns)) {
      const Route* route = match(out_routes, name);
      if (route == nullptr || skipped_channels.count(name) != 0) continue;
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
  void claim_out(OutChannel& out) {
    out.carried = registry->claim(Carry::out, out.name);
    if (out.carried && link->connected() && connection_announced()) announce_channel(out);
  }

  bool connection_announced() const {
    std::lock_guard lock(mutex);
    return up && announced_connects == stats.connects;
  }

  void scan_cells() {
    if (state_routes.empty() && mirror_routes.empty()) return;
    auto found = list_cells();
    if (!found) return;
    std::lock_guard lock(mutex);
    for (const CellInfo& info : *found) {
      if (cells.count(info.name) != 0) continue;
      const Route* owned = match(state_routes, info.name);
      const Route* mirrored = owned != nullptr ? nullptr : match(mirror_routes, info.name);
      if ((owned == nullptr && mirrored == nullptr) || bridge_detail::is_bridges_cell(info.name)) continue;
      if (!registry->claim(owned != nullptr ? Carry::owned_cell : Carry::mirrored_cell, info.name)) continue;
      auto cell = UntypedCell::open(info.name);
      if (!cell) continue;
      CellLink entry{std::move(*cell), owned != nullptr, (owned != nullptr ? owned : mirrored)->qos, 0, {}, false};
      std::string value(entry.cell.size(), '\0');
      entry.version_seen = entry.cell.load(value.data());
      entry.last_bytes = value;  // a mirror sends only what is written here from now on
      auto [at, inserted] = cells.emplace(info.name, std::move(entry));
      if (at->second.owned && link->connected()) announce_cell(at->first, at->second);
    }
  }

  void take_and_send(OutChannel& out) {
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
  void send_liveness() {
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
      if (out.alive == alive || !link->connected() || !connection_announced()) continue;  // after the connection is announced
      if (send(bridge_detail::alive_topic(options.prefix, out.name), alive ? "online" : "offline", 1, true)) {
        out.alive = alive;
      }
    }
  }

  void poll_cells() {
    std::lock_guard lock(mutex);
    for (auto& [name, entry] : cells) {
      const std::uint64_t version = entry.cell.version();
      if (version == entry.version_seen) continue;
      std::string value(entry.cell.size(), '\0');
      const std::uint64_t loaded = entry.cell.load(value.data());
      if (value == entry.last_bytes) {
        entry.version_seen = loaded;
        continue;
      }
      const Schema& schema = entry.cell.schema();
      const bool sent =
          entry.owned
              ? send(bridge_detail::cell_topic(options.prefix, name),
                     bridge_detail::encode_cell(schema, value.data(), loaded, options.client_id, wall_ns()), entry.qos,
                     true)
              : send(bridge_detail::cell_set_topic(options.prefix, name), schema.render_json(value.data()), entry.qos,
                     false);
      if (!sent) continue;  // sent again once the link is back
      entry.version_seen = loaded;
      entry.last_bytes = value;
      ++stats.cells_sent;
      changed.notify_all();
    }
  }

  void resend_all() {
    for (OutChannel& out : outs) announce_channel(out);
    std::lock_guard lock(mutex);
    for (auto& [name, entry] : cells) {
      if (entry.owned) announce_cell(name, entry);
    }
  }

  // The clock, when this bus sends it: at once on a change of mode or rate, else five times a second.
  void send_clock(bool resending, SteadyClock::time_point now) {
    const ClockStatus status = VirtualClock::status();
    const bool changed_mode = status.mode != clock_mode_sent || status.rate != clock_rate_sent;
    if (!resending && !changed_mode && now < next_clock) return;
    if (send(bridge_detail::clock_topic(options.prefix), bridge_detail::read_clock_json(), 0, true)) {
      clock_mode_sent = status.mode;
      clock_rate_sent = status.rate;
      next_clock = now + 200ms;
    }
  }

  // The bus is gone (its daemon stopped, died or was replaced): nothing
  // of it is to be relayed any more. Says so, marks the bridge offline on
  // the broker and leaves the bus alone (its ports are not used again).
  void leave_lost_bus(const Error& why) {
    spdlog::error("{}; the bridge goes offline", why.message());
    link->stop("offline");
    std::lock_guard lock(mutex);
    bus_lost = why;
    changed.notify_all();
  }

  void run_bus_thread() {
    auto next_scan = SteadyClock::now();
    auto next_liveness = SteadyClock::now();
    auto next_health = SteadyClock::now();
    while (!stopping.load(std::memory_order_acquire)) {
      const auto now = SteadyClock::now();
      if (now >= next_health) {
        next_health = now + 100ms;
        if (auto health = node->bus_health(); !health) return leave_lost_bus(health.error());
      }
      if (registry->refresh() > 0) {  // another bridge took this one for gone: claim again at the next look
        for (OutChannel& out : outs) out.carried = registry->claim(Carry::out, out.name);
        std::lock_guard lock(mutex);
        for (auto it = cells.begin(); it != cells.end();) {
          const bool kept = registry->claim(it->second.owned ? Carry::owned_cell : Carry::mirrored_cell, it->first);
          it = kept ? std::next(it) : cells.erase(it);
        }
      }
      const bool resending = resync.exchange(false);
      std::uint64_t announcing = 0;  // the connect this round announces everything for
      if (resending) {
        std::lock_guard lock(mutex);
        announcing = stats.connects;
      }
      if (now >= next_scan || resending) {
        scan_channels();
        scan_cells();
        next_scan = now + 250ms;
      }
      if (resending) {
        resend_all();
        std::lock_guard lock(mutex);
        announced_connects = announcing;  // from now on a channel found is announced on its own
      }
      if (now >= next_liveness || resending) {
        send_liveness();
        next_liveness = now + 250ms;
      }
      if (options.clock == MqttOptions::ClockSync::send && link->connected()) send_clock(resending, now);
      if (resending && link->connected()) {
        std::lock_guard lock(mutex);
        ready = true;
        changed.notify_all();
      }
      if (waitset && !outs.empty()) {
        for (const std::size_t index : waitset->wait(10ms)) take_and_send(outs[index]);
      } else {
        std::unique_lock lock(mutex);
        changed.wait_for(lock, 10ms, [&] { return stopping.load(); });
      }
      poll_cells();
    }
  }

  // ---- inbound (network thread) -------------------------------------------

  void refuse(const std::string& topic, const Refusal& refusal) {
    ++stats.refused;
    ++stats.refused_by_reason[refusal.category];
    changed.notify_all();
    refusal_log.log(topic, refusal);
  }

  void on_connected() {
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

  void on_disconnected(const std::string& why, std::chrono::seconds next_try) {
    std::lock_guard lock(mutex);
    up = false;
    if (ready || !was_connected) down_since = SteadyClock::now();
    ready = false;
    changed.notify_all();
    spdlog::warn("no link to {}: {}; trying again in {} s", options.broker, why, next_try.count());
  }

  void on_gave_up(const std::string& why) {
    spdlog::error("no link to {}: {}; trying again cannot mend that, so the bridge gives up after {} tries "
                  "(--keep-trying goes on)",
                  options.broker, why, 3);
    std::lock_guard lock(mutex);
    ready = false;
    link_lost = Error(Errc::not_permitted, "the link to " + options.broker + " gave up: " + why);
    changed.notify_all();
  }

  void on_message(std::string_view topic, std::string_view payload) {
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

  void follow(std::string_view payload) {
    const auto reading = bridge_detail::parse_clock_json(payload);
    const std::string error =
        reading ? bridge_detail::follow_clock(*reading) : "not a clock reading: " + std::string(payload);
    // Logged once per kind of failure: its text with the numbers left out.
    std::string kind = error;
    for (char& c : kind) c = (c >= '0' && c <= '9') ? '#' : c;
    if (!error.empty() && kind != clock_error) spdlog::warn("cannot follow the clock of {}: {}", options.prefix, error);
    clock_error = std::move(kind);
  }

  void sample_in(const std::string& channel, const std::string& topic, std::string_view payload,
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
        decoded.error().reason = "no schema is known for channel '" + channel + "' (a bridge that sends it retains it on " +
                                 bridge_detail::channel_schema_topic(options.prefix, channel) +
                                 "), and the message carries no base64 bytes";
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
      refuse(topic, {"bus", published.error() == LoanError::too_large ? "larger than the bus's largest pool"
                                                                      : "the bus's pools are exhausted"});
      return;
    }
    ++stats.received;
    changed.notify_all();
  }

  // The bus publisher for an inbound channel, (re)made for `schema`.
  tl::expected<void, std::optional<Refusal>> open_in_publisher(const std::string& channel, InChannel& in,
                                                               const Schema* schema) {
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

  CellLink* owned_cell(const std::string& name) {
    if (auto at = cells.find(name); at != cells.end()) return at->second.owned ? &at->second : nullptr;
    auto cell = UntypedCell::open(name);
    if (!cell) return nullptr;
    const Route* route = match(state_routes, name);
    CellLink entry{std::move(*cell), true, route->qos, 0, {}, false};
    return &cells.emplace(name, std::move(entry)).first->second;
  }

  void write_in(const std::string& name, const std::string& topic, std::string_view payload) {
    CellLink* entry = owned_cell(name);
    if (entry == nullptr) {
      refuse(topic, {"bad name", "no cell '" + name + "' on this bus (`statebus state` lists them)"});
      return;
    }
    std::optional<Refusal> refused;
    auto stored = entry->cell.update([&](void* value) {
      auto applied = bridge_detail::apply_write(entry->cell.schema(), payload, value);
      if (!applied) refused = applied.error();
      return static_cast<bool>(applied);
    });
    if (!stored && !refused) refused = bridge_detail::refusal_from(stored.error());
    if (refused) {
      refuse(topic, *refused);
      return;
    }
    ++stats.cells_applied;
    changed.notify_all();
  }

  void mirror_in(const std::string& name, const std::string& topic, std::string_view payload,
                 std::unique_lock<std::mutex>& lock) {
    (void)lock;
    if (payload.empty()) return;  // a cleared retained value
    auto at = cells.find(name);
    const Schema* schema = nullptr;
    if (at != cells.end()) {
      schema = &at->second.cell.schema();
    } else if (auto remote = remote_schemas.find("state/" + name); remote != remote_schemas.end()) {
      schema = &remote->second;
    } else {
      pending_mirror[name] = std::string(payload);  // its schema comes next (retained)
      return;
    }
    auto decoded = bridge_detail::decode_message(payload, schema);
    if (!decoded) {
      refuse(topic, decoded.error());
      return;
    }
    if (at == cells.end()) {
      auto cell = UntypedCell::open_or_create(name, *schema, decoded->bytes.data());
      if (!cell) {
        refuse(topic, {cell.error().code() == Errc::type_mismatch ? "type mismatch" : "bus", cell.error().message()});
        return;
      }
      const Route* route = match(mirror_routes, name);
      at = cells.emplace(name, CellLink{std::move(*cell), false, route->qos, 0, {}, false}).first;
      ++stats.cells_applied;
      changed.notify_all();
    }
    CellLink& entry = at->second;
    std::string current(entry.cell.size(), '\0');
    entry.cell.load(current.data());
    entry.last_bytes = decoded->bytes;  // what the owner says: not sent back
    if (current != decoded->bytes) {
      if (auto stored = entry.cell.store(decoded->bytes.data()); !stored) {
        refuse(topic, bridge_detail::refusal_from(stored.error()));
        return;
      }
      ++stats.cells_applied;
      changed.notify_all();
    }
  }
};

// ---- the handle -------------------------------------------------------------

Result<void> MqttBridge::check_options(const MqttOptions& options) {
  auto broker = bridge_detail::parse_broker_url(options.broker);
  if (!broker) return tl::make_unexpected(broker.error());
  if (broker->tls && options.ca_file.empty()) {
    return tl::make_unexpected(bad_option("mqtts:// needs the CA file that signed the broker's certificate (--cafile)"));
  }
  for (const std::string* file : {&options.ca_file, &options.cert_file, &options.key_file}) {
    if (!file->empty() && ::access(file->c_str(), R_OK) != 0) {
      return tl::make_unexpected(bad_option("cannot read '" + *file + "'; give a readable PEM file"));
    }
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return tl::make_unexpected(bad_option("a client certificate (--cert) needs its key (--key), and a key its certificate"));
  }
  if (options.prefix.empty() || options.prefix.find_first_of("#+$") != std::string::npos || options.prefix.back() == '/' ||
      options.prefix.front() == '/') {
    return tl::make_unexpected(bad_option("prefix '" + options.prefix +
                                          "' must be one or more topic levels without '#', '+', '$' or a leading or "
                                          "trailing '/'"));
  }
  if (options.client_id.size() > 128) return tl::make_unexpected(bad_option("the client id is over 128 characters"));
  if (options.client_id.find_first_of("/+#") != std::string::npos) {
    return tl::make_unexpected(bad_option("client id '" + options.client_id +
                                          "' has a '/', '+' or '#': it names the bridge's status topic "
                                          "(PREFIX/$status/ID); use letters, digits, '-', '_' and '.'"));
  }
  for (auto [routes, name] : {std::pair{&options.out, "--out"}, std::pair{&options.in, "--in"},
                              std::pair{&options.state, "--state"}, std::pair{&options.mirror, "--mirror"}}) {
    auto parsed = parse_routes(*routes, name);
    if (!parsed) return tl::make_unexpected(parsed.error());
  }
  for (const MqttRoute& r : options.in) {
    if (first_part_is_state(r.pattern)) {
      return tl::make_unexpected(bad_option("--in " + r.pattern + ": topics under state/ are cells' (use --mirror)"));
    }
  }
  for (const std::string& text : options.settable) {
    if (auto pattern = ChannelPattern::parse(text); !pattern) {
      return tl::make_unexpected(bad_option("--settable: " + pattern.error().message()));
    }
  }
  if (!options.climates.empty() && options.homeassistant_prefix.empty()) {
    return tl::make_unexpected(bad_option("--ha-climate needs --homeassistant"));
  }
  return {};
}

Result<MqttBridge> MqttBridge::start(const Node& node, MqttOptions options) {
  if (auto checked = check_options(options); !checked) return tl::make_unexpected(checked.error());
  auto impl = std::make_unique<Impl>();
  impl->node = node;
  const auto broker = bridge_detail::parse_broker_url(options.broker);
  if (options.client_id.empty()) options.client_id = default_client_id();
  impl->out_routes = *parse_routes(options.out, "--out");
  impl->in_routes = *parse_routes(options.in, "--in");
  impl->state_routes = *parse_routes(options.state, "--state");
  impl->mirror_routes = *parse_routes(options.mirror, "--mirror");
  for (const std::string& text : options.settable) impl->settable.push_back(*ChannelPattern::parse(text));
  impl->options = std::move(options);
  const MqttOptions& o = impl->options;
  impl->discovery = {o.homeassistant_prefix, o.prefix, o.client_id};
  // The target: the broker as written (scheme, host, port) and the prefix.
  auto registry = bridge_detail::BridgeRegistry::join(
      std::string(broker->tls ? "mqtts://" : "mqtt://") + broker->host + ":" + std::to_string(broker->port) + "\n" +
          o.prefix,
      o.client_id);
  if (!registry) return tl::make_unexpected(registry.error());
  impl->registry = std::move(*registry);
  if (!impl->out_routes.empty()) {
    auto waitset = WaitSet::create(node);
    if (!waitset) return tl::make_unexpected(waitset.error());
    impl->waitset = std::move(*waitset);
    auto watch = ChannelWatch::create(node);
    if (!watch) return tl::make_unexpected(watch.error());
    impl->watch = std::move(*watch);
  }
  bridge_detail::LinkSettings settings;
  settings.broker = *broker;
  settings.ca_file = o.ca_file;
  settings.cert_file = o.cert_file;
  settings.key_file = o.key_file;
  settings.username = o.username;
  settings.password = o.password;
  settings.client_id = o.client_id;
  settings.keepalive_seconds = o.keepalive_seconds;
  settings.will_topic = bridge_detail::status_topic(o.prefix, o.client_id);
  settings.will_payload = "offline";
  settings.max_in_flight = o.max_in_flight;
  settings.keep_trying = o.keep_trying;
  Impl* self = impl.get();
  bridge_detail::LinkHandlers handlers;
  handlers.message = [self](std::string_view topic, std::string_view payload, bool) { self->on_message(topic, payload); };
  handlers.connected = [self] { self->on_connected(); };
  handlers.disconnected = [self](const std::string& why, std::chrono::seconds next_try) {
    self->on_disconnected(why, next_try);
  };
  handlers.gave_up = [self](const std::string& why) { self->on_gave_up(why); };
  auto link = bridge_detail::MqttLink::start(settings, std::move(handlers));
  if (!link) return tl::make_unexpected(link.error());
  impl->link = std::move(*link);
  impl->link->connect();
  impl->bus_thread = std::thread([self] { self->run_bus_thread(); });
  return MqttBridge(std::move(impl));
}

MqttBridge::MqttBridge(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
MqttBridge::MqttBridge(MqttBridge&&) noexcept = default;
MqttBridge& MqttBridge::operator=(MqttBridge&& other) noexcept {
  if (this != &other) {
    stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
MqttBridge::~MqttBridge() { stop(); }

void MqttBridge::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->changed.notify_all();
  if (impl_->bus_thread.joinable()) impl_->bus_thread.join();
  impl_->link->stop("offline");
  impl_->registry.reset();  // its claims go to the bus's other bridges at their next look
}

Result<void> MqttBridge::bus_health() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->bus_lost) return tl::make_unexpected(*impl_->bus_lost);
  return {};
}

Result<void> MqttBridge::link_health() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->link_lost) return tl::make_unexpected(*impl_->link_lost);
  return {};
}

MqttBridgeStats MqttBridge::stats() const {
  std::lock_guard lock(impl_->mutex);
  MqttBridgeStats copy = impl_->stats;
  copy.connected = impl_->link->connected();
  return copy;
}

const std::string& MqttBridge::client_id() const noexcept { return impl_->options.client_id; }

bool MqttBridge::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->stats.connects > 0 && impl_->link->connected(); });
}

bool MqttBridge::wait_for(const std::function<bool(const MqttBridgeStats&)>& done,
                          std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] {
    MqttBridgeStats now = impl_->stats;
    now.connected = impl_->link->connected();
    return done(now);
  });
}

bool MqttBridge::wait_ready(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->ready; });
}

}  // namespace statebus
