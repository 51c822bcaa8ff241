#include "statebus/state/cell.hpp"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>

#include "layout.hpp"
#include "segment_check.hpp"
#include "statebus/internal/bus_segment.hpp"
#include "statebus/internal/event_count.hpp"
#include "statebus/internal/robust_mutex.hpp"
#include "statebus/internal/seqlock_pair.hpp"
#include "statebus/internal/shared_segment.hpp"
#include "statebus/internal/state_segment.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "store_hook.hpp"

namespace statebus {
namespace {

using detail::CellHeader;
using detail::RegistryEntry;
using detail::StateRegistry;
using detail::StateSegmentData;
using detail::CheckedCell;
using detail::words_for;

// Cells are plain pointers into it: mapped until the process ends.
detail::BusSegment<StateSegmentData> g_segment{
    detail::kStateSegmentName, SharedSegment::Layout{detail::kStateMagic, detail::kStateMajor, detail::kStateMinor,
                                                     sizeof(StateSegmentData), "state segment"}};
std::atomic<detail::StoreHook> g_mid_store_hook{nullptr};
std::atomic<detail::StoreHook> g_mid_load_hook{nullptr};
std::atomic<detail::StoreHook> g_mid_wake_hook{nullptr};
std::atomic<detail::StoreHook> g_before_sleep_hook{nullptr};

void run_hook(const std::atomic<detail::StoreHook>& hook) noexcept {
  if (const detail::StoreHook call = hook.load(std::memory_order_relaxed)) call();
}
std::mutex g_attach_mutex;

Result<StateSegmentData*> attached() {
  if (StateSegmentData* data = g_segment.get()) return data;
  std::lock_guard<std::mutex> guard(g_attach_mutex);
  if (StateSegmentData* data = g_segment.get()) return data;
  // Cells wait on the bus's clock: a process that uses only cells must wait
  // on virtual time too, from its first cell on, so the clock is attached
  // before any thread can see the segment. (Without a clock segment the
  // clock runs on real time, as everywhere.)
  if (!VirtualClock::status().shared) (void)VirtualClock::attach();
  return g_segment.attached();
}

using detail::init_robust_mutex;
using detail::RobustLock;

// A lock that cannot be taken (ENOTRECOVERABLE, a corrupt segment) is never
// written around: say so once, leave the value as it is.
Result<void> locked_or_said(const RobustLock& lock, std::string_view cell) {
  if (lock.held()) return {};
  const Error why = lock.failure("a state cell");
  static std::atomic<bool> said{false};
  if (!said.exchange(true)) {  // for the writer that does not look at the result
    std::fprintf(stderr, "statebus: %s; the cell '%.*s' keeps its value\n", why.message().c_str(),
                 static_cast<int>(cell.size()), cell.data());
  }
  return fail(why.code(), why.message() + "; the cell '" + std::string(cell) + "' keeps its value");
}

// Wakes the cell's waiters (internal/event_count.hpp: a waiter killed while
// it waits costs at most one wake-up, not one per store for ever).
void wake_waiters(CellHeader& cell) noexcept {
  detail::EventCount wake(cell.wake);
  const bool sleepers = wake.count();
  run_hook(g_mid_wake_hook);
  if (sleepers) wake.wake();
}

// Cell names: 1–63 characters of [A-Za-z0-9_-] in '/'-separated non-empty parts.
Result<void> validate_cell_name(std::string_view name) {
  const auto bad = [&](const std::string& why) {
    return fail(Errc::invalid_argument, "bad cell name '" + std::string(name) + "': " + why +
                                            " (use 1–63 characters of A-Z a-z 0-9 _ - in /-separated parts, "
                                            "like home/setpoint)");
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > detail::kMaxNameLength) return bad(std::to_string(name.size()) + " characters is too long");
  char previous = '/';
  for (const char c : name) {
    const bool word =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (c == '/' && previous == '/') return bad("it has an empty part");
    if (c != '/' && !word) return bad(std::string("character '") + c + "' is not allowed");
    previous = c;
  }
  if (previous == '/') return bad("it has an empty part");
  return {};
}

// Publishes `in` as the next version. The caller holds the cell's writer lock.
// `words`: the cell's words per copy, as checked when it was opened (never
// re-read from shared memory). The pair (internal/seqlock_pair.hpp) writes
// the spare copy: a writer that dies mid-copy leaves the current one intact,
// and the next store writes the same version into the same copy again.
std::uint64_t store_locked(CellHeader& cell, std::uint32_t words, const void* in, std::size_t size) noexcept {
  const std::uint64_t next = detail::SeqlockPair(cell.pair).write([&](std::uint64_t copy) {
    std::atomic<std::uint64_t>* const to = cell.copy(copy, words);
    if (const detail::StoreHook hook = g_mid_store_hook.load(std::memory_order_relaxed)) {
      const std::size_t half = words_for(size) / 2 * 8;
      detail::store_words(to, in, half);
      hook();
      detail::store_words(to + half / 8, static_cast<const unsigned char*>(in) + half, size - half);
    } else {
      detail::store_words(to, in, size);
    }
  });
  const ProcessId self = this_process();
  cell.writer_pid.store(self.pid, std::memory_order_relaxed);
  cell.writer_start_time.store(self.start_time, std::memory_order_relaxed);
  wake_waiters(cell);
  return next;
}

// The cells' names, for a message; what is damaged is left out (open() and
// list_cells() say it).
std::string known_cells(StateSegmentData& data) {
  std::string names;
  const auto count = detail::checked_count(data.registry);
  for (std::uint32_t i = 0; count && i < *count; ++i) {
    const auto cell = detail::checked_cell(data, i);
    if (cell && *cell) names += (names.empty() ? "" : ", ") + (*cell)->name;
  }
  return names.empty() ? "there are none yet" : "there are: " + names;
}

// The cell called `name`, if there is one.
Result<std::optional<CheckedCell>> find(StateSegmentData& data, std::string_view name) {
  const auto count = detail::checked_count(data.registry);
  if (!count) return tl::make_unexpected(count.error());
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto cell = detail::checked_cell(data, i);
    if (!cell) return tl::make_unexpected(cell.error());
    if (*cell && (*cell)->name == name) return cell;
  }
  return std::optional<CheckedCell>();
}

std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// Creates a cell holding `initial` as version 1. The caller holds the registry lock.
Result<CheckedCell> create_locked(StateSegmentData& data, std::string_view name, const Schema& schema,
                                  const void* initial) {
  StateRegistry& registry = data.registry;
  const auto count = detail::checked_count(registry);
  if (!count) return tl::make_unexpected(count.error());
  const auto used = detail::checked_arena_used(registry);
  if (!used) return tl::make_unexpected(used.error());
  if (*count >= detail::kMaxCells) {
    return fail(Errc::out_of_resources, "cannot create cell '" + std::string(name) + "': the bus holds at most " +
                                            std::to_string(detail::kMaxCells) + " cells and all are taken");
  }
  const std::string json = schema.to_json();
  const std::uint32_t words = words_for(schema.size);
  const std::uint64_t cell_offset = align_up(*used, 64);
  const std::uint64_t schema_offset = cell_offset + CellHeader::footprint(words);
  const std::uint64_t end = schema_offset + json.size();
  if (end > detail::kArenaSize) {
    return fail(Errc::out_of_resources, "cannot create cell '" + std::string(name) + "': the bus's " +
                                            std::to_string(detail::kArenaSize / 1024) + " KiB for cell values is full");
  }
  auto* cell = new (data.arena + cell_offset) CellHeader();
  if (auto mutex = init_robust_mutex(&cell->writer); !mutex) return tl::make_unexpected(mutex.error());
  cell->words = words;
  {
    RobustLock lock(&cell->writer);
    if (!lock.held()) return tl::make_unexpected(lock.failure("a new state cell"));
    store_locked(*cell, words, initial, schema.size);  // version 1
  }
  std::memcpy(data.arena + schema_offset, json.data(), json.size());
  registry.arena_used = end;

  RegistryEntry& entry = registry.entries[*count];
  entry.size = schema.size;
  entry.fingerprint = schema.fingerprint;
  entry.cell_offset = cell_offset;
  entry.schema_offset = schema_offset;
  entry.schema_size = static_cast<std::uint32_t>(json.size());
  std::memset(entry.name, 0, sizeof entry.name);
  std::memcpy(entry.name, name.data(), name.size());
  entry.ready.store(1, std::memory_order_release);
  registry.count.store(*count + 1, std::memory_order_release);
  return CheckedCell{std::string(name), static_cast<std::uint32_t>(schema.size), schema.fingerprint, cell,
                     std::string_view(reinterpret_cast<const char*>(data.arena + schema_offset), json.size())};
}

}  // namespace

