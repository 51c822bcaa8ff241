// A service's server in a PID namespace of its own (a container sharing
// /tmp and /dev/shm), called from the test's namespace. Its pid there (2)
// names another process here, or none: a client that judged it by that pid
// would take the live server for dead. So it is never judged by its pid:
// answered byte for byte; stopped (SIGSTOP), its call times out and it
// answers once continued; its clean stop (the goodbye) ends a pending call
// early; killed, its pending call ends at its timeout and later calls find
// no server once the daemon has removed its ports. Skipped, saying why,
// where no PID namespace can be made.
#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "pid_namespace.hpp"
#include "sleep_probe.hpp"
#include "statebus/base/process.hpp"
#include "statebus/bus.hpp"
#include "statebus/service.hpp"
#include "statebus/testing/bus_test.hpp"
#include "test_messages.hpp"

namespace statebus {
namespace {

using namespace std::chrono_literals;
using test::Answer;
using test::Ask;
using test::ask;
using testkit::ChildProcess;

constexpr const char* kService = "test/calc";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The test server (statebus-test-child serve) in a PID namespace of its own.
struct NamespacedServer {
  std::optional<ChildProcess> unshare;  // unshare → sh (pid 1 there) → the server
  pid_t here = 0;                       // the server's pid in the test's namespace
  pid_t there = 0;                      // and in its own
};

class ServiceInAnotherPidNamespace : public testkit::NodeTest {
 protected:
  ServiceInAnotherPidNamespace() : NodeTest("service-ns-test") {}

  void SetUp() override {
    NodeTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    if (!test::can_make_pid_namespace()) {
      GTEST_SKIP() << "no PID namespace can be made here (unshare --pid needs CAP_SYS_ADMIN in this user "
                      "namespace): a server in another one cannot be tried";
    }
  }

  // Serves kService in a PID namespace of its own, up and serving:
  // `ASSERT_NO_FATAL_FAILURE(serve(server))`.
  static void serve(NamespacedServer& server, const std::string& mode = "") {
    auto spawned =
        ChildProcess::spawn(test::in_own_pid_namespace("serve calc-ns " + std::string(kService) + " " + mode));
    ASSERT_TRUE(spawned) << spawned.error().message();
    ASSERT_EQ(spawned->read_line(30s), "serving") << spawned->describe();
    const auto leaf = test::leaf_of(spawned->pid());
    ASSERT_TRUE(leaf) << "no server process under unshare (pid " << spawned->pid() << ")";
    const auto there = test::pid_in_own_namespace(*leaf);
    ASSERT_TRUE(there) << "no NSpid in /proc/" << *leaf << "/status";
    ASSERT_NE(*there, *leaf) << "the server is not in a PID namespace of its own";
    server.here = *leaf;
    server.there = *there;
    server.unshare = std::move(*spawned);
  }

  Client<Ask, Answer> client() {
    auto made = Client<Ask, Answer>::create(*node_, kService);
    EXPECT_TRUE(made) << made.error().message();
    return std::move(*made);
  }

  // Calls `count` times from `first` on; each answer checked byte for byte,
  // the server's pid as it knows it: `ASSERT_NO_FATAL_FAILURE(answered(...))`.
  static void answered(Client<Ask, Answer>& calc, const NamespacedServer& server, std::uint64_t first,
                       std::uint64_t count) {
    for (std::uint64_t i = first; i < first + count; ++i) {
      const std::string note = "ns" + std::to_string(i * 7919);
      auto answer = calc.call(ask(i, 0.75 * static_cast<double>(i), note.c_str()), 10s);
      ASSERT_TRUE(answer) << "call " << i << ": " << answer.error().message();
      EXPECT_EQ(answer->index, i);
      EXPECT_EQ(answer->doubled, 1.5 * static_cast<double>(i));
      EXPECT_EQ(answer->server_pid, server.there);
      EXPECT_EQ(std::string(answer->note), note);
    }
  }
};

// The premise of every test here: the server's pid, as its announce names
// it, proves nothing in this namespace (it is another process here, or none).
void expect_pid_misleads_here(Client<Ask, Answer>& calc, const NamespacedServer& server) {
  const auto named = calc.server();
  ASSERT_TRUE(named) << "the client heard no announce";
  EXPECT_EQ(named->pid, server.there);
  EXPECT_EQ(liveness(*named), Liveness::dead)
      << "pid " << named->pid << " here would not mislead a judgement by pid, the case this test is about";
}

TEST_F(ServiceInAnotherPidNamespace, AStoppedServerIsWaitedForNotJudgedDeadByItsPid) {
  NamespacedServer server;
  ASSERT_NO_FATAL_FAILURE(serve(server));
  auto calc = client();
  ASSERT_NO_FATAL_FAILURE(answered(calc, server, 1, 50));
  ASSERT_NO_FATAL_FAILURE(expect_pid_misleads_here(calc, server));

  ASSERT_EQ(::kill(server.here, SIGSTOP), 0);
  ASSERT_TRUE(test::stopped_within(server.here, 10s));
  const auto sent = std::chrono::steady_clock::now();
  auto stalled = calc.call(ask(51, 1.0), 1s);  // looked at every 0.1 s: ten chances to misjudge it
  const auto waited = std::chrono::steady_clock::now() - sent;
  ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error().code(), CallErrc::timed_out) << stalled.error().message();
  EXPECT_GE(waited, 1s);
  EXPECT_TRUE(contains(stalled.error().message(), "pid " + std::to_string(server.there) + " in another PID namespace"))
      << stalled.error().message();

