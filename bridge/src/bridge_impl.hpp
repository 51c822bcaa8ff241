#pragma once
// MqttBridge::Impl: the one state the bridge's parts share, and the part each
// of its members belongs to (internal, never installed).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bridge_registry.hpp"
#include "envelope.hpp"
#include "homeassistant.hpp"
#include "mqtt_link.hpp"
#include "statebus/bridge/mqtt.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/bus/wait_set.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/state/cell.hpp"

namespace statebus {
namespace bridge_detail {

/// One `--out`, `--in`, `--state` or `--mirror` pattern, parsed.
struct Route {
  ChannelPattern pattern;
  int qos;
};

/// The routes of `option` (its name, for the message); fails on a bad
/// pattern or a QoS other than 0 or 1 (bridge_options.cpp).
Result<std::vector<Route>> parse_routes(const std::vector<MqttRoute>& routes, const char* option);

/// The first route whose pattern matches `name`, or nullptr.
inline const Route* match(const std::vector<Route>& routes, std::string_view name) {
  for (const Route& route : routes) {
    if (route.pattern.matches(name)) return &route;
  }
  return nullptr;
}

/// True for `state` and names under `state/`: their topics are cells'.
inline bool first_part_is_state(std::string_view name) { return name == "state" || name.rfind("state/", 0) == 0; }

/// CLOCK_REALTIME now, in ns: the `wall_time_ns` of what is sent.
inline std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// At most ten refusal lines a second; the rest are counted and summed up
/// (bridge_inbound.cpp).
class RefusalLog {
 public:
  void log(const std::string& topic, const Refusal& refusal);

 private:
  std::chrono::steady_clock::time_point window_{};
  int lines_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace bridge_detail

struct MqttBridge::Impl {
  using SteadyClock = std::chrono::steady_clock;
  using Route = bridge_detail::Route;
  using Refusal = bridge_detail::Refusal;

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
  bridge_detail::RefusalLog refusal_log;
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

  // ---- the bus thread's loop (bridge_bus_thread.cpp) -----------------------

  void run_bus_thread();
  void resend_all();
  void leave_lost_bus(const Error& why);

  // ---- channels out (bridge_outbound.cpp) ----------------------------------

  bool send(const std::string& topic, std::string_view payload, int qos, bool retain);
  void count_drop(const std::string& channel);
  void announce_channel(OutChannel& out);
  void scan_channels();
  void claim_out(OutChannel& out);
  bool connection_announced() const;
  void take_and_send(OutChannel& out);
  void send_liveness();

  // ---- cells, both ways (bridge_cells.cpp) ---------------------------------

  void announce_climates(const std::string& name, const Schema& schema, bool settable_cell);
  void announce_cell(const std::string& name, CellLink& link_);
  void scan_cells();
  void poll_cells();
  CellLink* owned_cell(const std::string& name);
  void write_in(const std::string& name, const std::string& topic, std::string_view payload);
  void mirror_in(const std::string& name, const std::string& topic, std::string_view payload,
                 std::unique_lock<std::mutex>& lock);

  // ---- the clock (bridge_clock.cpp) ----------------------------------------

  void send_clock(bool resending, SteadyClock::time_point now);
  void follow(std::string_view payload);

  // ---- the link's events and channels in (network thread; bridge_inbound.cpp)

  void refuse(const std::string& topic, const Refusal& refusal);
  void on_connected();
  void on_disconnected(const std::string& why, std::chrono::seconds next_try);
  void on_gave_up(const std::string& why);
  void on_message(std::string_view topic, std::string_view payload);
  void sample_in(const std::string& channel, const std::string& topic, std::string_view payload,
                 std::unique_lock<std::mutex>& lock);
  tl::expected<void, std::optional<Refusal>> open_in_publisher(const std::string& channel, InChannel& in,
                                                               const Schema* schema);
};

}  // namespace statebus
