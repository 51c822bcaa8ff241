// statebus-home: the launcher. Starts the daemon (or uses the running one)
// and the sensor, heating and web processes, restarts whichever dies, and
// stops all cleanly on Ctrl-C. With --demo: a simulated day, a live
// progress line, a recording, a picture and a summary.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "home/chart.hpp"
#include "home/messages.hpp"
#include "home/process.hpp"
#include "launcher/chaos.hpp"
#include "launcher/day_report.hpp"
#include "launcher/programs.hpp"
#include "statebus/bus.hpp"
#include "statebus/recorder/recorder.hpp"
#include "statebus/state/cell.hpp"

namespace {

using namespace std::chrono_literals;
using home::launcher::Program;
using statebus::VirtualClock;
namespace launcher = home::launcher;

struct Options {
  bool demo = false;
  std::string duration_text;
  double rate = 0.0;
  double real_seconds = 40.0;
  bool lockstep = false;
  std::string out = "home-run";
  int port = 8080;
  bool web = true;
  std::string kill_web_at;
  double setpoint = 20.0;
  bool quiet = false;
  std::string chaos_text;  // mean real time between random SIGKILLs of the processes
  std::vector<std::string> chaos_targets = {"sensor", "heating", "web"};
};

int run(const Options& o, home::StopSignals& signals) {
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  ::mkdir(o.out.c_str(), 0755);
  // Static: it must outlive this process's node, which iceoryx keeps until exit.
  static std::optional<statebus::Daemon> daemon;
  if (auto started = statebus::Daemon::start(); started) {
    daemon.emplace(std::move(*started));
  } else if (started.error().code() == statebus::Errc::already_running) {
    std::printf("using the running daemon (%s)\n", started.error().message().c_str());
  } else {
    std::fprintf(stderr, "statebus-home: %s\n", started.error().message().c_str());
    return 1;
  }
  auto node = home::connect_and_log("home");
  if (!node) return 1;
  auto setpoint = statebus::Cell<home::Setpoint>::open_or_create(home::kSetpointCell);
  auto status = statebus::Cell<home::HeatingStatus>::open_or_create(home::kStatusCell);
  if (!setpoint || !status) {
    std::fprintf(stderr, "statebus-home: %s\n",
                 (setpoint ? status.error() : setpoint.error()).message().c_str());
    return 1;
  }
  setpoint->update([&](home::Setpoint& s) {
    s.celsius = o.setpoint;
    return true;
  });
  status->store(home::HeatingStatus{});

  const bool bounded = !o.duration_text.empty();
  const std::chrono::nanoseconds span = bounded ? home::duration_of(o.duration_text) : std::chrono::nanoseconds::max();
  double rate = o.rate;
  if (bounded && rate == 0.0 && !o.lockstep) {
    rate = std::max(1.0, std::chrono::duration<double>(span).count() / o.real_seconds);
  }
  // Time stands while the processes start, so the day begins with all of them.
  if (auto stood = VirtualClock::set_stepped(); !stood) {
    std::fprintf(stderr, "statebus-home: %s\n", stood.error().message().c_str());
    return 1;
  }
  const auto t0 = VirtualClock::now();

  statebus::RecorderOptions recording;
  // The channels of the processes about to start by name, so they are
  // subscribed before any of them exists (home/** finds others later).
  recording.patterns = {"home/**", std::string(home::kHeaterChannel), std::string(home::kTemperatureChannel),
                        std::string(statebus::kLogChannel)};
  recording.mcap_path = o.out + "/day.mcap";
  auto recorder = statebus::Recorder::start(*node, recording);
  if (!recorder) {
    std::fprintf(stderr, "statebus-home: %s\n", recorder.error().message().c_str());
    return 1;
  }

  const std::string dir = launcher::program_dir();
  std::vector<Program> programs;
  programs.reserve(3);
  programs.push_back(Program{"heating", {dir + "/statebus-heating"}, std::nullopt, 0});
  programs.push_back(Program{"sensor", {dir + "/statebus-sensor"}, std::nullopt, 0});
  if (o.web)
    programs.push_back(Program{"web", {dir + "/statebus-web", "--port", std::to_string(o.port)}, std::nullopt, 0});
  for (Program& p : programs) {
    if (!launcher::start(p, o.out)) return 1;
  }

  const bool kill_web = !o.kill_web_at.empty();
  const std::chrono::nanoseconds kill_web_at = kill_web ? home::duration_of(o.kill_web_at) : std::chrono::nanoseconds{};
  std::atomic<bool> stop{false};
  signals.wait_in_thread([&](int) { stop = true; });
  if (bounded && o.lockstep) {
    // Lockstep stops at the kill first, so the kill lands at its virtual time however fast the run goes.
    (void)VirtualClock::set_lockstep(t0 + (kill_web && kill_web_at < span ? kill_web_at : span));
  } else if (bounded) {
    (void)VirtualClock::set_rate(rate);
  } else {
    (void)VirtualClock::set_real();
  }
  std::printf("%s: %s%s; recording to %s\n", bounded ? "simulating" : "running",
              bounded ? (o.duration_text + " of virtual time").c_str() : "on real time until Ctrl-C",
              bounded ? (o.lockstep ? " in lockstep" : " at " + std::to_string(static_cast<long>(rate)) + "x").c_str()
                       : "",
              recording.mcap_path.c_str());
  std::fflush(stdout);

  bool web_killed = false;
  int last_hour_printed = -1;
  const auto real_start = std::chrono::steady_clock::now();
  launcher::Chaos chaos(o.chaos_text.empty() ? std::chrono::nanoseconds(0) : home::duration_of(o.chaos_text),
                        o.chaos_targets);
  launcher::MemoryWatch heating_memory;
  pid_t heating_pid = 0;
  for (const Program& p : programs) {
    if (p.name == "heating") heating_pid = p.process->pid();
  }
  heating_memory.start_kib = launcher::rss_kib(heating_pid);
  // A wedged daemon cannot be stopped or repaired in this process: say so, end the children, end.
  auto end_if_wedged = [&] {
    if (!daemon) return;
    auto health = daemon->health();
    if (health) return;
    spdlog::error("{}", health.error().message());
    std::printf("\n%sthe daemon wedged (iceoryx #1711) after %d SIGKILLs\n", chaos.on() ? "soak: FAILED: " : "",
                chaos.total_kills());
    for (Program& p : programs) {
      if (p.process) ::kill(p.process->pid(), SIGKILL);
    }
    std::fflush(stdout);
    std::_Exit(3);
  };
  while (!stop) {
    end_if_wedged();
    chaos.strike_if_due(programs);
    if (bounded && !o.lockstep && (t0 + span - VirtualClock::now()) < 100ms * rate) {
      VirtualClock::sleep_until(t0 + span);  // the last stretch: end on the mark, not a tick later
    } else {
      std::this_thread::sleep_for(100ms);  // the pace of the progress line and of the watch over the processes
    }
    const auto elapsed = VirtualClock::now() - t0;
    for (Program& p : programs) {
      const auto ended = p.process->ended();
      if (!ended) continue;
      ++p.restarts;
      if (chaos.was_victim(p.process->pid())) {
        spdlog::warn("{} ended by the chaos ({}); restarting it", p.name, home::describe_status(*ended));
      } else if (p.name == "heating") {
        spdlog::error("the heating controller ended ({}); restarting it: it starts with the heater off",
                      home::describe_status(*ended));
      } else {
        spdlog::warn("{} ended ({}); restarting it", p.name, home::describe_status(*ended));
      }
      if (p.name == "sensor") launcher::resume_sensor_args(p, status->load(), VirtualClock::now() - t0);
      if (!launcher::start(p, o.out)) stop = true;
      if (p.name == "heating" && p.process) {  // its memory is watched from this start on
        heating_pid = p.process->pid();
        heating_memory.start_kib = launcher::rss_kib(heating_pid);
      }
    }
    if (kill_web && !web_killed && elapsed >= kill_web_at) {
      for (Program& p : programs) {
        if (p.name == "web") {
          spdlog::warn("killing web with SIGKILL, as asked (--kill-web-at)");
          ::kill(p.process->pid(), SIGKILL);
          web_killed = true;
          if (o.lockstep) (void)VirtualClock::set_lockstep(t0 + span);
        }
      }
    }
    const home::HeatingStatus st = status->load();
    const home::Setpoint sp = setpoint->load();
    const auto day_time = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed);
    char line[200];
    std::snprintf(line, sizeof line, "%s  %6.2f °C  setpoint %4.1f ± %.1f  heater %-3s  switches %3llu  readings %6llu",
                  home::clock_text(day_time).c_str(), st.celsius, sp.celsius, sp.band, st.heater_on ? "ON" : "off",
                  static_cast<unsigned long long>(st.switches), static_cast<unsigned long long>(st.decisions));
    if (!o.quiet && tty) {
      std::printf("\r\033[K%s", line);
      std::fflush(stdout);
    } else if (!o.quiet) {
      const int hour = static_cast<int>(std::chrono::duration_cast<std::chrono::hours>(elapsed).count());
      if (hour != last_hour_printed && bounded) {
        std::printf("%s\n", line);
        std::fflush(stdout);
        last_hour_printed = hour;
      }
    }
    if (bounded && elapsed >= span) break;
  }
  if (!o.quiet && tty) std::printf("\n");
  heating_memory.end_kib = launcher::rss_kib(heating_pid);
  const double real_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - real_start).count();
  end_if_wedged();  // a process that did not start again may have met a wedged daemon
  (void)VirtualClock::set_stepped();  // the day ends here for everyone
  for (Program& p : programs) {
    const int result = p.process->stop(3s);
    if (!(WIFEXITED(result) && WEXITSTATUS(result) == 0)) {
      spdlog::warn("{} ended with {}", p.name, home::describe_status(result));
    }
  }
  auto summary = recorder->stop();
  if (!summary) {
    std::fprintf(stderr, "statebus-home: %s\n", summary.error().message().c_str());
    return 1;
  }
  const home::Setpoint sp = setpoint->load();
  const auto summarised = launcher::summarise(*recorder, t0, sp);
  if (!summarised) {
    std::fprintf(stderr, "statebus-home: %s\n", summarised.error().message().c_str());
    return 1;
  }
  const launcher::DaySummary& day = *summarised;
  const std::string svg_path = o.out + "/day.svg";
  std::ofstream(svg_path) << home::render_chart_svg(
      day.chart,
      "A simulated day: room " + std::to_string(static_cast<int>(sp.celsius)) + " °C setpoint, heater shaded");
  launcher::print_day(day, *summary, sp, std::chrono::duration_cast<std::chrono::nanoseconds>(VirtualClock::now() - t0),
                      real_s, programs, svg_path, o.out);
  if (!chaos.on()) return 0;
  return launcher::soak_verdict(chaos, *summary, status->load(), programs, heating_memory);
}

}  // namespace

