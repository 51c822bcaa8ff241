// `statebus ls`, `statebus echo CHANNEL`, `statebus hz CHANNEL`.
#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "commands.hpp"
#include "statebus/bus.hpp"
#include "statebus/service/detail/service_wire.hpp"
#include "statebus/service/discovery.hpp"
#include "statebus/state/cell.hpp"

namespace statebus::cli {

std::atomic<bool> g_stop{false};

namespace {
void on_stop_signal(int) { g_stop = true; }
}  // namespace

void stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

Result<Node> connect_cli() {
  // A name no one can guess ahead, so that no other user can take it first
  // (its iceoryx socket lives in /tmp, where anyone may create files).
  std::uint64_t random = 0;
  if (::getrandom(&random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
    random = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
             static_cast<std::uint64_t>(::getpid());
  }
  char name[32];
  std::snprintf(name, sizeof name, "statebus-cli-%016llx", static_cast<unsigned long long>(random));
  return Node::connect(name);
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int no_channel(const char* command, const std::string& channel) {
  return report(command, Error(Errc::not_found, "no publisher on channel '" + channel +
                                                    "'; `statebus ls` lists the channels"));
}

// Connects and subscribes to a channel that some publisher offers; returns
// the exit status on failure (exit_status.hpp), else 0.
int open_channel(const char* command, const std::string& channel, std::uint32_t history, std::optional<Node>& node,
                 std::optional<UntypedSubscriber>& sub) {
  if (auto valid = validate_channel_name(channel); !valid) return report(command, valid.error());
  auto connected = connect_cli();
  if (!connected) return report(command, connected.error());
  node = std::move(*connected);
  if (!channel_offered(*node, channel)) return no_channel(command, channel);
  auto created = UntypedSubscriber::create(*node, channel, SubscriberOptions{256, history, false});
  if (!created) return report(command, created.error());
  sub = std::move(*created);
  return 0;
}

// ---- ls --------------------------------------------------------------------

int run_ls() {
  auto node = connect_cli();
  if (!node) return report("ls", node.error());
  auto channels = list_channels(*node, 1000ms);
  if (!channels) return report("ls", channels.error());
  const std::string self = node->name();
  std::size_t width = 7;
  for (const ChannelInfo& c : *channels) width = std::max(width, c.name.size());
  std::printf("%-*s  %-24s  %4s  %4s  %s\n", static_cast<int>(width), "CHANNEL", "TYPE", "PUB", "SUB", "NODES");
  for (const ChannelInfo& c : *channels) {
    std::string nodes;
    for (const std::string& n : c.nodes) {
      if (n == self) continue;
      nodes += (nodes.empty() ? "" : ",") + n;
    }
    const std::string type = c.schema ? c.schema->name : "(bytes)";
    std::printf("%-*s  %-24s  %4zu  %4zu  %s\n", static_cast<int>(width), c.name.c_str(), type.c_str(), c.publishers,
                c.subscribers, nodes.c_str());
  }
  if (channels->empty()) std::printf("(no channels)\n");
  if (const auto services = services_of(*node, *channels); !services.empty()) {
    std::size_t name_width = 7;
    for (const ServiceInfo& s : services) name_width = std::max(name_width, s.name.size());
    std::printf("\n%-*s  %-40s  %s\n", static_cast<int>(name_width), "SERVICE", "REQUEST -> RESPONSE", "SERVER");
    for (const ServiceInfo& s : services) {
      const std::string types =
          (s.request_type.empty() ? "?" : s.request_type) + " -> " + (s.response_type.empty() ? "?" : s.response_type);
      const std::string server = s.server ? detail::describe_process(*s.server) : "(none: calls fail with no_server)";
      std::printf("%-*s  %-40s  %s\n", static_cast<int>(name_width), s.name.c_str(), types.c_str(), server.c_str());
    }
  }
  // What the daemon repaired, and what killed processes took with them.
  auto cell = UntypedCell::open(kDaemonStatusCell);
  if (cell && cell->schema().fingerprint == schema_of<DaemonStatus>().fingerprint) {
    DaemonStatus d;
    cell->load(&d);
    std::printf("\n%u processes on the bus; %llu died so far, %llu port locks they held released (%llu after setting "
                "right a half-done update); lost in their hands: %u chunks, %u pool slots\n",
                d.processes, static_cast<unsigned long long>(d.deaths),
                static_cast<unsigned long long>(d.locks_released),
                static_cast<unsigned long long>(d.structures_repaired), d.chunks_lost, d.slots_lost);
  }
  return 0;
}

// ---- echo ------------------------------------------------------------------

struct EchoArgs {
  std::string channel;
  bool json = false;
  bool header = false;
  long count = 0;
  std::uint32_t history = 0;
};

std::string render(const BytesSample& sample, const std::map<std::uint64_t, Schema>& schemas, bool json) {
  const auto found = schemas.find(sample.header().fingerprint);
  if (found != schemas.end() && found->second.size == sample.size()) {
    return json ? found->second.render_json(sample.data()) : found->second.render_text(sample.data());
  }
  // No schema: show the size and the first bytes in hex.
  std::string hex;
  char byte[4];
  for (std::size_t i = 0; i < std::min<std::size_t>(sample.size(), 32); ++i) {
    std::snprintf(byte, sizeof byte, "%02x", static_cast<unsigned>(sample.data()[i]));
    hex += byte;
  }
  if (sample.size() > 32) hex += "…";
  if (json) return "{\"bytes\":" + std::to_string(sample.size()) + ",\"hex\":\"" + hex + "\"}";
  return "<" + std::to_string(sample.size()) + " bytes> " + hex;
}

int run_echo(const EchoArgs& args) {
  std::optional<Node> node;
  std::optional<UntypedSubscriber> sub;
  if (const int failed = open_channel("echo", args.channel, args.history, node, sub); failed != 0) return failed;
  std::map<std::uint64_t, Schema> schemas;
  stop_on_signals();
  long printed = 0;
  while (!g_stop && (args.count == 0 || printed < args.count)) {
    auto sample = sub->take_for(100ms);
    if (sample.failed()) return report("echo", sample.error());  // the bus is gone
    if (!sample) continue;
    const SampleHeader& h = sample->header();
    if (h.fingerprint != 0 && schemas.count(h.fingerprint) == 0) {
      if (auto schema = find_schema(*node, args.channel, h.fingerprint))
        schemas.emplace(h.fingerprint, std::move(*schema));
    }
    const std::string value = render(*sample, schemas, args.json);
    if (args.json) {
      std::printf(
          "{\"sequence\":%llu,\"publisher_pid\":%d,\"real_time_ns\":%lld,\"virtual_time_ns\":%lld,\"value\":%s}\n",
          static_cast<unsigned long long>(h.sequence), h.publisher_pid, static_cast<long long>(h.real_time_ns),
          static_cast<long long>(h.virtual_time_ns), value.c_str());
    } else if (args.header) {
      std::printf("#%llu pid %d t=%.6f s  %s\n", static_cast<unsigned long long>(h.sequence), h.publisher_pid,
                  static_cast<double>(h.virtual_time_ns) / 1e9, value.c_str());
    } else {
      std::printf("%s\n", value.c_str());
    }
    std::fflush(stdout);
    ++printed;
  }
  if (sub->lost() != 0)
    std::fprintf(stderr, "statebus: %llu samples lost\n", static_cast<unsigned long long>(sub->lost()));
  return 0;
}

// ---- hz --------------------------------------------------------------------

struct HzArgs {
  std::string channel;
  long count = 0;
  std::uint32_t history = 0;
};

int run_hz(const HzArgs& args) {
  std::optional<Node> node;
  std::optional<UntypedSubscriber> sub;
  if (const int failed = open_channel("hz", args.channel, args.history, node, sub); failed != 0) return failed;
  stop_on_signals();
  long total = 0;
  long window = 0;
  std::optional<std::int64_t> first_ns;
  std::int64_t last_ns = 0;
  auto report_at = Clock::now() + 1s;
  // A rate needs two samples (one interval): with fewer it says so.
  auto print = [&](const char* label, long samples, double seconds) {
    char rate[64] = "no rate yet (one sample)";
    if (samples == 0) std::snprintf(rate, sizeof rate, "no rate (no sample)");
    if (samples > 1 && seconds > 0)
      std::snprintf(rate, sizeof rate, "%.2f Hz", static_cast<double>(samples - 1) / seconds);
    std::printf("%s: %ld sample%s, %s, %llu lost\n", label, samples, samples == 1 ? "" : "s", rate,
                static_cast<unsigned long long>(sub->lost()));
    std::fflush(stdout);
  };
  std::int64_t window_first_ns = 0;
  while (!g_stop && (args.count == 0 || total < args.count)) {
    auto sample = sub->take_for(100ms);
    if (sample.failed()) return report("rate", sample.error());  // the bus is gone
    if (sample) {
      const std::int64_t t = sample->header().real_time_ns;
      if (!first_ns) first_ns = t;
      if (window == 0) window_first_ns = t;
      last_ns = t;
      ++total;
      ++window;
    }
    if (args.count == 0 && Clock::now() >= report_at) {
      print("rate", window, static_cast<double>(last_ns - window_first_ns) / 1e9);
      window = 0;
      report_at = Clock::now() + 1s;
    }
  }
  if (first_ns) print("total", total, static_cast<double>(last_ns - *first_ns) / 1e9);
  return 0;
}

}  // namespace

void add_bus_commands(CLI::App& app, int& exit_code) {
  app.add_subcommand("ls", "List channels with their type, publishers, subscribers and nodes")
      ->callback([&exit_code] { exit_code = run_ls(); });

  auto echo = std::make_shared<EchoArgs>();
  CLI::App* echo_command = app.add_subcommand("echo", "Print the samples of a channel, decoded field by field");
  echo_command->add_option("channel", echo->channel, "Channel name, e.g. home/sensor/temperature")->required();
  echo_command->add_flag("--json", echo->json, "One JSON object per sample, with its header");
  echo_command->add_flag("--header", echo->header, "Show sequence number, publisher pid and time");
  echo_command->add_option("-n,--count", echo->count, "Stop after N samples")->check(CLI::Range(1, 1000000000));
  echo_command->add_option("--history", echo->history, "Also print up to N samples sent before (0-16)")
      ->check(CLI::Range(0, 16));
  echo_command->callback([echo, &exit_code] { exit_code = run_echo(*echo); });

  auto hz = std::make_shared<HzArgs>();
  CLI::App* hz_command = app.add_subcommand("hz", "Show the publishing rate and losses of a channel");
  hz_command->add_option("channel", hz->channel, "Channel name")->required();
  hz_command->add_option("-n,--count", hz->count, "Stop after N samples and print the totals")
      ->check(CLI::Range(1, 1000000000));
  hz_command->add_option("--history", hz->history, "Count up to N samples sent before too (0-16)")
      ->check(CLI::Range(0, 16));
  hz_command->callback([hz, &exit_code] { exit_code = run_hz(*hz); });
}

}  // namespace statebus::cli
