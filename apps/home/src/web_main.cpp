// statebus-web: the status page and JSON API on 127.0.0.1. It may crash at
// any time: it only reads the channels (lossy) and writes the setpoint cell.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "home/chart.hpp"
#include "home/heating_api.hpp"
#include "home/messages.hpp"
#include "home/process.hpp"
#include "statebus/bus.hpp"
#include "statebus/service.hpp"
#include "statebus/state/cell.hpp"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

struct Latest {
  std::mutex mutex;
  std::optional<home::TemperatureReading> reading;
  std::int64_t reading_time_ns = 0;
  std::uint64_t readings = 0;
  std::deque<home::ChartPoint> history;  // one point per history step of virtual time
  std::optional<std::int64_t> first_ns;
  std::int64_t next_point_ns = 0;
};

json setpoint_json(const home::Setpoint& s) {
  return {{"celsius", s.celsius}, {"band", s.band}, {"mode", s.mode == home::Mode::heat ? "heat" : "off"}};
}

}  // namespace

// An exception that escapes (the check sees CLI11's setup throw) ends the tool by std::terminate.
// NOLINTNEXTLINE(bugprone-exception-escape)
int main(int argc, char** argv) {
  home::StopSignals signals;
  CLI::App app{"statebus-web: the heating's status page and JSON API on 127.0.0.1"};
  std::string name = "web";
  int port = 8080;
  std::string history_step_text = "1m";
  app.add_option("--name", name, "Name on the bus");
  app.add_option("--port", port, "TCP port on 127.0.0.1 (0: any free one, printed)")->check(CLI::Range(0, 65535));
  app.add_option("--history-step", history_step_text, "Virtual time between points of the chart")
      ->check(home::check_duration);
  CLI11_PARSE(app, argc, argv);
  const auto history_step = home::duration_of(history_step_text);

  auto node = home::connect_and_log(name);
  if (!node) return 1;
  auto readings = statebus::Subscriber<home::TemperatureReading>::create(*node, home::kTemperatureChannel);
  auto setpoint = statebus::Cell<home::Setpoint>::open_or_create(home::kSetpointCell);
  auto status = statebus::Cell<home::HeatingStatus>::open_or_create(home::kStatusCell);
  for (const statebus::Error* error : {readings ? nullptr : &readings.error(), setpoint ? nullptr : &setpoint.error(),
                                       status ? nullptr : &status.error()}) {
    if (error != nullptr) {
      spdlog::error("cannot start: {}", error->message());
      return 1;
    }
  }

  // The heating, an object: one proxy, used by one HTTP thread at a time.
  auto heating = statebus::Proxy<home::HeatingApi>::create(*node, home::kHeatingObject);
  if (!heating) {
    spdlog::error("cannot start: {}", heating.error().message());
    return 1;
  }
  std::mutex heating_mutex;
  auto call_error = [](const statebus::CallError& error) {
    return json{{"error", error.message()}, {"code", std::string(statebus::to_string(error.code()))}};
  };
  auto ask_plan = [&](std::chrono::milliseconds timeout) {
    std::lock_guard lock(heating_mutex);
    heating->set_timeout(timeout);
    auto answer = heating->plan(home::PlanQuestion{});
    if (!answer) return call_error(answer.error());
    json out;
    out["heater_on"] = answer->heater_on;
    out["will_switch"] = answer->will_switch;
    out["switch_in_s"] = answer->switch_in_s;
    out["celsius"] = answer->celsius;
    out["reason"] = std::string(answer->reason, strnlen(answer->reason, sizeof answer->reason));
    return out;
  };
  // A boost, answered with acceptance or the reason it was refused; the
  // last answer is shown on the page.
  std::string last_boost;
  auto ask_boost = [&](double minutes) {
    std::lock_guard lock(heating_mutex);
    heating->set_timeout(std::chrono::seconds(1));
    auto answer = heating->boost(minutes);
    json out = answer ? json{{"accepted", answer->accepted},
                             {"until_s", answer->until_s},
                             {"reason", std::string(answer->reason, strnlen(answer->reason, sizeof answer->reason))}}
                      : call_error(answer.error());
    last_boost = answer ? (answer->accepted ? "accepted: " : "refused: ") + out["reason"].get<std::string>()
                        : "the heating does not answer (" + out["error"].get<std::string>() + ")";
    return out;
  };

  Latest latest;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      auto sample = readings->take_for(100ms);
      if (sample.failed()) {  // the bus is gone: no reading comes any more
        spdlog::error("readings: {}", sample.error().message());
        break;
      }
      if (!sample) continue;
      const auto& r = sample->value();
      const std::int64_t t = sample->header().virtual_time_ns;
      std::lock_guard lock(latest.mutex);
      latest.reading = r;
      latest.reading_time_ns = t;
      ++latest.readings;
      if (!latest.first_ns) {
        latest.first_ns = t;
        latest.next_point_ns = t;
      }
      if (t >= latest.next_point_ns) {
        const home::Setpoint s = setpoint->load();
        latest.history.push_back(home::ChartPoint{static_cast<double>(t - *latest.first_ns) / 3.6e12, r.celsius,
                                                  r.outside_celsius, s.celsius, s.band, r.heater_on});
        if (latest.history.size() > 2880) latest.history.pop_front();
        latest.next_point_ns = t + history_step.count();
      }
    }
  });

  httplib::Server server;
  auto status_json = [&] {
    json out;
    const home::HeatingStatus st = status->load();
    out["setpoint"] = setpoint_json(setpoint->load());
    out["switches"] = st.switches;
    out["decisions"] = st.decisions;
    out["missed_readings"] = st.missed_readings;
    std::lock_guard lock(latest.mutex);
    out["readings"] = latest.readings;
    if (latest.reading) {
      out["virtual_time_ns"] = latest.reading_time_ns;
      out["celsius"] = latest.reading->celsius;
      out["outside_celsius"] = latest.reading->outside_celsius;
      out["heater_on"] = latest.reading->heater_on;
    }
    return out;
  };
  server.Get("/api/status", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(status_json().dump(), "application/json");
  });
  server.Get("/api/history", [&](const httplib::Request&, httplib::Response& res) {
    json points = json::array();
    std::lock_guard lock(latest.mutex);
    for (const auto& p : latest.history) {
      points.push_back({{"hours", p.hours}, {"celsius", p.celsius}, {"outside_celsius", p.outside_celsius},
                        {"setpoint", p.setpoint}, {"heater_on", p.heater_on}});
    }
    res.set_content(points.dump(), "application/json");
  });
  // "What will you do next, and why?": a call to the heating, answered by
  // it, or why not (it is down, restarting, stopped).
  server.Get("/api/plan", [&](const httplib::Request&, httplib::Response& res) {
    const json plan = ask_plan(1000ms);
    if (plan.contains("error")) res.status = 503;
    res.set_content(plan.dump(), "application/json");
  });
  // "Boost for N minutes": a call the heating accepts (200) or refuses
  // with its reason (409); 400 for a body that is no boost, 503 when the
  // heating does not answer.
  server.Post("/api/boost", [&](const httplib::Request& req, httplib::Response& res) {
    home::BoostRequest request;
    auto applied = statebus::schema_of<home::BoostRequest>().apply_json(req.body, &request);
    if (!applied) {
      res.status = 400;
      res.set_content(json{{"error", applied.error().message() + " (send {\"minutes\": 30}; 0 ends a boost)"}}.dump(),
                      "application/json");
      return;
    }
    const json answer = ask_boost(request.minutes);
    if (answer.contains("error")) {
      res.status = 503;
    } else if (!answer["accepted"].get<bool>()) {
      res.status = 409;
    }
    res.set_content(answer.dump(), "application/json");
  });
  server.Post("/boost-form", [&](const httplib::Request& req, httplib::Response& res) {
    home::BoostRequest request;
    if (statebus::schema_of<home::BoostRequest>().assign(&request, "minutes", req.get_param_value("minutes"))) {
      (void)ask_boost(request.minutes);
    }
    res.set_redirect("/");
  });
  server.Post("/api/setpoint", [&](const httplib::Request& req, httplib::Response& res) {
    // Checked field by field against the ranges home::Setpoint declares.
    const json change = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    std::optional<std::string> problem;
    if (change.is_discarded() || !change.is_object())
      problem = "the body must be a JSON object such as {\"celsius\": 21.5}";
    home::Setpoint now{};
    if (!problem) {
      auto stored = setpoint->update([&](home::Setpoint& s) {
        auto applied = statebus::schema_of<home::Setpoint>().apply_json(req.body, &s);
        if (!applied) problem = applied.error().message();
        now = s;
        return static_cast<bool>(applied);
      });
      if (!stored) problem = stored.error().message();
    }
    if (problem) {
      res.status = 400;
      res.set_content(json{{"error", *problem}}.dump(), "application/json");
      return;
    }
    spdlog::info("setpoint changed to {:.1f} ± {:.1f} °C, mode {}", now.celsius, now.band,
                 now.mode == home::Mode::heat ? "heat" : "off");
    res.set_content(setpoint_json(now).dump(), "application/json");
  });
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    const json st = status_json();
    std::vector<home::ChartPoint> points;
    {
      std::lock_guard lock(latest.mutex);
      points.assign(latest.history.begin(), latest.history.end());
    }
    char summary[512];
    std::snprintf(summary, sizeof summary,
                  "<p class=big>%.2f °C <span>outside %.1f °C</span></p>"
                  "<p>setpoint %.1f ± %.1f °C, mode %s · heater <b>%s</b> · %llu switches · %llu readings</p>",
                  st.value("celsius", 0.0), st.value("outside_celsius", 0.0), st["setpoint"]["celsius"].get<double>(),
                  st["setpoint"]["band"].get<double>(), st["setpoint"]["mode"].get<std::string>().c_str(),
                  st.value("heater_on", false) ? "ON" : "off", st["switches"].get<unsigned long long>(),
                  st["readings"].get<unsigned long long>());
    std::string page =
        // Refreshes every 2 s, but never under a user's fingers: not while the
        // setpoint field has the focus or holds a value (without JS: always).
        "<!doctype html><html><head><meta charset=utf-8><noscript><meta http-equiv=refresh content=2></noscript>"
        "<script>setInterval(function(){var i=document.querySelector('input[name=celsius]');"
        "if(!i||(document.activeElement!==i&&!i.value))location.reload()},2000)</script>"
        "<title>statebus home</title><style>body{font-family:sans-serif;margin:2em}"
        ".big{font-size:2.4em;margin:0}.big span{font-size:.4em;color:#555}</style></head><body>"
        "<h1>Living room</h1>";
    page += summary;
    page += home::render_chart_svg(points, "Temperature, setpoint and heater");
    const json plan = ask_plan(300ms);
    page +=
        "<p id=plan>Next: " +
        home::escape(plan.contains("error") ? "the heating does not answer (" + plan["error"].get<std::string>() + ")"
                                            : plan["reason"].get<std::string>()) +
        "</p>";
    {
      std::lock_guard lock(heating_mutex);
      if (!last_boost.empty()) page += "<p id=boost>Boost " + home::escape(last_boost) + "</p>";
    }
    page += "<form method=post action=/setpoint-form>Setpoint <input name=celsius size=4> °C "
            "<button>set</button></form>"
            "<form method=post action=/boost-form><button id=boost30 name=minutes value=30>Boost 30 min</button> "
            "<button id=boost0 name=minutes value=0>End boost</button></form>"
            "<p><small>JSON: GET /api/status, GET /api/history, GET /api/plan, POST /api/setpoint "
            "{\"celsius\": 21}, POST /api/boost {\"minutes\": 30}</small></p></body></html>";
    res.set_content(page, "text/html; charset=utf-8");
  });
  server.Post("/setpoint-form", [&](const httplib::Request& req, httplib::Response& res) {
    // A value outside the declared range (or not a number) leaves it as it was.
    const std::string celsius = req.get_param_value("celsius");
    bool applied = false;
    auto stored = setpoint->update([&](home::Setpoint& s) {
      applied = static_cast<bool>(statebus::schema_of<home::Setpoint>().assign(&s, "celsius", celsius));
      return applied;
    });
    if (stored && applied) spdlog::info("setpoint changed to {} °C from the page", celsius);
    res.set_redirect("/");
  });

  if (port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
  } else if (!server.bind_to_port("127.0.0.1", port)) {
    spdlog::error("cannot listen on 127.0.0.1:{} (in use?); give another --port", port);
    stop = true;
    reader.join();
    return 1;
  }
  if (port < 0) {
    spdlog::error("cannot listen on 127.0.0.1");
    stop = true;
    reader.join();
    return 1;
  }
  signals.wait_in_thread([&](int) { server.stop(); });
  spdlog::info("listening on http://127.0.0.1:{}/", port);
  std::printf("listening on http://127.0.0.1:%d/\nready\n", port);
  std::fflush(stdout);
  server.listen_after_bind();
  stop = true;
  reader.join();
  return 0;
}
