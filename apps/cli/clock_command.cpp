// `statebus clock`: show or change the bus's virtual clock.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "statebus/clock/duration.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus::cli {
namespace {

struct ClockArgs {
  std::optional<double> rate;
  bool pause = false;
  bool resume = false;
  bool stepped = false;
  bool real = false;
  std::optional<std::string> step;
  bool lockstep = false;
  std::optional<std::string> until;
};

std::optional<std::chrono::nanoseconds> parse_or_report(const std::string& text) {
  auto span = parse_duration(text);
  if (span) return *span;
  std::fprintf(stderr, "statebus clock: %s\n", span.error().message().c_str());
  return std::nullopt;
}

int report(const Result<void>& result) {
  if (result) return 0;
  std::fprintf(stderr, "statebus clock: %s\n", result.error().message().c_str());
  return result.error().code() == Errc::invalid_argument ? 2 : 1;
}

int run_clock(const ClockArgs& args) {
  if (auto attached = VirtualClock::attach(); !attached) {
    std::fprintf(stderr, "statebus clock: %s\n", attached.error().message().c_str());
    return 1;
  }
  int changes = (args.rate ? 1 : 0) + args.pause + args.resume + args.stepped + args.real + (args.step ? 1 : 0) +
                args.lockstep;
  if (changes > 1) {
    std::fprintf(stderr,
                 "statebus clock: give one of --rate, --pause, --resume, --stepped, --real, --step, --lockstep\n");
    return 2;
  }
  if (args.until && !args.lockstep) {
    std::fprintf(stderr, "statebus clock: --until goes with --lockstep\n");
    return 2;
  }
  int code = 0;
  if (args.rate) code = report(VirtualClock::set_rate(*args.rate));
  if (args.pause) code = report(VirtualClock::pause());
  if (args.resume) code = report(VirtualClock::resume());
  if (args.stepped) code = report(VirtualClock::set_stepped());
  if (args.real) code = report(VirtualClock::set_real());
  if (args.step) {
    const auto span = parse_or_report(*args.step);
    if (!span) return 2;
    code = report(VirtualClock::advance(*span));
  }
  if (args.lockstep) {
    std::optional<VirtualClock::time_point> until;
    if (args.until) {
      const auto span = parse_or_report(*args.until);
      if (!span) return 2;
      until = VirtualClock::now() + *span;
    }
    code = report(VirtualClock::set_lockstep(until));
  }
  if (code != 0) return code;
  const ClockStatus status = VirtualClock::status();
  std::printf("mode %s  rate %g  virtual time %s (%lld ns)\n", std::string(to_string(status.mode)).c_str(), status.rate,
              format_duration(status.now).c_str(), static_cast<long long>(status.now.count()));
  if (status.mode == ClockMode::lockstep) {
    std::printf("lockstep: %zu event loops, %llu jumps%s%s\n", status.participants,
                static_cast<unsigned long long>(status.advances), status.until ? ", stops at " : "",
                status.until ? format_duration(*status.until).c_str() : "");
  }
  return 0;
}

}  // namespace

void add_clock_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ClockArgs>();
  CLI::App* command = app.add_subcommand("clock", "Show or change the bus's virtual clock");
  command->add_option("--rate", args->rate, "Run virtual time at RATE × real time (0 pauses; 86400: a day per second)");
  command->add_flag("--pause", args->pause, "Stop virtual time");
  command->add_flag("--resume", args->resume, "Continue at the rate before the pause");
  command->add_flag("--stepped", args->stepped, "Move virtual time only by --step");
  command->add_flag("--real", args->real, "Run with real time again");
  command->add_option("--step", args->step, "Advance stepped time by a duration: 90s, 15m, 24h, 1h30m");
  command->add_flag("--lockstep", args->lockstep,
                    "Jump to the next timer of the event loops as soon as all are idle (as fast as they compute)");
  command->add_option("--until", args->until, "With --lockstep: stop virtual time this far from now (24h)");
  command->callback([args, &exit_code] { exit_code = run_clock(*args); });
}

}  // namespace statebus::cli