void detail::set_mid_store_hook(StoreHook hook) noexcept { g_mid_store_hook.store(hook, std::memory_order_relaxed); }
void detail::set_mid_load_hook(StoreHook hook) noexcept { g_mid_load_hook.store(hook, std::memory_order_relaxed); }
void detail::set_mid_wake_hook(StoreHook hook) noexcept { g_mid_wake_hook.store(hook, std::memory_order_relaxed); }
void detail::set_before_sleep_hook(StoreHook hook) noexcept {
  g_before_sleep_hook.store(hook, std::memory_order_relaxed);
}

Result<void> create_state_segment() {
  auto created = g_segment.create([](void* bytes) -> Result<void> {
    auto* data = new (bytes) StateSegmentData();
    return init_robust_mutex(&data->registry.lock);
  });
  if (!created) return tl::make_unexpected(created.error());
  return {};
}

void remove_state_segment() noexcept { g_segment.unlink(); }

UntypedCell::UntypedCell(detail::CellHeader* header, std::string_view name, Schema schema)
    : header_(header),
      size_(schema.size),
      ranged_(schema.has_ranges()),
      name_(name),
      schema_(std::make_shared<const Schema>(std::move(schema))) {}

Result<UntypedCell> UntypedCell::open_or_create(std::string_view name, const Schema& schema, const void* initial) {
  if (auto valid = validate_cell_name(name); !valid) return tl::make_unexpected(valid.error());
  if (schema.size > detail::kMaxValueSize) {
    return fail(Errc::payload_too_large, "a cell value of " + std::to_string(schema.size) + " bytes (" + schema.name +
                                             ") is too large: cells hold at most " +
                                             std::to_string(detail::kMaxValueSize / 1024) + " KiB");
  }
  auto data = attached();
  if (!data) return tl::make_unexpected(data.error());
  StateRegistry& registry = (*data)->registry;
  std::optional<CheckedCell> cell;
  {
    RobustLock lock(&registry.lock);
    if (!lock.held()) return tl::make_unexpected(lock.failure("the state cells' registry"));
    auto found = find(**data, name);
    if (!found) return tl::make_unexpected(found.error());
    cell = std::move(*found);
    if (!cell) {
      if (auto valid_value = schema.check_ranges(initial); !valid_value) {
        return fail(Errc::invalid_argument, "cell '" + std::string(name) + "' cannot start with this value: " +
                                                valid_value.error().message());
      }
      auto created = create_locked(**data, name, schema, initial);
      if (!created) return tl::make_unexpected(created.error());
      cell = std::move(*created);
    }
  }
  if (cell->fingerprint != schema.fingerprint || cell->size != schema.size) {
    std::string other = "another type";
    if (auto theirs = Schema::from_json(std::string(cell->schema_json))) other = theirs->name;
    return fail(Errc::type_mismatch, "cell '" + std::string(name) + "' holds " + other + " (" +
                                         std::to_string(cell->size) + " bytes, fingerprint " +
                                         fingerprint_hex(cell->fingerprint) + "), not " + schema.name + " (" +
                                         std::to_string(schema.size) + " bytes, fingerprint " +
                                         fingerprint_hex(schema.fingerprint) + ")");
  }
  return UntypedCell(cell->header, name, schema);
}

