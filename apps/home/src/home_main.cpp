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
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "home/chart.hpp"
#include "home/messages.hpp"
#include "home/process.hpp"
#include "home/supervisor.hpp"
#include "statebus/bus.hpp"
#include "statebus/recorder/recorder.hpp"
#include "statebus/state/cell.hpp"

namespace {

using namespace std::chrono_literals;
using statebus::VirtualClock;

std::string program_dir() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string self(path, static_cast<std::size_t>(n));
  return self.substr(0, self.rfind('/'));
}

struct Program {
  std::string name;
  std::vector<std::string> argv;
  std::optional<home::Supervised> process;
  int restarts = 0;
};

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

// Resident memory of a process, KiB (0 if it cannot be read).
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

struct DaySummary {
  std::uint64_t readings = 0;
  std::uint64_t on_readings = 0;
  std::uint64_t switches = 0;
  double min = 1e9, max = -1e9;
  double settled_min = 1e9, settled_max = -1e9;  // after the room first reached the band
  std::optional<double> warmed_up_h;
  std::vector<home::ChartPoint> chart;
};

DaySummary summarise(const statebus::Recorder& recorder, VirtualClock::time_point t0, const home::Setpoint& s) {
  DaySummary out;
  std::int64_t next_point = 0;
  for (const auto& r : recorder.samples<home::TemperatureReading>(home::kTemperatureChannel)) {
    const double c = r.value.celsius;
    const double hours = static_cast<double>(r.header.virtual_time_ns - t0.time_since_epoch().count()) / 3.6e12;
    ++out.readings;
    if (r.value.heater_on) ++out.on_readings;
    out.min = std::min(out.min, c);
    out.max = std::max(out.max, c);
    if (!out.warmed_up_h && c >= s.celsius - s.band) out.warmed_up_h = hours;
    if (out.warmed_up_h) {
      out.settled_min = std::min(out.settled_min, c);
      out.settled_max = std::max(out.settled_max, c);
    }
    if (r.header.virtual_time_ns >= next_point) {
      out.chart.push_back({hours, c, r.value.outside_celsius, s.celsius, s.band, r.value.heater_on});
      next_point = r.header.virtual_time_ns + std::chrono::nanoseconds(1min).count();
    }
  }
  const auto commands = recorder.samples<home::HeaterCommand>(home::kHeaterChannel);
  for (std::size_t i = 1; i < commands.size(); ++i) {
    if (commands[i].value.on != commands[i - 1].value.on) ++out.switches;
  }
  if (!commands.empty() && commands.front().value.on) ++out.switches;
  return out;
}

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
  auto setpoint = statebus::Cell<home::Setpoint>::open(home::kSetpointCell);
  auto status = statebus::Cell<home::HeatingStatus>::open(home::kStatusCell);
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

  const std::string dir = program_dir();
  std::vector<Program> programs;
  programs.reserve(3);
  programs.push_back(Program{"heating", {dir + "/statebus-heating"}, std::nullopt, 0});
  programs.push_back(Program{"sensor", {dir + "/statebus-sensor"}, std::nullopt, 0});
  if (o.web) programs.push_back(Program{"web", {dir + "/statebus-web", "--port", std::to_string(o.port)}, std::nullopt, 0});
  auto start = [&](Program& p) -> bool {
    auto started = home::Supervised::start(p.argv, o.out + "/" + p.name + ".log");
    if (!started) {
      spdlog::error("cannot start {}: {}", p.name, started.error().message());
      return false;
    }
    p.process.emplace(std::move(*started));
    for (;;) {
      auto line = p.process->read_line(10s);
      if (!line) {
        spdlog::error("{} did not start (see {}/{}.log)", p.name, o.out, p.name);
        return false;
      }
      if (*line == "ready") return true;
      if (line->rfind("listening on ", 0) == 0) std::printf("%s: %s\n", p.name.c_str(), line->c_str());
    }
  };
  for (Program& p : programs) {
    if (!start(p)) return 1;
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
  // --chaos: SIGKILL the sensor, the heating or the web process at random
  // moments; each is restarted, the others must not notice.
  const bool chaos = !o.chaos_text.empty() && !o.chaos_targets.empty();
  std::mt19937_64 random(std::random_device{}());
  std::exponential_distribution<double> chaos_gap(
      chaos ? 1.0 / std::chrono::duration<double>(home::duration_of(o.chaos_text)).count() : 1.0);
  auto next_chaos = real_start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     std::chrono::duration<double>(chaos_gap(random)));
  std::map<std::string, int> chaos_kills;
  std::set<pid_t> chaos_victims;  // killed on purpose: their end is no error
  long heating_rss_start = 0;
  long heating_rss_end = 0;
  pid_t heating_pid = 0;
  for (const Program& p : programs) {
    if (p.name == "heating") heating_pid = p.process->pid();
  }
  heating_rss_start = rss_kib(heating_pid);
  // A wedged daemon cannot be stopped or repaired in this process: say so, end the children, end.
  auto end_if_wedged = [&] {
    if (!daemon) return;
    auto health = daemon->health();
    if (health) return;
    spdlog::error("{}", health.error().message());
    int killed = 0;
    for (const auto& entry : chaos_kills) killed += entry.second;
    std::printf("\n%sthe daemon wedged (iceoryx #1711) after %d SIGKILLs\n", chaos ? "soak: FAILED: " : "", killed);
    for (Program& p : programs) {
      if (p.process) ::kill(p.process->pid(), SIGKILL);
    }
    std::fflush(stdout);
    std::_Exit(3);
  };
  while (!stop) {
    end_if_wedged();
    if (chaos && std::chrono::steady_clock::now() >= next_chaos) {
      std::vector<Program*> targets;
      for (Program& p : programs) {
        if (std::find(o.chaos_targets.begin(), o.chaos_targets.end(), p.name) != o.chaos_targets.end()) {
          targets.push_back(&p);
        }
      }
      if (targets.empty()) targets.push_back(&programs.front());  // unreachable: targets are checked at start
      Program& victim = *targets[std::uniform_int_distribution<std::size_t>(0, targets.size() - 1)(random)];
      spdlog::warn("chaos: SIGKILL to {} (pid {})", victim.name, victim.process->pid());
      ::kill(victim.process->pid(), SIGKILL);
      chaos_victims.insert(victim.process->pid());
      ++chaos_kills[victim.name];
      next_chaos = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(chaos_gap(random)));
    }
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
      if (chaos_victims.erase(p.process->pid()) != 0) {
        spdlog::warn("{} ended by the chaos ({}); restarting it", p.name, home::describe_status(*ended));
      } else if (p.name == "heating") {
        spdlog::error("the heating controller ended ({}); restarting it: it starts with the heater off",
                      home::describe_status(*ended));
      } else {
        spdlog::warn("{} ended ({}); restarting it", p.name, home::describe_status(*ended));
      }
      if (p.name == "sensor") {
        // The room goes on where it was: the restarted model starts from the last reading, at the time of day it is.
        const auto last = status->load();
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(VirtualClock::now() - t0).count() % 86400;
        p.argv.resize(1);
        if (last.decisions > 0) {
          p.argv.insert(p.argv.end(), {"--initial", std::to_string(last.celsius)});
        }
        p.argv.insert(p.argv.end(), {"--time-of-day", std::to_string(seconds) + "s"});
      }
      if (!start(p)) stop = true;
      if (p.name == "heating" && p.process) {  // its memory is watched from this start on
        heating_pid = p.process->pid();
        heating_rss_start = rss_kib(heating_pid);
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
  heating_rss_end = rss_kib(heating_pid);
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
  const DaySummary day = summarise(*recorder, t0, sp);
  const std::string svg_path = o.out + "/day.svg";
  std::ofstream(svg_path) << home::render_chart_svg(
      day.chart, "A simulated day: room " + std::to_string(static_cast<int>(sp.celsius)) + " °C setpoint, heater shaded");

  std::uint64_t gaps = 0;
  for (const auto& c : summary->channels) gaps += c.gaps;
  std::printf("\n%s of virtual time in %.1f s of real time\n",
              home::clock_text(std::chrono::duration_cast<std::chrono::nanoseconds>(VirtualClock::now() - t0)).c_str(),
              real_s);
  std::printf("  readings        %llu (recorded %llu samples on %zu channels, %llu gaps)\n",
              static_cast<unsigned long long>(day.readings), static_cast<unsigned long long>(summary->samples),
              summary->channels.size(), static_cast<unsigned long long>(gaps));
  std::printf("  heater switches %llu, duty cycle %.1f %%\n", static_cast<unsigned long long>(day.switches),
              day.readings == 0 ? 0.0 : 100.0 * static_cast<double>(day.on_readings) / static_cast<double>(day.readings));
  std::printf("  room            min %.2f °C, max %.2f °C", day.min, day.max);
  if (day.warmed_up_h) {
    std::printf("; after warm-up (%.1f h) %.2f–%.2f °C, band %.1f–%.1f °C", *day.warmed_up_h, day.settled_min,
                day.settled_max, sp.celsius - sp.band, sp.celsius + sp.band);
  }
  std::printf("\n");
  for (const Program& p : programs) {
    if (p.restarts > 0) std::printf("  %s restarted %d time%s\n", p.name.c_str(), p.restarts, p.restarts == 1 ? "" : "s");
  }
  std::printf("  recording       %s (%.1f MiB; open it in Foxglove, or `statebus play`)\n", summary->mcap_path.c_str(),
              static_cast<double>(summary->mcap_bytes) / (1024.0 * 1024.0));
  std::printf("  picture         %s\n", svg_path.c_str());
  std::printf("  process logs    %s/*.log\n", o.out.c_str());
  if (!chaos) return 0;

  // The soak's verdict: nothing lost, the heating steady, its memory flat.
  int kills = 0;
  std::string by_name;
  for (const auto& [name, count] : chaos_kills) {
    kills += count;
    by_name += (by_name.empty() ? "" : ", ") + name + " " + std::to_string(count);
  }
  const home::HeatingStatus st = status->load();
  std::vector<std::string> failures;
  for (const auto& g : summary->gaps) {
    failures.push_back(std::to_string(g.missing) + " samples missing on " + g.channel + " from pid " +
                       std::to_string(g.publisher.pid) + " (" + g.why + ")");
  }
  if (st.missed_readings > 0) failures.push_back(std::to_string(st.missed_readings) + " readings the heating missed");
  for (const Program& p : programs) {
    const int killed = chaos_kills.count(p.name) != 0 ? chaos_kills.at(p.name) : 0;
    if (p.restarts > killed) {  // a process that noticed another's death, or ended by itself
      failures.push_back(p.name + " restarted " + std::to_string(p.restarts) + " times but was killed " +
                         std::to_string(killed));
    }
  }
  if (heating_rss_end > heating_rss_start + heating_rss_start / 4 + 512) {
    failures.push_back("the heating's memory grew from " + std::to_string(heating_rss_start) + " to " +
                       std::to_string(heating_rss_end) + " KiB");
  }
  std::printf("  chaos           %d SIGKILLs (%s); heating: %llu decisions, %llu missed readings, memory %ld → %ld KiB since its last start\n",
              kills, by_name.empty() ? "none" : by_name.c_str(), static_cast<unsigned long long>(st.decisions),
              static_cast<unsigned long long>(st.missed_readings), heating_rss_start, heating_rss_end);
  if (failures.empty()) {
    std::printf("soak: ok\n");
    return 0;
  }
  std::string why;
  for (const auto& f : failures) why += (why.empty() ? "" : "; ") + f;
  std::printf("soak: FAILED: %s\n", why.c_str());
  return 1;
}

}  // namespace

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
  app.add_option("--port", o.port, "The web process's port on 127.0.0.1 (0: any free one)")->check(CLI::Range(0, 65535));
  app.add_flag("!--no-web", o.web, "Do not start the web process");
  app.add_option("--kill-web-at", o.kill_web_at, "Kill the web process with SIGKILL at this virtual time (it is restarted)")
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
