// statebus-heating: the hysteresis controller, one decision per reading,
// served as an object (home::HeatingApi: its plan, and boosts).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ratio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "home/controller.hpp"
#include "home/heating_api.hpp"
#include "home/messages.hpp"
#include "home/process.hpp"
#include "statebus/bus.hpp"
#include "statebus/service.hpp"
#include "statebus/state/cell.hpp"

namespace {

// The heating: decides on each reading, and answers the HeatingApi calls
// between two readings (on the loop's thread, as the readings).
struct Heating {
  home::HysteresisController controller;
  statebus::Publisher<home::HeaterCommand>* commands;
  statebus::Cell<home::Setpoint>* setpoint;
  statebus::Cell<home::HeatingStatus>* status;
  home::HeatingStatus state;
  double last_celsius = 0.0;
  std::chrono::nanoseconds last_time{};
  std::uint64_t last_reading = 0;

  // Decides at virtual time `t` on the last reading; publishes a switch
  // (the caller stores the status).
  void decide(std::chrono::nanoseconds t) {
    const home::Setpoint wanted = setpoint->load();
    if (const auto change = controller.decide(last_celsius, t, wanted)) {
      (void)commands->publish(home::HeaterCommand{*change, last_reading, last_celsius});
      ++state.switches;
      state.heater_on = *change;
      spdlog::info("heater {} at {:.2f} °C (setpoint {:.1f} ± {:.1f}, reading {})", *change ? "on" : "off",
                   last_celsius, wanted.celsius, wanted.band, last_reading);
    }
  }

  // "What will you do next, and why?": for the last reading, or a what-if.
  void plan(const home::PlanQuestion& q, home::HeatingPlan& answer) const {
    const double celsius = q.what_if ? q.celsius : last_celsius;
    const auto plan = controller.plan(celsius, last_time, setpoint->load());
    answer.heater_on = plan.heater_on;
    answer.will_switch = plan.will_switch;
    answer.switch_in_s = std::chrono::duration<double>(plan.switch_in).count();
    answer.celsius = celsius;
    std::snprintf(answer.reason, sizeof answer.reason, "%s", plan.reason.c_str());
  }

  // A boost from now (the bus's virtual time), switched at once if accepted.
  home::BoostAnswer boost(const home::BoostRequest& request) {
    const auto now = statebus::VirtualClock::now().time_since_epoch();
    // Checked as a double first: a length out of range (or NaN) is no duration.
    const double minutes = request.minutes >= 0.0 && request.minutes <= 120.0 ? request.minutes : -1.0;
    const auto length =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double, std::ratio<60>>(minutes));
    const auto verdict = controller.boost(length, last_celsius, now, setpoint->load());
    home::BoostAnswer answer;
    answer.accepted = verdict.accepted;
    answer.until_s = verdict.until.count() > 0 ? std::chrono::duration<double>(verdict.until).count() : 0.0;
    std::snprintf(answer.reason, sizeof answer.reason, "%s", verdict.reason.c_str());
    spdlog::info("boost of {:.0f} min {}: {}", request.minutes, verdict.accepted ? "accepted" : "refused",
                 verdict.reason);
    if (verdict.accepted) {
      decide(std::max(now, last_time));
      status->store(state);
    }
    return answer;
  }
};

}  // namespace

// An exception that escapes (the check sees CLI11's setup throw) ends the tool by std::terminate.
// NOLINTNEXTLINE(bugprone-exception-escape)
int main(int argc, char** argv) {
  home::StopSignals signals;
  CLI::App app{"statebus-heating: switches the heater by hysteresis with a dwell time, one decision per reading"};
  std::string name = "heating";
  std::string dwell_text = "10s";
  app.add_option("--name", name, "Name on the bus");
  app.add_option("--dwell", dwell_text, "How long the temperature must stay outside the band before a switch")
      ->check(home::check_duration);
  CLI11_PARSE(app, argc, argv);

  auto node = home::connect_and_log(name);
  if (!node) return 1;
  auto readings = statebus::Subscriber<home::TemperatureReading>::create(*node, home::kTemperatureChannel);
  auto commands = statebus::Publisher<home::HeaterCommand>::create(*node, home::kHeaterChannel,
                                                                   statebus::PublisherOptions{1, false});
  auto setpoint = statebus::Cell<home::Setpoint>::open_or_create(home::kSetpointCell);
  auto status = statebus::Cell<home::HeatingStatus>::open_or_create(home::kStatusCell);
  auto loop = statebus::EventLoop::create(*node);
  auto server = statebus::ObjectServer<home::HeatingApi>::create(*node, home::kHeatingObject);
  for (const statebus::Error* error : {readings ? nullptr : &readings.error(), commands ? nullptr : &commands.error(),
                                       setpoint ? nullptr : &setpoint.error(), status ? nullptr : &status.error(),
                                       loop ? nullptr : &loop.error(), server ? nullptr : &server.error()}) {
    if (error != nullptr) {
      spdlog::error("cannot start: {}", error->message());
      return 1;
    }
  }

  home::HeatingStatus state = status->load();  // a restarted controller continues the counts
  state.heater_on = false;
  Heating heating{home::HysteresisController(home::duration_of(dwell_text)), &*commands, &*setpoint, &*status, state};
  const std::uint64_t missed_before = state.missed_readings;
  // The heater starts off: say so, so the hardware layer knows where it stands.
  (void)commands->publish(home::HeaterCommand{false, 0, 0.0});
  std::uint64_t lost_seen = 0;
  (void)loop->on(*readings, [&](const statebus::Sample<home::TemperatureReading>& sample) {
    const home::TemperatureReading& r = sample.value();
    heating.last_celsius = r.celsius;
    heating.last_time = std::chrono::nanoseconds(sample.header().virtual_time_ns);
    heating.last_reading = r.index;
    heating.decide(heating.last_time);
    if (readings->lost() > lost_seen) {
      spdlog::error("missed {} readings", readings->lost() - lost_seen);
      lost_seen = readings->lost();
    }
    ++heating.state.decisions;
    heating.state.last_reading = r.index;
    heating.state.missed_readings = missed_before + lost_seen;
    heating.state.celsius = r.celsius;
    heating.state.heater_on = heating.controller.heater_on();
    status->store(heating.state);
  });
  // Its plan and boosts, answered between two readings.
  if (const auto served = serve(*loop, *server, heating); !served) {
    spdlog::error("cannot serve {}: {}", home::kHeatingObject, served.error().message());
    return 1;
  }
  signals.wait_in_thread([&](int) { loop->stop(); });
  const auto s = setpoint->load();
  spdlog::info("controlling to {:.1f} ± {:.1f} °C, dwell {}", s.celsius, s.band, dwell_text);
  std::printf("ready\n");
  std::fflush(stdout);
  if (auto ran = loop->run(); !ran) {
    // The daemon died or was replaced: say so and end, so that a supervisor restarts us on the new bus.
    spdlog::error("{}", ran.error().message());
    return 1;
  }
  spdlog::info("stopped after {} decisions, {} switches", heating.state.decisions, heating.state.switches);
  return 0;
}
