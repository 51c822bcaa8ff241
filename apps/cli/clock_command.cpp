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
  std::optional<std::string> rate;
  bool pause = false;
  bool resume = false;
  bool stepped = false;
  bool real = false;
  std::optional<std::string> step;
  bool lockstep = false;
  std::optional<std::string> until;
};

int report_change(const Result<void>& result) { return result ? 0 : report("clock", result.error()); }

int run_clock(const ClockArgs& args) {
  if (auto attached = VirtualClock::attach(); !attached) return report("clock", attached.error());
  int changes = (args.rate ? 1 : 0) + args.pause + args.resume + args.stepped + args.real + (args.step ? 1 : 0) +
                args.lockstep;
  if (changes > 1)
    return usage_error("clock", "give one of --rate, --pause, --resume, --stepped, --real, --step, --lockstep");
  if (args.until && !args.lockstep) return usage_error("clock", "--until goes with --lockstep");
  int code = 0;
  if (args.rate) {
    const auto rate = parse_rate(*args.rate);
    if (!rate) return report("clock", rate.error());
    code = report_change(VirtualClock::set_rate(*rate));
  }
  if (args.pause) code = report_change(VirtualClock::pause());
  if (args.resume) code = report_change(VirtualClock::resume());
  if (args.stepped) code = report_change(VirtualClock::set_stepped());
  if (args.real) code = report_change(VirtualClock::set_real());
  if (args.step) {
    const auto span = parse_duration(*args.step);
    if (!span) return report("clock", span.error());
    code = report_change(VirtualClock::advance(*span));
  }
  if (args.lockstep) {
    std::optional<VirtualClock::time_point> until;
    if (args.until) {
      const auto span = parse_duration(*args.until);
      if (!span) return report("clock", span.error());
      // Checked before adding: now + 292 years would wrap round.
      const auto now = VirtualClock::now();
      if (*span > VirtualClock::end_of_time - now) {
        return report("clock", Error(Errc::invalid_argument,
                                     "--until " + *args.until + " from now passes the end of virtual time (" +
                                         format_duration(VirtualClock::end_of_time.time_since_epoch()) +
                                         " after the machine's start): the supported span is 100 years"));
      }
      until = now + *span;
    }
    code = report_change(VirtualClock::set_lockstep(until));
  }
  if (code != 0) return code;
  const ClockStatus status = VirtualClock::status();
  if (!status.damage.empty()) return report("clock", Error(Errc::corrupt_segment, status.damage));
  const VirtualClock::duration now = status.now.time_since_epoch();
  std::printf("mode %s  rate %g  virtual time %s (%lld ns)\n", std::string(to_string(status.mode)).c_str(), status.rate,
              format_duration(now).c_str(), static_cast<long long>(now.count()));
  if (status.mode == ClockMode::lockstep) {
    std::printf("lockstep: %zu event loops, %llu jumps%s%s\n", status.participants,
                static_cast<unsigned long long>(status.advances), status.until ? ", stops at " : "",
                status.until ? format_duration(status.until->time_since_epoch()).c_str() : "");
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
