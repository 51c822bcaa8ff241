// Cells, both ways: owned cells (--state) sent on every change and written
// through `/set`; mirrored cells (--mirror) kept equal to their owner's value.
#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "bridge_impl.hpp"
#include "climate.hpp"
#include "topics.hpp"

namespace statebus {

using bridge_detail::Carry;
using bridge_detail::match;
using bridge_detail::wall_ns;

// The thermostats whose target is the cell `name`.
void MqttBridge::Impl::announce_climates(const std::string& name, const Schema& schema, bool settable_cell) {
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

void MqttBridge::Impl::announce_cell(const std::string& name, CellLink& link_) {
  const Schema& schema = link_.cell.schema();
  send(bridge_detail::cell_schema_topic(options.prefix, name), schema.to_json(), 1, true);
  if (!options.homeassistant_prefix.empty()) {
    const bool can_set =
        std::any_of(settable.begin(), settable.end(), [&](const ChannelPattern& p) { return p.matches(name); });
    for (const auto& m : bridge_detail::discover_cell(discovery, name, schema, can_set)) {
      send(m.topic, m.payload, 1, true);
    }
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

void MqttBridge::Impl::scan_cells() {
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

void MqttBridge::Impl::poll_cells() {
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

MqttBridge::Impl::CellLink* MqttBridge::Impl::owned_cell(const std::string& name) {
  if (auto at = cells.find(name); at != cells.end()) return at->second.owned ? &at->second : nullptr;
  auto cell = UntypedCell::open(name);
  if (!cell) return nullptr;
  const Route* route = match(state_routes, name);
  CellLink entry{std::move(*cell), true, route->qos, 0, {}, false};
  return &cells.emplace(name, std::move(entry)).first->second;
}

void MqttBridge::Impl::write_in(const std::string& name, const std::string& topic, std::string_view payload) {
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

void MqttBridge::Impl::mirror_in(const std::string& name, const std::string& topic, std::string_view payload,
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

}  // namespace statebus
