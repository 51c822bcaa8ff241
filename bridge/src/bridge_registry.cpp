#include "bridge_registry.hpp"

#include <time.h>

#include <algorithm>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "statebus/base/describe.hpp"
#include "statebus/base/process.hpp"
#include "statebus/state/cell.hpp"

namespace statebus::bridge_detail {

// The cell's layout: a fixed table of rows, one per claim (and one per
// bridge, its presence). Changing it needs a new type name.
struct BridgeRow {
  std::int32_t pid = 0;  // 0: a free row
  std::uint32_t kind = 0;
  std::uint64_t start_time = 0;
  std::uint64_t pid_namespace = 0;
  std::uint64_t target = 0;
  std::uint64_t key = 0;  // presence: the client id's hash; else the name's
  std::uint64_t port = 0;  // Carry::in: the bus port that publishes it
  std::int64_t heartbeat_ns = 0;
};
STATEBUS_MESSAGE(BridgeRow, "statebus/BridgeRow", pid, kind, start_time, pid_namespace, target, key, port, heartbeat_ns);

struct BridgeTable {
  static constexpr std::size_t kRows = 512;
  BridgeRow rows[kRows];
};
STATEBUS_MESSAGE(BridgeTable, "statebus/BridgeTable", rows);

namespace {

constexpr const char* kCellName = "statebus/bridges";
constexpr std::int64_t kHeartbeatEvery = 1'000'000'000;
constexpr std::int64_t kHeartbeatStale = 5'000'000'000;

std::int64_t monotonic_now() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::uint64_t name_key(Carry what, std::string_view name) noexcept {
  return stable_hash(name) ^ (static_cast<std::uint64_t>(what) * 0x9E3779B97F4A7C15ULL);
}

}  // namespace

bool is_bridges_cell(std::string_view name) noexcept { return name == kCellName; }

std::uint64_t stable_hash(std::string_view text) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

struct BridgeRegistry::Impl {
  Cell<BridgeTable> cell;
  ProcessId me;
  std::uint64_t my_namespace = 0;
  std::uint64_t target = 0;
  std::uint64_t origin = 0;

  std::mutex mutex;  // everything below
  BridgeTable seen{};           // the table as last read
  std::uint64_t seen_version = ~0ULL;
  std::set<std::uint64_t> mine;  // claim keys this bridge holds
  std::unordered_set<std::uint64_t> peer_ports;    // inbound publishers of this target's bridges
  std::unordered_set<std::uint64_t> peer_origins;  // client id hashes of this target's bridges
  std::int64_t next_heartbeat = 0;
  bool full_said = false;

  explicit Impl(Cell<BridgeTable> c) : cell(std::move(c)) {}

  bool is_mine(const BridgeRow& row) const noexcept {
    return row.pid == me.pid && row.start_time == me.start_time && row.pid_namespace == my_namespace;
  }

  // Alive on the kernel's word in this namespace; by its heartbeat elsewhere.
  bool alive(const BridgeRow& row, std::int64_t now) const noexcept {
    if (row.pid == 0) return false;
    if (is_mine(row)) return true;
    if (row.pid_namespace == my_namespace && my_namespace != 0) {
      return is_alive(ProcessId{static_cast<pid_t>(row.pid), row.start_time});
    }
    return now - row.heartbeat_ns < kHeartbeatStale;
  }

  // Reads the table when it changed (mutex held), and the inbound ports and
  // origins of this target's bridges in it (dead ones' too, until a claim
  // frees their rows: they send nothing more).
  void reload() {
    if (cell.version() == seen_version) return;
    const auto [value, version] = cell.load_versioned();
    seen = value;
    seen_version = version;
    peer_ports.clear();
    peer_origins.clear();
    for (const BridgeRow& row : seen.rows) {
      if (row.pid == 0 || row.target != target) continue;
      if (row.kind == static_cast<std::uint32_t>(Carry::in) && row.port != 0) peer_ports.insert(row.port);
      if (row.kind == static_cast<std::uint32_t>(Carry::presence)) peer_origins.insert(row.key);
    }
  }

  // The row of `kind`/`key` for this target that a live bridge holds, in `table`.
  const BridgeRow* holder(const BridgeTable& table, Carry kind, std::uint64_t key, std::int64_t now) const {
    for (const BridgeRow& row : table.rows) {
      if (row.pid != 0 && row.kind == static_cast<std::uint32_t>(kind) && row.target == target && row.key == key &&
          alive(row, now)) {
        return &row;
      }
    }
    return nullptr;
  }

