// `statebus record`, `statebus play`, `statebus log`.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "statebus/bus.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/internal/log_ring.hpp"
#include "statebus/recorder/recorder.hpp"
#include "statebus/recorder/replay.hpp"

namespace statebus::cli {
namespace {

using namespace std::chrono_literals;

bool is_tty(std::FILE* f) { return ::isatty(::fileno(f)) != 0; }

std::string human_bytes(std::uint64_t bytes) {
  char text[32];
  if (bytes < 10 * 1024) {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < 10ULL * 1024 * 1024) {
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  } else {
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  }
  return text;
}

// "01:02:03.250" for a span of virtual time.
std::string hms(VirtualClock::duration span) {
  const std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(span).count();
  char text[40];
  std::snprintf(text, sizeof text, "%02lld:%02lld:%02lld.%03lld", static_cast<long long>(ms / 3600000),
                static_cast<long long>(ms / 60000 % 60), static_cast<long long>(ms / 1000 % 60),
                static_cast<long long>(ms % 1000));
  return text;
}

// "14:05:09.250", local time of day.
std::string local_hms(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  const std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::tm local{};
  ::localtime_r(&seconds, &local);
  char text[48];
  const std::size_t n = std::strftime(text, sizeof text, "%H:%M:%S", &local);
  std::snprintf(text + n, sizeof text - n, ".%03lld", static_cast<long long>(ms % 1000));
  return text;
}

// ---- record ------------------------------------------------------------------

struct RecordArgs {
  std::string output;
  std::vector<std::string> patterns;
  bool force = false;
  bool lossy = false;
  bool progress = false;
  std::size_t chunk_size = std::size_t{1} << 20;
  unsigned flush_ms = 1000;
};

int run_record(const RecordArgs& args) {
  for (const std::string& text : args.patterns) {
    if (auto pattern = ChannelPattern::parse(text); !pattern) {
      return report("record", pattern.error());
    }
  }
  struct stat existing {};
  if (!args.force && ::stat(args.output.c_str(), &existing) == 0) {
    return usage_error("record", args.output + " exists; give another file, or --force to replace it");
  }
  auto node = connect_cli();
  if (!node) return report("record", node.error());
  stop_on_signals();
  RecorderOptions options;
  options.patterns = args.patterns;
  options.lossless = !args.lossy;
  options.keep_in_memory = false;
  options.mcap_path = args.output;
  options.chunk_size = args.chunk_size;
  options.flush_interval = std::chrono::milliseconds(args.flush_ms);
  auto recorder = Recorder::start(*node, options);
  if (!recorder) {
    return report("record", recorder.error());
  }
  const bool live = is_tty(stderr);
  std::fprintf(stderr, "recording %s to %s; Ctrl-C stops\n", [&] {
    std::string all;
    for (const auto& p : args.patterns) all += (all.empty() ? "" : " ") + p;
    return all;
  }().c_str(), args.output.c_str());
  std::uint64_t last_flushed = 0;
  while (!g_stop) {
    std::this_thread::sleep_for(args.progress ? 20ms : 200ms);  // a status display, not a wait for data
    const std::uint64_t flushed = recorder->flushed();
    if (live) {
      std::uint64_t samples = 0;
      const auto channels = recorder->channels();
      for (const auto& c : channels) samples += c.samples;
      std::fprintf(stderr, "\r\033[K%llu samples on %zu channels, %llu on disk",
                   static_cast<unsigned long long>(samples), channels.size(),
                   static_cast<unsigned long long>(flushed));
    }
    if (args.progress && flushed != last_flushed) {
      std::printf("flushed %llu\n", static_cast<unsigned long long>(flushed));
      std::fflush(stdout);
    }
    last_flushed = flushed;
  }
  if (live) std::fprintf(stderr, "\r\033[K");
  auto summary = recorder->stop();
  if (!summary) {
    return report("record", summary.error());
  }
  std::size_t width = 7;
  for (const auto& c : summary->channels) width = std::max(width, c.name.size());
  std::printf("%-*s  %10s  %6s  %s\n", static_cast<int>(width), "CHANNEL", "SAMPLES", "GAPS", "TYPE");
  for (const auto& c : summary->channels) {
    std::printf("%-*s  %10llu  %6llu  %s\n", static_cast<int>(width), c.name.c_str(),
                static_cast<unsigned long long>(c.samples), static_cast<unsigned long long>(c.gaps),
                c.schema ? c.schema->name.c_str() : (c.name == kLogChannel ? "log records" : "bytes"));
  }
  for (const auto& gap : summary->gaps) {
    std::printf("gap: %s: %llu samples of pid %d %s\n", gap.channel.c_str(),
                static_cast<unsigned long long>(gap.missing), static_cast<int>(gap.publisher.pid), gap.why.c_str());
  }
  std::printf("%llu samples, %s written to %s\n", static_cast<unsigned long long>(summary->samples),
              human_bytes(summary->mcap_bytes).c_str(), summary->mcap_path.c_str());
  return 0;
}

// ---- play --------------------------------------------------------------------

struct PlayArgs {
  std::string file;
  double rate = 1.0;
  std::vector<std::string> patterns = {"**"};
  unsigned wait_ms = 0;
  bool quiet = false;
};

void draw_progress(const ReplayProgress& p) {
  constexpr int kWidth = 30;
  const double done = p.total == 0 ? 1.0 : static_cast<double>(p.published) / static_cast<double>(p.total);
  const int filled = static_cast<int>(done * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r\033[K[%s] %3.0f%%  %llu/%llu  %s / %s", bar.c_str(), done * 100.0,
               static_cast<unsigned long long>(p.published), static_cast<unsigned long long>(p.total),
               hms(p.position).c_str(), hms(p.span).c_str());
}

int run_play(const PlayArgs& args) {
  if (::access(args.file.c_str(), R_OK) != 0) {
    const int error = errno;
    return report("play", Error(error == ENOENT ? Errc::not_found
                                : error == EACCES || error == EPERM ? Errc::not_permitted
                                                                     : Errc::system_error,
                                "cannot read " + args.file + ": " + std::strerror(error)));
  }
  auto node = connect_cli();
  if (!node) return report("play", node.error());
  stop_on_signals();
  ReplayOptions options;
  options.rate = args.rate;
  options.patterns = args.patterns;
  options.wait_for_subscribers = std::chrono::milliseconds(args.wait_ms);
  options.cancel = &g_stop;
  const bool live = !args.quiet && is_tty(stderr);
  auto last_draw = std::chrono::steady_clock::now() - 1s;
  if (live) {
    options.on_progress = [&](const ReplayProgress& p) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_draw < 50ms && p.published != p.total) return;
      last_draw = now;
      draw_progress(p);
    };
  }
  auto summary = replay(*node, args.file, options);
  if (live) std::fprintf(stderr, "\n");
  if (!summary) {
    return report("play", summary.error());
  }
  for (const auto& [channel, why] : summary->skipped) {
    std::fprintf(stderr, "statebus play: skipped channel '%s': %s\n", channel.c_str(), why.c_str());
  }
  if (summary->truncated) {
    std::fprintf(stderr, "statebus play: %s was cut short; played up to its last complete chunk\n", args.file.c_str());
  }
  for (const auto& [channel, count] : summary->channels) {
    std::printf("%s  %llu\n", channel.c_str(), static_cast<unsigned long long>(count));
  }
  std::printf("%llu messages published%s\n", static_cast<unsigned long long>(summary->published),
              summary->cancelled ? " (stopped early)" : "");
  return 0;
}

// ---- log ---------------------------------------------------------------------

struct LogArgs {
  std::string level = "trace";
  std::vector<std::string> processes;
  long count = 0;
  bool virtual_time = false;
  std::string color = "auto";
};

const char* level_color(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return "\033[2m";
    case LogLevel::debug: return "\033[36m";
    case LogLevel::info: return "\033[32m";
    case LogLevel::warn: return "\033[33;1m";
    case LogLevel::error: return "\033[31;1m";
    case LogLevel::critical: return "\033[1;41;97m";
  }
  return "";
}

