// statebus-sensor: the room on virtual time, a reading every period.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "home/messages.hpp"
#include "home/process.hpp"
#include "home/thermal.hpp"
#include "statebus/bus.hpp"

// An exception that escapes (the check sees CLI11's setup throw) ends the tool by std::terminate.
// NOLINTNEXTLINE(bugprone-exception-escape)
int main(int argc, char** argv) {
  home::StopSignals signals;
  CLI::App app{"statebus-sensor: a room thermal model publishing a temperature reading every period of virtual time"};
  std::string name = "sensor";
  std::string period_text = "1s";
  std::string time_of_day_text = "0s";
  double initial = 16.0;
  app.add_option("--name", name, "Name on the bus");
  app.add_option("--period", period_text, "Virtual time between readings")->check(home::check_duration);
  app.add_option("--time-of-day", time_of_day_text, "Time of day at start (e.g. 6h)")->check(home::check_duration);
  app.add_option("--initial", initial, "Room temperature at start, °C")->check(CLI::Range(-30.0, 50.0));
  CLI11_PARSE(app, argc, argv);
  const auto period = home::duration_of(period_text);
  if (period.count() <= 0) {
    std::fprintf(stderr, "statebus-sensor: --period must be positive\n");
    return 2;
  }

  auto node = home::connect_and_log(name);
  if (!node) return 1;
  auto readings = statebus::Publisher<home::TemperatureReading>::create(*node, home::kTemperatureChannel);
  // History 1: a restarted sensor learns at once whether the heater is on.
  auto heater = statebus::Subscriber<home::HeaterCommand>::create(*node, home::kHeaterChannel,
                                                                  statebus::SubscriberOptions{256, 1, false});
  auto outside = statebus::Subscriber<home::OutsideTemperature>::create(*node, home::kOutsideChannel);
  auto loop = statebus::EventLoop::create(*node);
  for (const statebus::Error* error : {readings ? nullptr : &readings.error(), heater ? nullptr : &heater.error(),
                                       outside ? nullptr : &outside.error(), loop ? nullptr : &loop.error()}) {
    if (error != nullptr) {
      spdlog::error("cannot start: {}", error->message());
      return 1;
    }
  }

  home::ThermalModel room;
  room.celsius = initial;
  bool heater_on = false;
  std::optional<double> scripted_outside;
  std::uint64_t index = 0;
  const auto start = statebus::VirtualClock::now();
  const auto day_offset = home::duration_of(time_of_day_text);
  const double step_seconds = std::chrono::duration<double>(period).count();

  (void)loop->on(*heater, [&](const statebus::Sample<home::HeaterCommand>& s) { heater_on = s.value().on; });
  (void)loop->on(*outside, [&](const statebus::Sample<home::OutsideTemperature>& s) {
    scripted_outside = s.value().celsius;
  });
  loop->every(period, [&] {
    const auto t = loop->tick_time();
    const double out = scripted_outside.value_or(home::outside_celsius(t - start + day_offset));
    room.step(step_seconds, out, heater_on);
    home::TemperatureReading reading{++index, room.celsius, out, heater_on};
    if (!readings->publish(reading)) spdlog::warn("reading {} not published: the bus's pools are exhausted", index);
  });
  signals.wait_in_thread([&](int) { loop->stop(); });
  spdlog::info("room at {:.1f} °C, a reading every {}", room.celsius, period_text);
  std::printf("ready\n");
  std::fflush(stdout);
  if (auto ran = loop->run(); !ran) {
    // The daemon died or was replaced: say so and end, so that a supervisor restarts us on the new bus.
    spdlog::error("{}", ran.error().message());
    return 1;
  }
  spdlog::info("stopped after {} readings", index);
  return 0;
}
