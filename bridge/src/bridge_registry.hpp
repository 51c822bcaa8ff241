#pragma once
// The bridges of one bus, so that any number of them neither duplicate nor
// echo (bridge/README.md, "Any number of bridges"). Every bridge has a
// row in the bus's cell `statebus/bridges`: its process, its *target* (the
// broker and prefix it bridges to) and the hash of its client id. For each
// channel or cell it would carry, a bridge *claims* it for its target:
// one bridge per (target, direction, name) carries it, the first that
// claimed it while it lives; the others leave it alone and take over at
// their next look once it has gone. A sample published on the bus by an
// inbound port of a bridge of the same target (the claim names the port)
// came from that target and is not sent back; a message whose origin is a
// bridge of this bus and target is not published here again.
//
// Liveness of a row: its process proven alive (pid and start time, the
// kernel's word) in this PID namespace; a row of another namespace, while
// its heartbeat (refreshed every second) is under 5 s old. A wrong guess
// costs a duplicate message at worst, never a lost or corrupted one.
// Thread-safe: the bus thread and libmosquitto's network thread both ask.

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "statebus/base/error.hpp"

namespace statebus::bridge_detail {

/// What a bridge carries, for claims.
enum class Carry : std::uint32_t { presence = 1, out = 2, in = 3, owned_cell = 4, mirrored_cell = 5 };

/// A 64-bit FNV-1a hash (stable across processes and versions).
std::uint64_t stable_hash(std::string_view text) noexcept;

/// True for the cell of the bus's bridges (`statebus/bridges`): each bus has
/// its own, so it is never bridged out, mirrored or written from MQTT.
bool is_bridges_cell(std::string_view name) noexcept;

class BridgeRegistry {
 public:
  /// Joins the bus's registry for `target` (a broker and prefix, as text)
  /// under `client_id`. Fails if the cell cannot be opened, or with
  /// name_in_use if a live bridge of this bus and target has that id.
  static Result<std::unique_ptr<BridgeRegistry>> join(std::string_view target, std::string_view client_id);
  ~BridgeRegistry();  // leaves: every row of this bridge removed
  BridgeRegistry(const BridgeRegistry&) = delete;
  BridgeRegistry& operator=(const BridgeRegistry&) = delete;

  /// True if this bridge carries `name` in direction `what` (claiming it
  /// now if no live bridge of the same target does).
  bool claim(Carry what, std::string_view name);
  /// Names the bus port that publishes what this bridge takes in for
  /// `channel` (claimed with Carry::in).
  void set_in_port(std::string_view channel, std::uint64_t port);
  /// True if a sample published by bus port `port` came in through a bridge
  /// of this bus and target (another's inbound publisher).
  bool published_by_peer(std::uint64_t port);
  /// True if a message sent with origin `client_id` came from a bridge of
  /// this bus and target (itself included).
  bool sent_by_peer(std::string_view client_id);
  /// Refreshes this bridge's heartbeat (once a second at most) and drops
  /// claims another bridge took (it found this one dead). Returns the
  /// number of claims this bridge lost since the last call.
  std::size_t refresh();
  /// Bridges of this target on the bus, this one included.
  std::size_t peers();

 private:
  struct Impl;
  explicit BridgeRegistry(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace statebus::bridge_detail
