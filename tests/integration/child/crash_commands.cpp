// statebus-test-child: the commands that publish and check self-proving
// payloads (pattern.hpp), and stop or die at a chosen point: right after
// taking or before leaving a port lock, inside iceoryx's allocator, inside a
// lossless publish. The crash-repair tests drive them (crash_repair_test.cpp).

#include <dlfcn.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"
#include "daemon_stop_hook.hpp"  // daemon/src: a hook inside the daemon's stop
#include "iceoryx_posh/internal/mepoo/mem_pool.hpp"
#include "iceoryx_posh/internal/mepoo/memory_manager.hpp"
#include "pattern.hpp"
#include "publish_hook.hpp"  // bus/src: a hook inside publish(), after delivery
#include "statebus/bus.hpp"
#include "statebus/internal/port_lock.hpp"  // bus/internal: the port lock's test hook

namespace statebus::test::child {
namespace {

using namespace std::chrono_literals;

// Where the armed publisher stops or dies, and how; then, once continued,
// where it dies next (if anywhere).
enum class Point { none, lock_taken, queue_taken, lock_leaving, lock_left, pool_chunk, manager_chunk };
std::atomic<Point> g_point{Point::none};
int g_signal = SIGSTOP;
Point g_then = Point::none;  // armed after the first stop: dies there
std::atomic<pthread_t> g_publishing{};  // the thread whose publish is armed

void stop_or_die() noexcept {
  g_point.store(g_then);
  const int signal = g_signal;
  g_signal = SIGKILL;
  g_then = Point::none;
  ::raise(signal);
}

// Counts the port lock events of the armed publish, in its own thread: its
// first lock taken is its own list of queues, its second a subscriber's
// queue; "left" is a lock freed with threads waiting, before they are woken.
void on_port_lock(detail::PortLockPoint point, pthread_mutex_t*) {
  static thread_local int taken = 0;
  const Point armed = g_point.load();
  if (armed == Point::none || !::pthread_equal(g_publishing.load(), ::pthread_self())) {
    taken = 0;
    return;
  }
  if (point == detail::PortLockPoint::taken) ++taken;
  if ((armed == Point::lock_taken && taken == 1 && point == detail::PortLockPoint::taken) ||
      (armed == Point::queue_taken && taken == 2 && point == detail::PortLockPoint::taken) ||
      (armed == Point::lock_leaving && point == detail::PortLockPoint::leaving) ||
      (armed == Point::lock_left && point == detail::PortLockPoint::left)) {
    taken = 0;
    stop_or_die();
  }
}

// "lock:taken:stop", "lock:queue:kill", "lock:leaving:stop", "alloc:pool:stop", "alloc:manager:stop",
// "publish:delivered:kill" (inside publish(), its sample delivered, still counted in flight);
// "lock:queue:stop,lock:left:kill": stopped there, and once continued killed
// where it frees a lock that threads wait for, before it wakes them.
bool arm(const std::string& spec) {
  g_publishing.store(::pthread_self());
  if (const auto comma = spec.find(','); comma != std::string::npos) {
    const std::string then = spec.substr(comma + 1);
    if (then != "lock:left:kill") return false;
    if (!arm(spec.substr(0, comma))) return false;
    g_then = Point::lock_left;
    return true;
  }
  if (spec == "publish:delivered:kill") {
    detail::set_after_delivery_hook([] { ::raise(SIGKILL); });
    return true;
  }
  const std::map<std::string, Point> points{{"lock:taken", Point::lock_taken},
                                            {"lock:queue", Point::queue_taken},
                                            {"lock:leaving", Point::lock_leaving},
                                            {"lock:left", Point::lock_left},
                                            {"alloc:pool", Point::pool_chunk},
                                            {"alloc:manager", Point::manager_chunk}};
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos) return false;
  const auto point = points.find(spec.substr(0, colon));
  const std::string action = spec.substr(colon + 1);
  if (point == points.end() || (action != "stop" && action != "kill")) return false;
  g_signal = action == "stop" ? SIGSTOP : SIGKILL;
  detail::set_port_lock_hook(on_port_lock);
  g_point.store(point->second);
  return true;
}

// One line from stdin if one comes within `timeout_ms` ("eof" once it
// ends). It reads with read(2) into a buffer of its own: poll(2) sees only
// what no buffer has taken yet, so two lines that came in one block would
// leave the second in std::cin's buffer, unseen until the next write.
std::optional<std::string> stdin_line(int timeout_ms) {
  static std::string pending;
  static bool ended = false;
  for (;;) {
    if (const auto end = pending.find('\n'); end != std::string::npos) {
      std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      return line;
    }
    if (ended) return std::string("eof");
    pollfd input{STDIN_FILENO, POLLIN, 0};
    if (::poll(&input, 1, timeout_ms) <= 0) return std::nullopt;
    char block[256];
    const ssize_t got = ::read(STDIN_FILENO, block, sizeof block);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) ended = true;
    if (got > 0) pending.append(block, static_cast<std::size_t>(got));
  }
}