int run_log(const LogArgs& args) {
  const auto minimum = parse_log_level(args.level);
  if (!minimum) {
    return usage_error("log", "unknown level '" + args.level + "'; give trace, debug, info, warn, error or critical");
  }
  const bool color = args.color == "always" || (args.color == "auto" && is_tty(stdout));
  auto node = connect_cli();
  if (!node) return report("log", node.error());
  auto reader = detail::LogReader::open();  // from now on
  if (!reader) return report("log", reader.error());
  stop_on_signals();
  std::fprintf(stderr, "following %s; Ctrl-C stops\n", std::string(kLogChannel).c_str());
  long printed = 0;
  std::map<std::uint64_t, std::uint64_t> last_sequence;  // by writer (SampleHeader::publisher_port)
  auto print = [&](const SampleHeader& header, std::string_view payload) {
    if (g_stop || (args.count != 0 && printed >= args.count)) return;
    std::uint64_t& last = last_sequence[header.publisher_port];
    if (last != 0 && header.sequence > last + 1) {
      std::fprintf(stderr, "statebus log: %llu records of pid %d lost (overwritten before this reader read them)\n",
                   static_cast<unsigned long long>(header.sequence - last - 1), header.publisher_pid);
    }
    last = header.sequence;
    const auto entry = decode_log_record(payload.data(), payload.size());
    if (!entry) {
      std::fprintf(stderr, "statebus log: a malformed record from pid %d (skipped)\n", header.publisher_pid);
      return;
    }
    if (entry->dropped_before > 0) {
      std::printf("%s… %u records of %s dropped%s\n", color ? "\033[2m" : "", entry->dropped_before,
                  entry->process.c_str(), color ? "\033[0m" : "");
    }
    if (entry->level < *minimum) return;
    if (!args.processes.empty() &&
        std::find(args.processes.begin(), args.processes.end(), entry->process) == args.processes.end()) {
      return;
    }
    const std::string when =
        args.virtual_time ? hms(entry->virtual_time.time_since_epoch()) : local_hms(entry->wall_time);
    const std::string level(to_string(entry->level));
    if (color) {
      std::printf("\033[2m%s\033[0m %s%-8s\033[0m \033[1m%s\033[0m/%s: %s\n", when.c_str(), level_color(entry->level),
                  level.c_str(), entry->process.c_str(), entry->logger.c_str(), entry->text.c_str());
    } else {
      std::printf("%s %-8s %s/%s: %s\n", when.c_str(), level.c_str(), entry->process.c_str(), entry->logger.c_str(),
                  entry->text.c_str());
    }
    std::fflush(stdout);
    ++printed;
  };
  while (!g_stop && (args.count == 0 || printed < args.count)) {
    if (reader->drain(print) > 0) continue;
    if (auto health = node->bus_health(); !health) return report("log", health.error());  // the bus is gone
    if (const std::uint32_t ticket = reader->prepare_sleep(); ticket != 0) reader->sleep(ticket, 100ms);
  }
  return 0;
}

}  // namespace

