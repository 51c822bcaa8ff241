// `statebus daemon`: runs the bus daemon in the foreground until SIGINT/SIGTERM.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "statebus/daemon/daemon.hpp"

namespace statebus::cli {
namespace {

struct DaemonArgs {
  bool iceoryx_defaults = false;
  bool verbose = false;
  bool exit_on_wedge = false;
  int wedge_timeout_ms = 3000;
};

const int kWedgedExit = exit_status(Errc::daemon_wedged);

// Starts this program afresh with the same arguments, in this process (the
// pid stays, so whoever supervises it keeps it). Every inherited descriptor
// is closed first: the daemon's locks are released and the new daemon finds
// the old one's files stale and removes them. Returns only on failure.
void restart_self() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (std::size_t at = 0; at < all.size();) {
    const std::size_t end = all.find('\0', at);
    args.push_back(all.substr(at, end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(dir);
    while (const dirent* entry = ::readdir(dir)) {
      const int fd = std::atoi(entry->d_name);
      if (fd > 2 && fd != own) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    ::closedir(dir);
  }
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
  ::execv("/proc/self/exe", argv.data());
}

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
  options.wedge_timeout = std::chrono::milliseconds(args.wedge_timeout_ms);
  auto daemon = Daemon::start(options);
  if (!daemon) return report("daemon", daemon.error());
  std::printf("statebus daemon ready (pid %d): %.1f MB of shared memory, started in %.1f ms, payloads up to %u bytes\n",
              static_cast<int>(daemon->pid()), static_cast<double>(daemon->shared_memory_bytes()) / 1e6,
              static_cast<double>(daemon->startup_time().count()) / 1e6, daemon->max_payload());
  std::fflush(stdout);

  // Wait for a stop signal, checking five times a second that RouDi still
  // makes progress: a wedged daemon would hang every client that registers.
  int received = 0;
  const timespec check_every{0, 200'000'000};
  for (;;) {
    received = sigtimedwait(&stop_signals, nullptr, &check_every);
    if (received > 0) break;
    if (auto health = daemon->health(); !health && health.error().code() == Errc::daemon_wedged) {
      std::fprintf(stderr, "statebus daemon: %s\n", health.error().message().c_str());
      if (args.exit_on_wedge) {
        std::fprintf(stderr, "statebus daemon: exiting with status %d (--exit-on-wedge)\n", kWedgedExit);
        std::fflush(stderr);
        std::_Exit(kWedgedExit);  // no destructors: they would wait for RouDi's stuck threads
      }
      std::fprintf(stderr, "statebus daemon: starting a new daemon in its place (same pid)\n");
      std::fflush(stderr);
      std::fflush(stdout);
      restart_self();
      std::fprintf(stderr, "statebus daemon: cannot restart itself: %s\n", std::strerror(errno));
      std::_Exit(kWedgedExit);
    }
  }
  const DaemonRepairs repairs = daemon->repairs();
  if (repairs.locks_released != 0 || repairs.chunks_lost != 0 || repairs.slots_lost != 0) {
    std::printf("statebus daemon: %llu processes died on the bus; %llu port locks they held released (%llu after "
                "setting right a half-done update); %u chunks and %u pool slots they had in hand stay lost\n",
                static_cast<unsigned long long>(repairs.deaths),
                static_cast<unsigned long long>(repairs.locks_released),
                static_cast<unsigned long long>(repairs.structures_repaired), repairs.chunks_lost, repairs.slots_lost);
  }
  daemon->stop();
  const char* signal_name = received == SIGINT ? "SIGINT" : received == SIGTERM ? "SIGTERM" : "SIGHUP";
  std::printf("statebus daemon stopped (%s)\n", signal_name);
  return 0;
}

}  // namespace

void add_daemon_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DaemonArgs>();
  CLI::App* command =
      app.add_subcommand("daemon", "Run the bus daemon in the foreground (stop with Ctrl-C or SIGTERM)");
  command->add_flag("--iceoryx-defaults", args->iceoryx_defaults,
                    "Use iceoryx's stock memory pools (~215 MB) instead of statebus's compact ones");
  command->add_flag("-v,--verbose", args->verbose,
                    "Show iceoryx's own messages (its warnings and information; hidden by default)");
  command->add_flag("--exit-on-wedge", args->exit_on_wedge,
                    "When the daemon wedges (iceoryx #1711), exit with status 3 instead of restarting in place");
  command
      ->add_option("--wedge-timeout", args->wedge_timeout_ms,
                   "Milliseconds without progress after which the daemon counts as wedged (at least 500; "
                   "a pause of the daemon does not count)")
      ->check(CLI::Range(1, 600000));  // the daemon says why below 500
  command->callback([args, &exit_code] { exit_code = run_daemon(*args); });
}

}  // namespace statebus::cli
