#include "day_report.hpp"

#include <algorithm>
#include <cstdio>

#include "home/process.hpp"

namespace home::launcher {

using namespace std::chrono_literals;
using statebus::VirtualClock;

statebus::Result<DaySummary> summarise(const statebus::Recorder& recorder, VirtualClock::time_point t0,
                                       const Setpoint& s) {
  DaySummary out;
  std::int64_t next_point = 0;
  const auto readings = recorder.samples<TemperatureReading>(kTemperatureChannel);
  if (!readings) return tl::make_unexpected(readings.error());
  const auto commands = recorder.samples<HeaterCommand>(kHeaterChannel);
  if (!commands) return tl::make_unexpected(commands.error());
  for (const auto& r : *readings) {
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
  for (std::size_t i = 1; i < commands->size(); ++i) {
    if ((*commands)[i].value.on != (*commands)[i - 1].value.on) ++out.switches;
  }
  if (!commands->empty() && commands->front().value.on) ++out.switches;
  return out;
}

void print_day(const DaySummary& day, const statebus::RecordingSummary& recording, const Setpoint& sp,
               std::chrono::nanoseconds virtual_span, double real_s, const std::vector<Program>& programs,
               const std::string& svg_path, const std::string& out_dir) {
  std::uint64_t gaps = 0;
  for (const auto& c : recording.channels) gaps += c.gaps;
  std::printf("\n%s of virtual time in %.2f s of real time\n", clock_text(virtual_span).c_str(), real_s);
  std::printf("  readings        %llu (recorded %llu samples on %zu channels, %llu gaps)\n",
              static_cast<unsigned long long>(day.readings), static_cast<unsigned long long>(recording.samples),
              recording.channels.size(), static_cast<unsigned long long>(gaps));
  std::printf(
      "  heater switches %llu, duty cycle %.1f %%\n", static_cast<unsigned long long>(day.switches),
      day.readings == 0 ? 0.0 : 100.0 * static_cast<double>(day.on_readings) / static_cast<double>(day.readings));
  std::printf("  room            min %.2f °C, max %.2f °C", day.min, day.max);
  if (day.warmed_up_h) {
    std::printf("; after warm-up (%.1f h) %.2f–%.2f °C, band %.1f–%.1f °C", *day.warmed_up_h, day.settled_min,
                day.settled_max, sp.celsius - sp.band, sp.celsius + sp.band);
  }
  std::printf("\n");
  for (const Program& p : programs) {
    if (p.restarts > 0)
      std::printf("  %s restarted %d time%s\n", p.name.c_str(), p.restarts, p.restarts == 1 ? "" : "s");
  }
  std::printf("  recording       %s (%.1f MiB; open it in Foxglove, or `statebus play`)\n", recording.mcap_path.c_str(),
              static_cast<double>(recording.mcap_bytes) / (1024.0 * 1024.0));
  std::printf("  picture         %s\n", svg_path.c_str());
  std::printf("  process logs    %s/*.log\n", out_dir.c_str());
}

int soak_verdict(const Chaos& chaos, const statebus::RecordingSummary& recording, const HeatingStatus& st,
                 const std::vector<Program>& programs, const MemoryWatch& heating) {
  std::string by_name;
  for (const auto& [name, count] : chaos.kills()) {
    by_name += (by_name.empty() ? "" : ", ") + name + " " + std::to_string(count);
  }
  std::vector<std::string> failures;
  for (const auto& g : recording.gaps) {
    failures.push_back(std::to_string(g.missing) + " samples missing on " + g.channel + " from pid " +
                       std::to_string(g.publisher.pid) + " (" + g.why + ")");
  }
  if (st.missed_readings > 0) failures.push_back(std::to_string(st.missed_readings) + " readings the heating missed");
  for (const Program& p : programs) {
    const int killed = chaos.kills_of(p.name);
    if (p.restarts > killed) {  // a process that noticed another's death, or ended by itself
      failures.push_back(p.name + " restarted " + std::to_string(p.restarts) + " times but was killed " +
                         std::to_string(killed));
    }
  }
  if (heating.end_kib > heating.start_kib + heating.start_kib / 4 + 512) {
    failures.push_back("the heating's memory grew from " + std::to_string(heating.start_kib) + " to " +
                       std::to_string(heating.end_kib) + " KiB");
  }
  std::printf("  chaos           %d SIGKILLs (%s); heating: %llu decisions, %llu missed readings, "
              "memory %ld → %ld KiB since its last start\n",
              chaos.total_kills(), by_name.empty() ? "none" : by_name.c_str(),
              static_cast<unsigned long long>(st.decisions), static_cast<unsigned long long>(st.missed_readings),
              heating.start_kib, heating.end_kib);
  if (failures.empty()) {
    std::printf("soak: ok\n");
    return 0;
  }
  std::string why;
  for (const auto& f : failures) why += (why.empty() ? "" : "; ") + f;
  std::printf("soak: FAILED: %s\n", why.c_str());
  return 1;
}

}  // namespace home::launcher
