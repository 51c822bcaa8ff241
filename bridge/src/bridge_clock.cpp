// Virtual time over MQTT: the bus thread sends this bus's clock (--clock send),
// the network thread follows another bus's (--clock follow).
#include <chrono>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "bridge_impl.hpp"
#include "clock_sync.hpp"
#include "topics.hpp"

namespace statebus {

using namespace std::chrono_literals;

// The clock, when this bus sends it: at once on a change of mode or rate, else five times a second.
void MqttBridge::Impl::send_clock(bool resending, SteadyClock::time_point now) {
  const ClockStatus status = VirtualClock::status();
  const bool changed_mode = status.mode != clock_mode_sent || status.rate != clock_rate_sent;
  if (!resending && !changed_mode && now < next_clock) return;
  if (send(bridge_detail::clock_topic(options.prefix), bridge_detail::read_clock_json(), 0, true)) {
    clock_mode_sent = status.mode;
    clock_rate_sent = status.rate;
    next_clock = now + 200ms;
  }
}

void MqttBridge::Impl::follow(std::string_view payload) {
  const auto reading = bridge_detail::parse_clock_json(payload);
  const std::string error =
      reading ? bridge_detail::follow_clock(*reading) : "not a clock reading: " + std::string(payload);
  // Logged once per kind of failure: its text with the numbers left out.
  std::string kind = error;
  for (char& c : kind) c = (c >= '0' && c <= '9') ? '#' : c;
  if (!error.empty() && kind != clock_error) spdlog::warn("cannot follow the clock of {}: {}", options.prefix, error);
  clock_error = std::move(kind);
}

}  // namespace statebus
