// statebus-heating: the hysteresis controller, one decision per reading.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "home/controller.hpp"
#include "home/messages.hpp"
#include "home/process.hpp"
#include "statebus/bus.hpp"
#include "statebus/service.hpp"
#include "statebus/state/cell.hpp"

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
  auto plans = statebus::Server<home::PlanQuestion, home::HeatingPlan>::create(*node, home::kPlanService);
  for (const statebus::Error* error : {readings ? nullptr : &readings.error(), commands ? nullptr : &commands.error(),
                                       setpoint ? nullptr : &setpoint.error(), status ? nullptr : &status.error(),
                                       loop ? nullptr : &loop.error(), plans ? nullptr : &plans.error()}) {
    if (error != nullptr) {
      spdlog::error("cannot start: {}", error->message());
      return 1;
    }
  }

  home::HysteresisController controller(home::duration_of(dwell_text));
  home::HeatingStatus state = status->load();  // a restarted controller continues the counts
  state.heater_on = false;
  const std::uint64_t missed_before = state.missed_readings;
  // The heater starts off: say so, so the hardware layer knows where it stands.
  (void)commands->publish(home::HeaterCommand{false, 0, 0.0});
  std::uint64_t lost_seen = 0;
  double last_celsius = 0.0;
  std::chrono::nanoseconds last_time{};
  (void)loop->on(*readings, [&](const statebus::Sample<home::TemperatureReading>& sample) {
    const home::TemperatureReading& r = sample.value();
    const home::Setpoint wanted = setpoint->load();
    const auto t = std::chrono::nanoseconds(sample.header().virtual_time_ns);
    last_celsius = r.celsius;
    last_time = t;
    if (const auto change = controller.decide(r.celsius, t, wanted)) {
      (void)commands->publish(home::HeaterCommand{*change, r.index, r.celsius});
      ++state.switches;
      spdlog::info("heater {} at {:.2f} °C (setpoint {:.1f} ± {:.1f}, reading {})", *change ? "on" : "off", r.celsius,
                   wanted.celsius, wanted.band, r.index);
    }
    if (readings->lost() > lost_seen) {
      spdlog::error("missed {} readings", readings->lost() - lost_seen);
      lost_seen = readings->lost();
    }
    ++state.decisions;
    state.last_reading = r.index;
    state.missed_readings = missed_before + lost_seen;
    state.celsius = r.celsius;
    state.heater_on = controller.heater_on();
    status->store(state);
  });
  // "What will you do next, and why?", answered between two readings.
  const auto served =
      serve(*loop, *plans, [&](const home::PlanQuestion& q, home::HeatingPlan& answer) -> statebus::Reply<void> {
        const double celsius = q.what_if ? q.celsius : last_celsius;
        const auto plan = controller.plan(celsius, last_time, setpoint->load());
        answer.heater_on = plan.heater_on;
        answer.will_switch = plan.will_switch;
        answer.switch_in_s = std::chrono::duration<double>(plan.switch_in).count();
        answer.celsius = celsius;
        std::snprintf(answer.reason, sizeof answer.reason, "%s", plan.reason.c_str());
        return {};
      });
  if (!served) {
    spdlog::error("cannot serve {}: {}", home::kPlanService, served.error().message());
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
  spdlog::info("stopped after {} decisions, {} switches", state.decisions, state.switches);
  return 0;
}