  ASSERT_EQ(::kill(server.here, SIGCONT), 0);
  ASSERT_NO_FATAL_FAILURE(answered(calc, server, 52, 20));  // call 51's late answer is dropped
}

TEST_F(ServiceInAnotherPidNamespace, ItsCleanStopEndsAPendingCallAsServerGone) {
  NamespacedServer server;
  ASSERT_NO_FATAL_FAILURE(serve(server, "stoppable"));
  auto calc = client();
  ASSERT_NO_FATAL_FAILURE(answered(calc, server, 1, 10));
  ASSERT_NO_FATAL_FAILURE(expect_pid_misleads_here(calc, server));

  // Its loop stops; the server lives on, and a call queues at it unanswered.
  ASSERT_TRUE(server.unshare->write("stop\n"));
  ASSERT_EQ(server.unshare->read_line(10s), "stopped serving") << server.unshare->describe();
  auto pending = calc.call_async(ask(11, 1.0), 60s);
  ASSERT_TRUE(pending) << pending.error().message();
  EXPECT_FALSE(pending->wait(300ms)) << "the call ended while its server still existed";

  server.unshare->close_stdin();  // the server is destroyed: its goodbye
  const auto stopped = std::chrono::steady_clock::now();
  auto ended = pending->wait(60s);
  ASSERT_TRUE(ended) << "the call was still pending 60 s after its server's goodbye";
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 10s);  // not its 60 s timeout
  ASSERT_FALSE(*ended);
  EXPECT_EQ(ended->error().code(), CallErrc::server_gone) << ended->error().message();
  EXPECT_TRUE(contains(ended->error().message(), "stopped serving")) << ended->error().message();
  EXPECT_TRUE(contains(ended->error().message(), "pid " + std::to_string(server.there) + " in another PID namespace"))
      << ended->error().message();
  const auto status = server.unshare->wait(10s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "the server did not exit cleanly: " << *status;
}

// Its death is proven by nothing this client can read: its pending call
// ends at its timeout, timed_out, saying the server may be dead; the
// daemon (which holds every process's pidfd) removes its ports, and later
// calls find no server.
TEST_F(ServiceInAnotherPidNamespace, KilledItsPendingCallTimesOutAndLaterCallsFindNoServer) {
  NamespacedServer server;
  ASSERT_NO_FATAL_FAILURE(serve(server));
  auto calc = client();
  ASSERT_NO_FATAL_FAILURE(answered(calc, server, 1, 10));
  ASSERT_NO_FATAL_FAILURE(expect_pid_misleads_here(calc, server));

  // A call the server holds in its handler, made on another thread.
  std::optional<CallResponse<Answer>> held;
  std::chrono::steady_clock::duration waited{};
  std::thread caller([&] {
    const auto sent = std::chrono::steady_clock::now();
    held = calc.call(ask(11, 1.0, "hold"), 3s);
    waited = std::chrono::steady_clock::now() - sent;
  });
  const auto holding = server.unshare->read_line(10s);
  const bool killed = ::kill(server.here, SIGKILL) == 0;
  const auto status = server.unshare->wait(10s);  // its shell ends with it: the death is proven here
  caller.join();
  ASSERT_EQ(holding, "holding 11") << server.unshare->describe();
  ASSERT_TRUE(killed);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGKILL) << *status;

  ASSERT_TRUE(held);
  ASSERT_FALSE(*held);
  EXPECT_EQ(held->error().code(), CallErrc::timed_out) << held->error().message();
  EXPECT_GE(waited, 3s);
  EXPECT_TRUE(contains(held->error().message(), "pid " + std::to_string(server.there) + " in another PID namespace"))
      << held->error().message();
  EXPECT_FALSE(contains(held->error().message(), "is alive")) << held->error().message();

  // Later calls: timed_out while the daemon has not yet removed its ports,
  // then no_server; never server_gone, never an answer.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::optional<CallError> last;
  for (std::uint64_t i = 12; std::chrono::steady_clock::now() < deadline; ++i) {
    auto later = calc.call(ask(i, 1.0), 500ms);
    ASSERT_FALSE(later) << "call " << i << " was answered by a dead server";
    last = later.error();
    if (last->code() == CallErrc::no_server) break;
    ASSERT_EQ(last->code(), CallErrc::timed_out) << last->message();
  }
  ASSERT_TRUE(last);
  EXPECT_EQ(last->code(), CallErrc::no_server) << "no call found the server gone within 30 s: " << last->message();
  EXPECT_TRUE(contains(last->message(), "pid " + std::to_string(server.there) + " in another PID namespace"))
      << last->message();
}

}  // namespace
}  // namespace statebus