// Publishes self-proving samples on stdin's word:
//   publish N          N samples (each loaned, filled, published); says "sent TOTAL"
//   publish-saying N   the same, saying "publishing I" before each
//   arm SPEC           the next sample's publish stops or dies at SPEC (arm()); says "arming"
int run_patterned_publish(const Args& args, const Node* node) {
  const std::size_t size = std::strtoull(args[2], nullptr, 10);
  PublisherOptions options;
  options.history = static_cast<std::uint32_t>(std::atoi(args[3]));
  auto pub = UntypedPublisher::create(*node, args[1], nullptr, options);
  if (!pub) return fail_with(pub.error());
  if (!pub->wait_for_subscribers(10s)) return fail_with(Error(Errc::timeout, "no subscriber within 10 s"));
  say("ready");
  const auto tag = static_cast<std::uint64_t>(::getpid());
  std::uint64_t sent = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string verb, what;
    words >> verb >> what;
    if (verb == "arm") {
      if (!arm(what)) return fail_with(Error(Errc::invalid_argument, "cannot arm " + what));
      say("arming");
      continue;
    }
    if (verb != "publish" && verb != "publish-saying") continue;
    for (long i = std::atol(what.c_str()); i > 0; --i) {
      if (verb == "publish-saying") say("publishing " + std::to_string(sent + 1));
      // iceoryx lends the last sample's chunk again when nobody else holds
      // it: an armed allocator needs a loan that must be a fresh chunk.
      std::optional<BytesLoan> reused;
      const Point armed = g_point.load();
      if (armed == Point::pool_chunk || armed == Point::manager_chunk) {
        g_point.store(Point::none);
        if (auto first = pub->loan(size)) reused.emplace(std::move(*first));
        g_point.store(armed);
      }
      auto loan = pub->loan(size);  // an armed allocator stops in here
      if (!loan) return fail_with(Error(Errc::out_of_resources, "pools exhausted at " + std::to_string(sent)));
      fill_pattern(loan->data(), size, tag, ++sent);
      std::move(*loan).publish();  // an armed lock stops in here
    }
    say("sent " + std::to_string(sent));
  }
  return 0;
}

// Tight loop of self-proving samples with history, for the random kills;
// "quiet": it says nothing after "ready" (nobody reads what it would say).
int run_patterned_flood(const Args& args, const Node* node) {
  const std::size_t size = std::strtoull(args[2], nullptr, 10);
  const bool quiet = args.size() > 4 && std::string(args[4]) == "quiet";
  PublisherOptions options;
  options.history = static_cast<std::uint32_t>(std::atoi(args[3]));
  auto pub = UntypedPublisher::create(*node, args[1], nullptr, options);
  if (!pub) return fail_with(pub.error());
  say("ready");
  const auto tag = static_cast<std::uint64_t>(::getpid());
  for (std::uint64_t i = 1;; ++i) {
    if (auto loan = pub->loan(size)) {
      fill_pattern(loan->data(), size, tag, i);
      std::move(*loan).publish();
    }
    if (i % 256 == 0 && !quiet) say("n");
  }
}

