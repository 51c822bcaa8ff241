#pragma once
/// Named state cells in the bus's shared memory: lock-free, torn-read-free,
/// crash-safe. See state/README.md.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "statebus/base/describe.hpp"
#include "statebus/base/error.hpp"
#include "statebus/base/process.hpp"
#include "statebus/base/schema.hpp"
#include "statebus/base/waited.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/clock/virtual_timeout.hpp"

namespace statebus {

namespace detail {
struct CellHeader;
}

/// A cell of any type, for tools (the CLI, the recorder) that learn the type
/// from the cell's schema. A cheap handle: copy it freely; valid while the
/// bus's daemon runs.
class UntypedCell {
 public:
  /// Opens an existing cell. Fails with Errc::no_daemon, Errc::invalid_argument
  /// for a bad name, or Errc::not_found for a name no cell has (the message
  /// names the cells there are).
  static Result<UntypedCell> open(std::string_view name);
  /// Opens the cell `name`, creating it with `schema` and `initial`
  /// (schema.size bytes) if it does not exist: for tools that learn a type
  /// at run time (a bridge from another bus). Fails as Cell<T>::open_or_create does;
  /// Errc::type_mismatch if the cell holds another type.
  static Result<UntypedCell> open_or_create(std::string_view name, const Schema& schema, const void* initial);

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] const Schema& schema() const noexcept { return *schema_; }

  /// Copies the current value (size() bytes) to `out`; returns its version.
  /// Lock-free; never torn.
  std::uint64_t load(void* out) const noexcept;
  /// Stores size() bytes from `in`: version + 1, wakes waiters. Fails, and
  /// the cell keeps its value, with Errc::invalid_argument for a value
  /// outside a range its type declares (FieldInfo; the message names the
  /// field, value and range), or as a system error, untested, when the
  /// writer lock cannot be taken (a damaged segment).
  Result<void> store(const void* in) const;
  /// Read-modify-write under the writer lock: `change` gets a copy of the
  /// current value; its result says whether to store it (false: no store).
  /// Returns the version after (unchanged when `change` declined). Fails
  /// like store(), and the cell keeps its value.
  Result<std::uint64_t> update(const std::function<bool(void*)>& change) const;
  /// Completed stores since creation (creation is version 1).
  [[nodiscard]] std::uint64_t version() const noexcept;
  /// Waits until a store newer than `seen` (ready) or virtual time reaches
  /// `deadline` (timed_out). Fails with Errc::no_daemon or Errc::stale_bus
  /// once the bus is gone (looked at when a second passes with no store
  /// and no clock change): no store can come then.
  Waited wait_for_change_until(std::uint64_t seen, VirtualClock::time_point deadline) const noexcept;
  /// Fails with Errc::no_daemon once the cells this process uses are gone
  /// (their daemon stopped or died), and with Errc::stale_bus once a new
  /// daemon replaced theirs: a process that
  /// goes on reading and writing them is split from every process on the
  /// new bus, so it must restart. Node::bus_health() includes it.
  /// Thread-safe; one stat() call.
  [[nodiscard]] Result<void> bus_health() const;
  /// The pid and start time of the last writer.
  [[nodiscard]] ProcessId last_writer() const noexcept;
  /// True while a writer is inside a store (or died there: the next store
  /// recovers). For diagnostics and tests.
  [[nodiscard]] bool store_in_progress() const noexcept;

 protected:
  UntypedCell(detail::CellHeader* header, std::string_view name, Schema schema);
  [[nodiscard]] std::optional<Error> bus_gone() const noexcept;
  [[nodiscard]] Result<void> out_of_range(const void* value) const;
  detail::CellHeader* header_ = nullptr;
  std::size_t size_ = 0;
  bool ranged_ = false;  // the type declares ranges: stores are checked
  std::string name_;
  std::shared_ptr<const Schema> schema_;
};