Result<UntypedCell> UntypedCell::open(std::string_view name) {
  if (auto valid = validate_cell_name(name); !valid) return tl::make_unexpected(valid.error());
  auto data = attached();
  if (!data) return tl::make_unexpected(data.error());
  auto cell = find(**data, name);
  if (!cell) return tl::make_unexpected(cell.error());
  if (!*cell) {
    return fail(Errc::not_found, "no cell '" + std::string(name) + "' on this bus; " + known_cells(**data));
  }
  auto schema = Schema::from_json(std::string((*cell)->schema_json));
  if (!schema) {
    return tl::make_unexpected(detail::state_segment_damaged("cell '" + std::string(name) + "' has a broken schema: " +
                                                             schema.error().message()));
  }
  if (schema->size != (*cell)->size) {
    return tl::make_unexpected(detail::state_segment_damaged(
        "cell '" + std::string(name) + "' holds " + std::to_string((*cell)->size) + " bytes, but its schema (" +
        schema->name + ") describes " + std::to_string(schema->size)));
  }
  return UntypedCell((*cell)->header, name, std::move(*schema));
}

std::uint64_t UntypedCell::load(void* out) const noexcept {
  CellHeader& cell = *header_;
  const std::uint32_t words = words_for(size_);
  return detail::SeqlockPair(cell.pair).read(
      [&](std::uint64_t copy) { detail::load_words(cell.copy(copy, words), out, size_); },
      [] { run_hook(g_mid_load_hook); });
}

Result<void> UntypedCell::out_of_range(const void* value) const {
  auto valid = schema_->check_ranges(value);
  if (!valid) return fail(Errc::invalid_argument, "cell '" + name_ + "' keeps its value: " + valid.error().message());
  return {};
}

