// `statebus daemon`: runs the bus daemon in the foreground until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "statebus/bus/daemon.hpp"

namespace statebus::cli {
namespace {

struct DaemonArgs {
  bool iceoryx_defaults = false;
  bool verbose = false;
};

int run_daemon(const DaemonArgs& args) {
  // Messages (stale files removed, errors) go to stderr; stdout carries the
  // one "ready" line scripts wait for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("statebus"));
  spdlog::set_pattern("statebus daemon: %v");
  spdlog::flush_on(spdlog::level::warn);

  // Block the stop signals before RouDi starts its threads, so they inherit
  // the mask and this thread alone takes the signal in sigwait().
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  DaemonOptions options;
  if (args.iceoryx_defaults) options.memory = MemoryConfig::stock();
  options.verbose_iceoryx = args.verbose;
  auto daemon = Daemon::start(options);
  if (!daemon) {
    std::fprintf(stderr, "statebus daemon: %s\n", daemon.error().message().c_str());
    return 1;
  }
  std::printf("statebus daemon ready (pid %d): %.1f MB of shared memory, started in %.1f ms, payloads up to %u bytes\n",
              static_cast<int>(daemon->pid()), static_cast<double>(daemon->shared_memory_bytes()) / 1e6,
              static_cast<double>(daemon->startup_time().count()) / 1e6, daemon->max_payload());
  std::fflush(stdout);

  int received = 0;
  sigwait(&stop_signals, &received);
  daemon->stop();
  std::printf("statebus daemon stopped (%s)\n", received == SIGINT ? "SIGINT" : received == SIGTERM ? "SIGTERM" : "SIGHUP");
  return 0;
}

}  // namespace

void add_daemon_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DaemonArgs>();
  CLI::App* command = app.add_subcommand("daemon", "Run the bus daemon in the foreground (stop with Ctrl-C or SIGTERM)");
  command->add_flag("--iceoryx-defaults", args->iceoryx_defaults,
                    "Use iceoryx's stock memory pools (~215 MB) instead of statebus's compact ones");
  command->add_flag("-v,--verbose", args->verbose, "Show iceoryx's own informational messages");
  command->callback([args, &exit_code] { exit_code = run_daemon(*args); });
}

}  // namespace statebus::cli