/// A named value of a described, trivially copyable `T` shared by every
/// process on the bus.
///
/// Thread and process safety: every call from any thread of any process.
/// load() is lock-free and never blocks; store() serialises with other
/// writers of this cell only; readers never block writers.
template <class T>
class Cell : private UntypedCell {
  static_assert(std::is_trivially_copyable_v<T>, "cell values must be trivially copyable");
  static_assert(is_described_v<T>, "describe the cell's type with STATEBUS_MESSAGE(Type, \"name\", fields...)");

 public:
  /// Opens the cell `name`, creating it with `initial` if it does not exist.
  /// Fails with Errc::type_mismatch naming both types if it holds another
  /// type, with Errc::invalid_argument for a bad name or if it must be
  /// created and `initial` is outside a range T declares, with
  /// Errc::out_of_resources when it must be created and the bus holds 256
  /// cells already (or its arena is full), and with Errc::no_daemon when no
  /// daemon runs.
  static Result<Cell> open_or_create(std::string_view name, const T& initial = T{}) {
    static const Schema schema = schema_of<T>();
    auto raw = UntypedCell::open_or_create(name, schema, &initial);
    if (!raw) return tl::make_unexpected(raw.error());
    return Cell(std::move(*raw));
  }
  /// The name of open_or_create() before it lined up with UntypedCell's
  /// (whose open() never creates).
  [[deprecated("Cell<T>::open_or_create(name, initial): open() will open an existing cell only, as "
               "UntypedCell::open")]] static Result<Cell>
  open(std::string_view name, const T& initial = T{}) {
    return open_or_create(name, initial);
  }

  /// The current value. Lock-free; never torn.
  [[nodiscard]] T load() const noexcept {
    T value;
    UntypedCell::load(&value);
    return value;
  }
  /// The current value and its version, read together.
  [[nodiscard]] std::pair<T, std::uint64_t> load_versioned() const noexcept {
    T value;
    const std::uint64_t version = UntypedCell::load(&value);
    return {value, version};
  }
  /// Stores `value`: version + 1, wakes waiters. Fails, and the cell keeps
  /// its value, with Errc::invalid_argument for a value outside a range T
  /// declares (STATEBUS_FIELD_INFO), or as UntypedCell::store does for a
  /// writer lock that cannot be taken.
  Result<void> store(const T& value) const { return UntypedCell::store(&value); }
  /// Atomic read-modify-write against other writers: `change(T&)` edits the
  /// current value (return nothing), or returns bool (false: do not store).
  /// Returns the version after (unchanged when declined); fails like store().
  template <class Change>
  Result<std::uint64_t> update(Change&& change) const {
    return UntypedCell::update([&change](void* bytes) {
      T value;
      std::memcpy(&value, bytes, sizeof(T));
      bool keep = true;
      if constexpr (std::is_same_v<std::invoke_result_t<Change&, T&>, bool>) {
        keep = change(value);
      } else {
        change(value);
      }
      std::memcpy(bytes, &value, sizeof(T));
      return keep;
    });
  }
  using UntypedCell::last_writer;
  using UntypedCell::store_in_progress;
  using UntypedCell::name;
  using UntypedCell::version;
  using UntypedCell::bus_health;
  using UntypedCell::wait_for_change_until;
  /// Waits up to `timeout` of virtual time (`virtual_timeout(1s)`) for a
  /// store newer than `seen`: ready, timed_out, or failed as
  /// wait_for_change_until(). A futex wait: clock steps and stores wake it.
  Waited wait_for_change(std::uint64_t seen, VirtualTimeout timeout) const noexcept {
    return wait_for_change_until(seen, timeout.deadline());
  }

 private:
  explicit Cell(UntypedCell raw) : UntypedCell(std::move(raw)) {}
};

/// A cell as `statebus state` lists it.
struct CellInfo {
  std::string name;
  std::string type_name;
  std::uint64_t fingerprint = 0;
  std::size_t size = 0;
  std::uint64_t version = 0;
  ProcessId last_writer;
};

/// Every cell on the bus, in creation order. Fails with Errc::no_daemon, or
/// with Errc::corrupt_segment (naming the field) for a registry no statebus
/// process writes.
Result<std::vector<CellInfo>> list_cells();

}  // namespace statebus
