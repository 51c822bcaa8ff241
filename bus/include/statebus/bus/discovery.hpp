#pragma once
/// What is on the bus: channels, their types and ports.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statebus/bus/node.hpp"
#include "statebus/base/error.hpp"
#include "statebus/base/schema.hpp"

namespace statebus {

/// One channel as the bus knows it.
struct ChannelInfo {
  std::string name;
  std::size_t publishers = 0;   ///< from the daemon's port list (refreshed about once a second)
  std::size_t subscribers = 0;  ///< likewise
  std::vector<std::string> nodes;  ///< names of the processes with a port on it
  std::optional<Schema> schema;    ///< its type, if a typed port (publisher or subscriber) uses it
};

/// Every channel with a publisher offering it, sorted by name; with
/// `schema_timeout` > 0 also their types (from the bus's table of channel
/// types, at once).
/// Blocks up to about a second for the daemon's port list.
Result<std::vector<ChannelInfo>> list_channels(const Node& node, std::chrono::milliseconds schema_timeout);

/// True if some publisher offers `channel` now.
bool channel_offered(const Node& node, std::string_view channel);

/// The type of `channel`: the schema that its typed ports (publishers or
/// subscribers, in any process) declared in the bus's table of channel
/// types, waiting up to `timeout` for one to appear. Fails with
/// Errc::timeout (no typed port uses it: none runs, or they send untyped
/// bytes), Errc::invalid_argument (bad channel name) or the table's own
/// errors (its directory unreadable or locked too long).
Result<Schema> fetch_schema(const Node& node, std::string_view channel, std::chrono::milliseconds timeout);

/// The schema of type `fingerprint` on `channel`, if a port of that type
/// declared it since the daemon started (also one that has ended since): to
/// decode a sample already received. Never waits.
std::optional<Schema> find_schema(const Node& node, std::string_view channel, std::uint64_t fingerprint);

/// Tells when channels appear on the bus, without polling: it waits on the
/// daemon's announcement that its service registry changed.
///
/// Thread safety: one thread calls next(); wake() from any thread.
class ChannelWatch {
 public:
  /// Needs this process to be connected (a Node). Fails, untested, when
  /// iceoryx cannot attach the daemon's announcements (out of resources: no
  /// condition variable left in the daemon).
  static Result<ChannelWatch> create(const Node& node);
  ChannelWatch(ChannelWatch&&) noexcept;
  ChannelWatch& operator=(ChannelWatch&&) noexcept;
  ~ChannelWatch();

  /// Channels offered now that no earlier call returned, sorted; if there
  /// are none, waits up to `timeout` (real time) for the registry to change
  /// or for wake(). Empty when nothing new appeared.
  std::vector<std::string> next(std::chrono::nanoseconds timeout);
  /// Ends a next() that is waiting.
  void wake() noexcept;

 private:
  struct Impl;
  explicit ChannelWatch(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace statebus
