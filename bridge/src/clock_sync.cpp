#include "clock_sync.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "statebus/clock/virtual_clock.hpp"

namespace statebus::bridge_detail {
namespace {

std::int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string read_clock_json() {
  const ClockStatus status = VirtualClock::status();
  // Stepped and lockstep time moves by jumps the reader cannot predict: it stands between readings.
  const bool running = status.mode == ClockMode::real || status.mode == ClockMode::scaled;
  nlohmann::json j = {{"mode", std::string(to_string(status.mode))},
                      {"rate", running ? status.rate : 0.0},
                      {"virtual_time_ns", status.now.time_since_epoch().count()},
                      {"wall_time_ns", wall_now_ns()}};
  return j.dump();
}

std::optional<ClockReading> parse_clock_json(std::string_view text) {
  const auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const auto mode = j.find("mode");
  const auto rate = j.find("rate");
  const auto v = j.find("virtual_time_ns");
  const auto w = j.find("wall_time_ns");
  if (mode == j.end() || !mode->is_string() || rate == j.end() || !rate->is_number() || v == j.end() ||
      !v->is_number_integer() || w == j.end() || !w->is_number_integer()) {
    return std::nullopt;
  }
  ClockReading r{mode->get<std::string>(), rate->get<double>(), v->get<std::int64_t>(), w->get<std::int64_t>()};
  if (!(r.rate == 0.0 || (r.rate >= VirtualClock::min_rate && r.rate <= VirtualClock::max_rate)) || r.virtual_ns < 0) {
    return std::nullopt;
  }
  return r;
}

std::string follow_clock(const ClockReading& reading) {
  const double since_ns = static_cast<double>(std::max<std::int64_t>(0, wall_now_ns() - reading.wall_ns));
  const auto target = VirtualClock::time_point(
      std::chrono::nanoseconds(reading.virtual_ns + static_cast<std::int64_t>(since_ns * reading.rate)));
  const auto now = VirtualClock::now();
  if (now < target) {
    // Behind: jump there (stepped time moves only forward), then run at its rate.
    if (auto stepped = VirtualClock::set_stepped(); !stepped) return stepped.error().message();
    // It ran on until it stood: moved only if still behind (never back).
    if (VirtualClock::now() < target) {
      if (auto moved = VirtualClock::advance_to(target); !moved) return moved.error().message();
    }
    if (reading.rate > 0.0) {
      if (auto rate = VirtualClock::set_rate(reading.rate); !rate) return rate.error().message();
    }
    return {};
  }
  // Ahead (or level): stand until the sender catches up, unless it is close enough to run on.
  if (reading.rate > 0.0 && now - target < std::chrono::milliseconds(50) * reading.rate) {
    if (VirtualClock::status().rate != reading.rate) {
      if (auto rate = VirtualClock::set_rate(reading.rate); !rate) return rate.error().message();
    }
    return {};
  }
  if (auto stepped = VirtualClock::set_stepped(); !stepped) return stepped.error().message();
  return {};
}

}  // namespace statebus::bridge_detail