// An exception that escapes (the check sees CLI11's setup throw) ends the tool by std::terminate.
// NOLINTNEXTLINE(bugprone-exception-escape)
int main(int argc, char** argv) {
  home::StopSignals signals;
  CLI::App app{"statebus-home: the heating demo's launcher (daemon, sensor, heating, web)"};
  Options o;
  app.add_flag("--demo", o.demo, "A simulated day: 24h in about 40 s, recorded, drawn and summed up");
  app.add_option("--duration", o.duration_text, "Virtual time to simulate (e.g. 24h); none: run until Ctrl-C")
      ->check(home::check_duration);
  app.add_option("--rate", o.rate, "Virtual seconds per real second (default: the duration in --real-seconds)")
      ->check(CLI::Range(1.0, 1e6));
  app.add_option("--real-seconds", o.real_seconds, "Real time the simulated duration should take")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_flag("--lockstep", o.lockstep, "Run the simulated duration as fast as the processes go (deterministic)");
  app.add_option("--out", o.out, "Directory for the recording, the picture and the process logs");
  app.add_option("--port", o.port, "The web process's port on 127.0.0.1 (0: any free one)")
      ->check(CLI::Range(0, 65535));
  app.add_flag("!--no-web", o.web, "Do not start the web process");
  app.add_option("--kill-web-at", o.kill_web_at,
                 "Kill the web process with SIGKILL at this virtual time (it is restarted)")
      ->check(home::check_duration);
  app.add_option("--setpoint", o.setpoint, "Setpoint, °C")->check(CLI::Range(5.0, 30.0));
  app.add_flag("-q,--quiet", o.quiet, "No progress line");
  app.add_option("--chaos", o.chaos_text,
                 "Soak: SIGKILL the sensor, heating or web process at random, this much real time apart on average "
                 "(e.g. 2s); each is restarted; at the end check that nothing was lost, no other process noticed "
                 "and the heating's memory stayed flat")
      ->check(home::check_duration);
  app.add_option("--chaos-targets", o.chaos_targets, "Processes --chaos kills (default: sensor,heating,web)")
      ->delimiter(',')
      ->check(CLI::IsMember({"sensor", "heating", "web"}));
  CLI11_PARSE(app, argc, argv);
  if (o.demo && o.duration_text.empty()) o.duration_text = "24h";
  if (o.demo && o.kill_web_at.empty() && o.web) o.kill_web_at = "14h";
  return run(o, signals);
}