Result<void> UntypedCell::store(const void* in) const {
  if (ranged_) {
    if (auto valid = out_of_range(in); !valid) return valid;
  }
  RobustLock lock(&header_->writer);
  if (auto locked = locked_or_said(lock, name_); !locked) return locked;
  store_locked(*header_, words_for(size_), in, size_);
  return {};
}

Result<std::uint64_t> UntypedCell::update(const std::function<bool(void*)>& change) const {
  std::vector<unsigned char> value(size_);
  RobustLock lock(&header_->writer);
  if (auto locked = locked_or_said(lock, name_); !locked) return tl::make_unexpected(locked.error());
  const std::uint64_t version = load(value.data());  // no other writer now: the latest value
  if (!change(value.data())) return version;
  if (ranged_) {
    if (auto valid = out_of_range(value.data()); !valid) return tl::make_unexpected(valid.error());
  }
  return store_locked(*header_, words_for(size_), value.data(), size_);
}

bool detail::cell_may_have_sleepers(const UntypedCell& cell) noexcept {
  // A view of the cell's protected header, for this test hook only.
  struct Peek : UntypedCell {
    explicit Peek(const UntypedCell& cell) : UntypedCell(cell) {}
    [[nodiscard]] bool sleepers() const noexcept { return detail::EventCount(header_->wake).may_have_sleepers(); }
  };
  return Peek(cell).sleepers();
}

Result<void> UntypedCell::bus_health() const {
  return g_segment.still_current("state cells");
}

std::uint64_t UntypedCell::version() const noexcept { return detail::SeqlockPair(header_->pair).version(); }

ProcessId UntypedCell::last_writer() const noexcept {
  return {header_->writer_pid.load(std::memory_order_relaxed),
          header_->writer_start_time.load(std::memory_order_relaxed)};
}

bool UntypedCell::store_in_progress() const noexcept { return detail::SeqlockPair(header_->pair).write_pending(); }

Waited UntypedCell::wait_for_change_until(std::uint64_t seen, VirtualClock::time_point deadline) const noexcept {
  CellHeader& cell = *header_;
  if (cell.pair.version.load(std::memory_order_seq_cst) > seen) return Waited::ready();
  // A clock change (step, rate, lockstep jump) wakes us to look at the deadline again.
  const std::uint64_t listener = detail::add_clock_listener(
      [](void* context) { detail::EventCount(static_cast<CellHeader*>(context)->wake).notify(); }, &cell);
  detail::EventCount wake(cell.wake);
  std::uint32_t ticket = 0;
  // A slice slept out unwoken (nothing changed for a while) ends with a
  // look at the bus: once it is gone, no store can come.
  Waited waited = detail::wait_on_virtual_time_or_fail(
      deadline,
      [&] {
        ticket = wake.prepare();  // before the check: a store after it wakes us
        return cell.pair.version.load(std::memory_order_seq_cst) > seen;
      },
      [&](std::chrono::nanoseconds slice) {
        run_hook(g_before_sleep_hook);
        return wake.sleep(ticket, slice.count());
      },
      [&]() -> std::optional<Waited> {
        if (auto gone = bus_gone()) return Waited::failed(std::move(*gone));
        return std::nullopt;
      });
  detail::remove_clock_listener(listener);
  return waited;
}

std::optional<Error> UntypedCell::bus_gone() const noexcept {
  try {
    if (auto health = bus_health(); !health) return std::move(health.error());
  } catch (...) {
    // No memory for the message: the wait goes on, and looks again.
  }
  return std::nullopt;
}

Result<std::vector<CellInfo>> list_cells() {
  auto data = attached();
  if (!data) return tl::make_unexpected(data.error());
  const auto count = detail::checked_count((*data)->registry);
  if (!count) return tl::make_unexpected(count.error());
  std::vector<CellInfo> cells;
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto cell = detail::checked_cell(**data, i);
    if (!cell) return tl::make_unexpected(cell.error());
    if (!*cell) continue;
    const CellHeader& header = *(*cell)->header;
    CellInfo info;
    info.name = (*cell)->name;
    auto schema = Schema::from_json(std::string((*cell)->schema_json));
    info.type_name = schema ? schema->name : "(broken schema)";
    info.fingerprint = (*cell)->fingerprint;
    info.size = (*cell)->size;
    info.version = header.pair.version.load(std::memory_order_acquire);
    info.last_writer = {header.writer_pid.load(std::memory_order_relaxed),
                        header.writer_start_time.load(std::memory_order_relaxed)};
    cells.push_back(std::move(info));
  }
  return cells;
}

}  // namespace statebus