// Checks every sample: its bytes, and that no publisher's sample comes twice
// or out of order. Prints "corrupt …" or "repeated …" at once; on stdin
// "count" says "checked N corrupt C repeated R"; "go" starts reading when it
// was started "paused"; ends with "lost …" when the bus goes.
int run_patterned_sink(const Args& args, const Node* node) {
  SubscriberOptions options;
  bool paused = false;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string option = args[i];
    if (option == "lossless") options.lossless = true;
    if (option == "paused") paused = true;
    if (option.rfind("history=", 0) == 0) options.history = static_cast<std::uint32_t>(std::atoi(args[i] + 8));
    if (option.rfind("queue=", 0) == 0) options.queue_depth = static_cast<std::uint32_t>(std::atoi(args[i] + 6));
  }
  auto sub = UntypedSubscriber::create(*node, args[1], options);
  if (!sub) return fail_with(sub.error());
  say("ready");
  std::map<std::uint64_t, std::uint64_t> last;  // publisher tag → its latest sequence
  std::uint64_t checked = 0, corrupt = 0, repeated = 0;
  for (;;) {
    if (auto line = stdin_line(0)) {
      if (*line == "count") {
        say("checked " + std::to_string(checked) + " corrupt " + std::to_string(corrupt) + " repeated " +
            std::to_string(repeated));
      }
      if (*line == "go") paused = false;
      if (*line == "eof") return 0;
    }
    if (auto health = node->bus_health(); !health) {
      say("lost " + health.error().message());
      return 0;
    }
    if (paused) {
      pollfd input{STDIN_FILENO, POLLIN, 0};
      (void)::poll(&input, 1, 20);  // the next round reads what came
      continue;
    }
    auto sample = sub->take_for(20ms);
    if (!sample) continue;
    ++checked;
    std::uint64_t tag = 0, sequence = 0;
    if (!pattern_intact(sample->data(), sample->size(), tag, sequence)) {
      ++corrupt;
      say("corrupt tag " + std::to_string(tag) + " sequence " + std::to_string(sequence));
      continue;
    }
    auto seen = last.find(tag);
    if (seen != last.end() && sequence <= seen->second) {
      ++repeated;
      say("repeated tag " + std::to_string(tag) + " sequence " + std::to_string(sequence) + " after " +
          std::to_string(seen->second));
    }
    last[tag] = sequence;
  }
}

// Subscribe (asking for history), take and check, hold, release,
// unsubscribe: again and again. Says "n" per round, "corrupt …" at once.
int run_patterned_churn(const Args& args, const Node* node) {
  say("ready");
  SubscriberOptions options;
  options.history = 4;
  for (;;) {
    auto sub = UntypedSubscriber::create(*node, args[1], options);
    if (!sub) return fail_with(sub.error());
    std::vector<BytesSample> held;
    for (int i = 0; i < 64; ++i) {
      auto sample = sub->take_for(1s);
      if (!sample) break;
      std::uint64_t tag = 0, sequence = 0;
      if (!pattern_intact(sample->data(), sample->size(), tag, sequence)) {
        say("corrupt tag " + std::to_string(tag) + " sequence " + std::to_string(sequence));
      }
      held.push_back(std::move(*sample));
      if (held.size() > 4) held.erase(held.begin());
    }
    say("n");
  }
}

// A daemon in this process on the test's bus: "ready"; on stdin "stop" it
// stops, and this process stops itself (SIGSTOP) right after the daemon
// told every process goodbye, before RouDi stops answering.
int run_stalling_daemon(const Args&, const Node*) {
  auto daemon = Daemon::start();
  if (!daemon) return fail_with(daemon.error());
  say("ready");
  std::string line;
  while (std::getline(std::cin, line) && line != "stop") {
  }
  detail::set_after_goodbye_hook([] { ::raise(SIGSTOP); });
  daemon->stop();
  say("stopped");
  return 0;
}