  // Adds a row of this bridge in one read-modify-write, freeing the rows of
  // bridges found dead on the way. False if a live bridge holds it or the
  // table is full.
  bool add(Carry kind, std::uint64_t key, std::uint64_t port = 0) {
    const std::int64_t now = monotonic_now();
    bool added = false;
    bool full = false;
    cell.update([&](BridgeTable& table) {
      for (BridgeRow& row : table.rows) {
        if (row.pid != 0 && !alive(row, now)) row = BridgeRow{};
      }
      if (const BridgeRow* held = holder(table, kind, key, now); held != nullptr) {
        added = is_mine(*held);
        return true;  // the freed rows are kept freed
      }
      for (BridgeRow& row : table.rows) {
        if (row.pid != 0) continue;
        row = BridgeRow{me.pid, static_cast<std::uint32_t>(kind), me.start_time, my_namespace, target, key, port, now};
        added = true;
        return true;
      }
      full = true;
      return true;
    });
    if (full && !full_said) {
      full_said = true;
      spdlog::warn("the bus's table of bridges ({} rows) is full: this bridge carries what it was asked to without "
                   "asking the others, so samples may go out twice; run fewer bridges or bridge fewer channels",
                   BridgeTable::kRows);
    }
    return added || full;
  }
};

Result<std::unique_ptr<BridgeRegistry>> BridgeRegistry::join(std::string_view target, std::string_view client_id) {
  auto cell = Cell<BridgeTable>::open_or_create(kCellName);
  if (!cell) return tl::make_unexpected(cell.error());
  auto impl = std::make_unique<Impl>(std::move(*cell));
  impl->me = this_process();
  impl->my_namespace = pid_namespace().value_or(0);
  impl->target = stable_hash(target);
  impl->origin = stable_hash(client_id);
  {
    std::lock_guard lock(impl->mutex);
    impl->reload();
    if (const BridgeRow* other = impl->holder(impl->seen, Carry::presence, impl->origin, monotonic_now());
        other != nullptr && !impl->is_mine(*other)) {
      return tl::make_unexpected(Error(
          Errc::name_in_use, "another bridge on this bus (pid " + std::to_string(other->pid) + ") uses the client id " +
                                 std::string(client_id) +
                                 " with this broker and prefix: two clients with one id knock each other off the "
                                 "broker; give each bridge its own --client-id"));
    }
    impl->add(Carry::presence, impl->origin);
    impl->next_heartbeat = monotonic_now() + kHeartbeatEvery;
  }
  return std::unique_ptr<BridgeRegistry>(new BridgeRegistry(std::move(impl)));
}

BridgeRegistry::BridgeRegistry(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

BridgeRegistry::~BridgeRegistry() {
  if (!impl_) return;
  impl_->cell.update([&](BridgeTable& table) {
    for (BridgeRow& row : table.rows) {
      if (impl_->is_mine(row)) row = BridgeRow{};
    }
  });
}

bool BridgeRegistry::claim(Carry what, std::string_view name) {
  const std::uint64_t key = name_key(what, name);
  std::lock_guard lock(impl_->mutex);
  if (impl_->mine.count(key) != 0) return true;
  impl_->reload();
  if (impl_->holder(impl_->seen, what, key, monotonic_now()) != nullptr) return false;  // a live peer's
  if (!impl_->add(what, key)) return false;
  impl_->mine.insert(key);
  return true;
}

void BridgeRegistry::set_in_port(std::string_view channel, std::uint64_t port) {
  const std::uint64_t key = name_key(Carry::in, channel);
  std::lock_guard lock(impl_->mutex);
  impl_->cell.update([&](BridgeTable& table) {
    for (BridgeRow& row : table.rows) {
      if (impl_->is_mine(row) && row.kind == static_cast<std::uint32_t>(Carry::in) && row.key == key) row.port = port;
    }
  });
}

bool BridgeRegistry::published_by_peer(std::uint64_t port) {
  std::lock_guard lock(impl_->mutex);
  impl_->reload();
  return impl_->peer_ports.count(port) != 0;
}

bool BridgeRegistry::sent_by_peer(std::string_view client_id) {
  const std::uint64_t origin = stable_hash(client_id);
  std::lock_guard lock(impl_->mutex);
  if (origin == impl_->origin) return true;
  impl_->reload();
  return impl_->peer_origins.count(origin) != 0;
}

std::size_t BridgeRegistry::refresh() {
  std::lock_guard lock(impl_->mutex);
  const std::int64_t now = monotonic_now();
  if (now < impl_->next_heartbeat) return 0;
  impl_->next_heartbeat = now + kHeartbeatEvery;
  std::set<std::uint64_t> held;
  impl_->cell.update([&](BridgeTable& table) {
    for (BridgeRow& row : table.rows) {
      if (!impl_->is_mine(row)) continue;
      row.heartbeat_ns = now;
      held.insert(row.key);
    }
  });
  if (held.count(impl_->origin) == 0) impl_->add(Carry::presence, impl_->origin);  // taken for dead meanwhile
  std::size_t lost = 0;
  for (auto it = impl_->mine.begin(); it != impl_->mine.end();) {
    if (held.count(*it) == 0) {
      it = impl_->mine.erase(it);
      ++lost;
    } else {
      ++it;
    }
  }
  return lost;
}

std::size_t BridgeRegistry::peers() {
  std::lock_guard lock(impl_->mutex);
  impl_->reload();
  const std::int64_t now = monotonic_now();
  return static_cast<std::size_t>(std::count_if(std::begin(impl_->seen.rows), std::end(impl_->seen.rows), [&](const BridgeRow& row) {
    return row.pid != 0 && row.kind == static_cast<std::uint32_t>(Carry::presence) && row.target == impl_->target &&
           impl_->alive(row, now);
  }));
}

}  // namespace statebus::bridge_detail
