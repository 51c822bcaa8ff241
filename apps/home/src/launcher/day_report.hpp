#pragma once
// What the launcher says at the end of a bounded run: the day's figures
// from the recording, and with --chaos the soak's verdict.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chaos.hpp"
#include "home/chart.hpp"
#include "home/messages.hpp"
#include "programs.hpp"
#include "statebus/recorder/recorder.hpp"

namespace home::launcher {

struct DaySummary {
  std::uint64_t readings = 0;
  std::uint64_t on_readings = 0;
  std::uint64_t switches = 0;
  double min = 1e9, max = -1e9;
  double settled_min = 1e9, settled_max = -1e9;  // after the room first reached the band
  std::optional<double> warmed_up_h;
  std::vector<ChartPoint> chart;
};

/// The day from t0 on, as the recorder captured it.
/// Fails with type_mismatch when a channel carried samples of another type.
statebus::Result<DaySummary> summarise(const statebus::Recorder& recorder, statebus::VirtualClock::time_point t0,
                                       const Setpoint& s);

/// Prints the day: virtual time in real time, readings, switches, duty
/// cycle, the room's range, restarts, and where the files are.
void print_day(const DaySummary& day, const statebus::RecordingSummary& recording, const Setpoint& sp,
               std::chrono::nanoseconds virtual_span, double real_s, const std::vector<Program>& programs,
               const std::string& svg_path, const std::string& out_dir);

/// The heating's resident memory from its last start to the end, KiB.
struct MemoryWatch {
  long start_kib = 0;
  long end_kib = 0;
};

/// The soak's verdict: nothing lost, no process restarted but those killed,
/// the heating's memory flat. Prints the chaos line and "soak: ok" or
/// "soak: FAILED: …"; returns the exit status (0 or 1).
int soak_verdict(const Chaos& chaos, const statebus::RecordingSummary& recording, const HeatingStatus& st,
                 const std::vector<Program>& programs, const MemoryWatch& heating);

}  // namespace home::launcher