// Joins the bus when told: "ready", then on stdin "go" connects and says
// "ok" or the error's message.
int run_connect_on_go(const Args& args, const Node*) {
  say("ready");
  std::string line;
  while (std::getline(std::cin, line) && line != "go") {
  }
  auto node = Node::connect(args[0]);
  say(node ? "ok" : node.error().message());
  return node ? 0 : 1;
}

}  // namespace

std::vector<Command> crash_commands() {
  return {
      {"patterned-publish", "NAME CHANNEL SIZE HISTORY",
       "self-proving samples of SIZE bytes: \"ready\" once a subscriber is there; on stdin \"publish N\"\n"
       "says \"sent TOTAL\"; \"arm lock:taken|lock:queue|lock:leaving|alloc:pool|alloc:manager:stop|kill\"\n"
       "(or \"arm publish:delivered:kill\") says \"arming\" and makes the next sample stop or die there",
       4, 4, Setup::node, run_patterned_publish},
      {"patterned-flood", "NAME CHANNEL SIZE HISTORY [quiet]",
       "self-proving samples in a tight loop, with HISTORY: \"ready\", then \"n\" every 256 (unless quiet)", 4, 5,
       Setup::node, run_patterned_flood},
      {"patterned-sink", "NAME CHANNEL [lossless] [paused] [history=N] [queue=N]",
       "checks every sample's bytes and order: \"corrupt …\" or \"repeated …\" at once; stdin \"count\":\n"
       "\"checked N corrupt C repeated R\"; \"go\" ends \"paused\"; \"lost …\" when the bus goes",
       2, kAnyMore, Setup::node, run_patterned_sink},
      {"patterned-churn", "NAME CHANNEL",
       "subscribe (history 4), take and check up to 64 samples holding 4, unsubscribe; again: \"ready\",\n"
       "\"n\" per round, \"corrupt …\" at once",
       2, 2, Setup::node, run_patterned_churn},
      {"stalling-daemon", "NAME",
       "a daemon on the test's bus: \"ready\"; on stdin \"stop\" stops it, freezing (SIGSTOP) right\n"
       "after it told every process goodbye",
       1, 1, Setup::none, run_stalling_daemon},
      {"connect-on-go", "NAME", "\"ready\"; on stdin \"go\" connects as NAME and says \"ok\" or why not", 1, 1,
       Setup::none, run_connect_on_go},
  };
}

}  // namespace statebus::test::child

// The allocator, stopped or killed right after it handed out a chunk (a
// slot taken from its pool, or a chunk not yet in any port's list) when
// armed: the test stands in for a debugger's breakpoint. These definitions
// take the place of the iceoryx library's in this program; they call it.
void* iox::mepoo::MemPool::getChunk() noexcept {
  using Real = void* (*)(iox::mepoo::MemPool*);
  static const auto real = reinterpret_cast<Real>(::dlsym(RTLD_NEXT, "_ZN3iox5mepoo7MemPool8getChunkEv"));
  void* chunk = real(this);
  if (chunk != nullptr && statebus::test::child::g_point.load() == statebus::test::child::Point::pool_chunk) {
    statebus::test::child::stop_or_die();
  }
  return chunk;
}

iox::cxx::expected<iox::mepoo::SharedChunk, iox::mepoo::MemoryManager::Error> iox::mepoo::MemoryManager::getChunk(
    const ChunkSettings& settings) noexcept {
  using Chunk = iox::cxx::expected<iox::mepoo::SharedChunk, iox::mepoo::MemoryManager::Error>;
  // The member function's ABI on x86_64: the result's address, `this`, the argument.
  using Real = Chunk (*)(iox::mepoo::MemoryManager*, const ChunkSettings&);
  static const auto real = reinterpret_cast<Real>(
      ::dlsym(RTLD_NEXT, "_ZN3iox5mepoo13MemoryManager8getChunkERKNS0_13ChunkSettingsE"));
  Chunk chunk = real(this, settings);
  if (!chunk.has_error() && statebus::test::child::g_point.load() == statebus::test::child::Point::manager_chunk) {
    statebus::test::child::stop_or_die();
  }
  return chunk;
}