void add_record_commands(CLI::App& app, int& exit_code) {
  auto record = std::make_shared<RecordArgs>();
  CLI::App* record_command =
      app.add_subcommand("record", "Record channels to an MCAP file (Foxglove opens it); Ctrl-C stops and sums up");
  record_command->add_option("-o,--output", record->output, "The MCAP file to write")->required();
  record_command
      ->add_option("patterns", record->patterns,
                   "Channels to record: names, `*` for one part, `**` for any (e.g. home/actuator/* statebus/log)")
      ->required();
  record_command->add_flag("-f,--force", record->force, "Replace the output file if it exists");
  record_command->add_flag("--lossy", record->lossy, "Never make publishers wait; count what is lost instead");
  record_command->add_option("--chunk-size", record->chunk_size, "Close an MCAP chunk at this many bytes")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30));
  record_command->add_option("--flush-interval", record->flush_ms,
                             "Milliseconds after which a chunk goes to the file (what a crash can lose at most)")
      ->check(CLI::Range(1U, 60000U));
  record_command->add_flag("--progress", record->progress, "Print `flushed N` whenever samples reach the file");
  record_command->callback([record, &exit_code] { exit_code = run_record(*record); });

  auto play = std::make_shared<PlayArgs>();
  CLI::App* play_command = app.add_subcommand("play", "Publish a recording on the bus again, at its recorded times");
  play_command->add_option("file", play->file, "An MCAP file written by `statebus record`")->required();
  play_command->add_option("-r,--rate", play->rate, "Speed: 2 plays twice as fast; 0 as fast as subscribers take it")
      ->check(CLI::Range(0.0, 1e9));
  play_command->add_option("-c,--channels", play->patterns, "Only these channels (patterns as for record)");
  play_command->add_option("--wait-for-subscribers", play->wait_ms,
                           "Wait up to this many milliseconds for subscribers before playing")
      ->check(CLI::Range(0U, 600000U));
  play_command->add_flag("-q,--quiet", play->quiet, "No progress bar");
  play_command->callback([play, &exit_code] { exit_code = run_play(*play); });

  auto log = std::make_shared<LogArgs>();
  CLI::App* log_command = app.add_subcommand("log", "Follow the log records of every process on the bus");
  log_command->add_option("-l,--level", log->level, "Show this level and above (trace debug info warn error critical)");
  log_command->add_option("-p,--process", log->processes, "Only these processes (repeat for several)");
  log_command->add_option("-n,--count", log->count, "Stop after N records")->check(CLI::Range(1, 1000000000));
  log_command->add_flag("--virtual-time", log->virtual_time, "Show the bus's virtual time instead of the wall clock");
  log_command->add_option("--color", log->color, "auto (on a terminal), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  log_command->callback([log, &exit_code] { exit_code = run_log(*log); });
}

}  // namespace statebus::cli
