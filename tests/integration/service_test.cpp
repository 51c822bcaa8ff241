// Services across processes: typed calls answered byte for byte, and every
// way a call can fail, each said for what it is: no server, a refusal, a
// throwing handler, a second server, a server killed mid-call (and one
// merely stopped, which is alive and waited for), another response type,
// a timeout on virtual time.
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_cli.hpp"
#include "sleep_probe.hpp"
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
using test::Reading;
using testkit::ChildProcess;

constexpr const char* kService = "test/calc";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class ServiceTest : public testkit::NodeTest {
 protected:
  ServiceTest() : NodeTest("service-test") {}

  // A test server of kService in another process, up and serving:
  // `ASSERT_NO_FATAL_FAILURE(serve(child))`.
  static void serve(std::optional<ChildProcess>& child, const char* name = "calc-server", const char* mode = "") {
    auto spawned = ChildProcess::spawn({STATEBUS_TEST_CHILD, "serve", name, kService, mode});
    ASSERT_TRUE(spawned) << spawned.error().message();
    ASSERT_EQ(spawned->read_line(30s), "serving") << spawned->describe();
    child = std::move(*spawned);
  }
  // A call the server holds in its handler (note "hold"), pending: `ASSERT_NO_FATAL_FAILURE(hold_a_call(...))`.
  static void hold_a_call(Client<Ask, Answer>& calc, ChildProcess& server,
                          std::optional<PendingCall<Answer>>& pending) {
    auto sent = calc.call_async(ask(1, 1.0, "hold"), 10s);
    ASSERT_TRUE(sent) << sent.error().message();
    ASSERT_EQ(server.read_line(10s), "holding 1");
    pending = std::move(*sent);
  }
  Client<Ask, Answer> client() {
    auto made = Client<Ask, Answer>::create(*node_, kService);
    EXPECT_TRUE(made) << made.error().message();
    return std::move(*made);
  }
};

TEST_F(ServiceTest, CallsToAServerInAnotherProcessAreAnsweredByteForByte) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  for (std::uint64_t i = 1; i <= 200; ++i) {
    const std::string note = "n" + std::to_string(i * 7919);
    auto answer = calc.call(ask(i, 0.25 * static_cast<double>(i), note.c_str()), 10s);
    ASSERT_TRUE(answer) << "call " << i << ": " << answer.error().message();
    EXPECT_EQ(answer->index, i);
    EXPECT_EQ(answer->doubled, 0.5 * static_cast<double>(i));
    EXPECT_EQ(answer->server_pid, child->pid());
    EXPECT_EQ(std::string(answer->note), note);
  }
  ASSERT_TRUE(calc.server());
  EXPECT_EQ(calc.server()->pid, child->pid());
}

TEST_F(ServiceTest, ARefusalLeavesTheServerKnownToClientsThatComeLater) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  {
    auto first = client();
    auto refused = first.call(ask(1, 1.0, "refuse"), 10s);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), CallErrc::refused);
  }
  auto later = client();  // hears the server from the channel's history
  auto answer = later.call(ask(2, 2.0), 10s);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(answer->index, 2U);
  EXPECT_EQ(answer->server_pid, child->pid());
}

TEST_F(ServiceTest, EachClientGetsOnlyItsOwnRefusals) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto a = client();
  auto b = client();
  auto a_refused = a.call_async(ask(1, 1.0, "refuse"), 10s);
  auto b_answered = b.call_async(ask(1, 1.0), 10s);  // the same call id, in another client
  ASSERT_TRUE(a_refused && b_answered);
  auto a_result = a_refused->wait(10s);
  auto b_result = b_answered->wait(10s);
  ASSERT_TRUE(a_result && b_result);
  ASSERT_FALSE(*a_result);
  EXPECT_EQ(a_result->error().code(), CallErrc::refused);
  ASSERT_TRUE(*b_result) << b_result->error().message();
  EXPECT_EQ((*b_result)->index, 1U);
}

TEST_F(ServiceTest, ACallToAServerKilledAndRestartedEndsAsServerGoneAndTheNewOneAnswers) {
  std::optional<ChildProcess> old_server;
  ASSERT_NO_FATAL_FAILURE(serve(old_server));
  auto calc = client();
  std::optional<PendingCall<Answer>> pending;
  ASSERT_NO_FATAL_FAILURE(hold_a_call(calc, *old_server, pending));
  ASSERT_TRUE(old_server->signal(SIGKILL));
  ASSERT_TRUE(old_server->wait(10s));
  std::optional<ChildProcess> new_server;
  ASSERT_NO_FATAL_FAILURE(serve(new_server, "calc-server-2"));
  auto ended = pending->wait(60s);
  ASSERT_TRUE(ended) << "the call to the dead server was still pending after 60 s";
  ASSERT_FALSE(*ended);
  EXPECT_EQ(ended->error().code(), CallErrc::server_gone);
  EXPECT_TRUE(contains(ended->error().message(), "pid " + std::to_string(old_server->pid())))
      << ended->error().message();
  auto answer = calc.call(ask(2, 2.0), 10s);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(answer->server_pid, new_server->pid());
}

TEST_F(ServiceTest, PollingAPendingCallSeesItsServersDeath) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  std::optional<PendingCall<Answer>> pending;
  ASSERT_NO_FATAL_FAILURE(hold_a_call(calc, *child, pending));
  EXPECT_FALSE(pending->poll());  // held: still pending
  ASSERT_TRUE(child->signal(SIGKILL));
  ASSERT_TRUE(child->wait(10s));
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::optional<CallResponse<Answer>> ended;
  while (!(ended = pending->poll()) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(ended) << "poll() never saw the death";
  ASSERT_FALSE(*ended);
  EXPECT_EQ(ended->error().code(), CallErrc::server_gone);
}

TEST_F(ServiceTest, AHandlerThatWritesItsResponseInPlaceIsAnsweredByteForByte) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child, "calc-server", "in-place"));
  auto calc = client();
  for (std::uint64_t i = 1; i <= 100; ++i) {
    const std::string note = "m" + std::to_string(i * 104729);
    auto answer = calc.call(ask(i, 1.5 * static_cast<double>(i), note.c_str()), 10s);
    ASSERT_TRUE(answer) << "call " << i << ": " << answer.error().message();
    EXPECT_EQ(answer->index, i);
    EXPECT_EQ(answer->doubled, 3.0 * static_cast<double>(i));
    EXPECT_EQ(answer->server_pid, child->pid());
    EXPECT_EQ(std::string(answer->note), note);
  }
  auto refused = calc.call(ask(101, 1.0, "refuse"), 10s);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), CallErrc::refused);
  EXPECT_TRUE(contains(refused.error().message(), "asked to refuse call 101")) << refused.error().message();
  auto thrown = calc.call(ask(102, 1.0, "throw"), 10s);
  ASSERT_FALSE(thrown);
  EXPECT_TRUE(contains(thrown.error().message(), "asked to throw on call 102")) << thrown.error().message();
  auto after = calc.call(ask(103, 1.0), 10s);  // the loans of the refused and the thrown went back
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->index, 103U);
}

TEST_F(ServiceTest, ManyPendingCallsEachGetTheirOwnAnswer) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  std::vector<PendingCall<Answer>> calls;
  for (std::uint64_t i = 1; i <= 32; ++i) {
    auto sent = calc.call_async(ask(i, static_cast<double>(i), ("p" + std::to_string(i)).c_str()), 10s);
    ASSERT_TRUE(sent) << sent.error().message();
    calls.push_back(std::move(*sent));
  }
  EXPECT_EQ(calc.pending(), 32U);
  // Collected last to first: each answer waits, kept, for its own call.
  for (std::uint64_t i = 32; i >= 1; --i) {
    auto answer = calls[i - 1].wait(10s);
    ASSERT_TRUE(answer) << "call " << i << " still pending";
    ASSERT_TRUE(*answer) << answer->error().message();
    EXPECT_EQ((*answer)->index, i);
    EXPECT_EQ((*answer)->doubled, 2.0 * static_cast<double>(i));
    EXPECT_EQ((*answer)->server_pid, child->pid());
    EXPECT_EQ(std::string((*answer)->note), "p" + std::to_string(i));
  }
  EXPECT_EQ(calc.pending(), 0U);
}

TEST_F(ServiceTest, ACallWithNoServerFailsWithNoServerNamingTheService) {
  auto calc = client();
  auto answer = calc.call(ask(1, 1.0), 200ms);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code(), CallErrc::no_server);
  EXPECT_TRUE(contains(answer.error().message(), kService)) << answer.error().message();
  EXPECT_TRUE(contains(answer.error().message(), "statebus ls")) << answer.error().message();
}

TEST_F(ServiceTest, RefusalsAndThrowsComeBackWithTheirReasonAndTheServerKeepsServing) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  auto refused = calc.call(ask(5, 1.0, "refuse"), 10s);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), CallErrc::refused);
  EXPECT_TRUE(contains(refused.error().message(), "asked to refuse call 5")) << refused.error().message();

  auto thrown = calc.call(ask(6, 1.0, "throw"), 10s);
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error().code(), CallErrc::refused);
  EXPECT_TRUE(contains(thrown.error().message(), "handler failed: asked to throw on call 6"))
      << thrown.error().message();

  auto answered = calc.call(ask(7, 3.0), 10s);
  ASSERT_TRUE(answered) << answered.error().message();
  EXPECT_EQ(answered->index, 7U);
  EXPECT_EQ(answered->doubled, 6.0);
  // The server logged the throw (its log goes to its stdout).
  const auto logged = child->read_line(10s);
  ASSERT_TRUE(logged);
  EXPECT_TRUE(contains(*logged, "[warning] service 'test/calc': the handler threw")) << *logged;
  EXPECT_TRUE(contains(*logged, "asked to throw on call 6")) << *logged;
}

// Reaches: Server::create Errc::already_running
TEST_F(ServiceTest, ASecondServerIsRefusedNamingTheFirstsProcess) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto second = Server<Ask, Answer>::create(*node_, kService);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::already_running);
  EXPECT_TRUE(contains(second.error().message(), "pid " + std::to_string(child->pid()))) << second.error().message();
  // The first serves on, untouched.
  auto calc = client();
  auto answer = calc.call(ask(1, 2.0), 10s);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(answer->server_pid, child->pid());
}

TEST_F(ServiceTest, AServerKilledMidCallEndsTheCallWithServerGoneNotATimeout) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  std::optional<PendingCall<Answer>> pending;
  ASSERT_NO_FATAL_FAILURE(hold_a_call(calc, *child, pending));
  ASSERT_TRUE(child->signal(SIGKILL));
  const auto killed = std::chrono::steady_clock::now();
  auto ended = pending->wait(60s);  // a timeout would leave it pending: nothing
  ASSERT_TRUE(ended) << "the call was still pending after 60 s";
  // Seen within 0.1 s of the death; 10 s leaves room for a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 10s);
  ASSERT_FALSE(*ended);
  EXPECT_EQ(ended->error().code(), CallErrc::server_gone);
  EXPECT_TRUE(contains(ended->error().message(), "pid " + std::to_string(child->pid()))) << ended->error().message();
  EXPECT_TRUE(contains(ended->error().message(), "died")) << ended->error().message();
}

// A server killed leaves its claim's file (the kernel only drops the lock):
// the bus's clean-up removes it, so the run directory is left as found,
// and a live server's claim is left alone.
TEST_F(ServiceTest, TheClaimOfAKilledServerIsRemovedByTheCleanUpAndALiveOneIsNot) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto live = Server<Ask, Answer>::create(*node_, "test/live");
  ASSERT_TRUE(live) << live.error().message();
  const std::string dead_claim = "/tmp/statebus/service-test+calc.lock";
  const std::string live_claim = "/tmp/statebus/service-test+live.lock";
  ASSERT_TRUE(child->signal(SIGKILL));
  ASSERT_TRUE(child->wait(10s));
  ASSERT_EQ(::access(dead_claim.c_str(), F_OK), 0) << "the killed server's claim is not where it was";
  auto removed = remove_stale_bus();
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_NE(std::find(removed->begin(), removed->end(), dead_claim), removed->end());
  EXPECT_NE(::access(dead_claim.c_str(), F_OK), 0) << dead_claim << " is still there";
  EXPECT_EQ(::access(live_claim.c_str(), F_OK), 0) << "the live server's claim was removed";
  auto second = Server<Ask, Answer>::create(*node_, "test/live");  // still claimed
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::already_running);
}

TEST_F(ServiceTest, AStoppedServerIsAliveItsCallTimesOutAndItAnswersOnceContinued) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  auto warm = calc.call(ask(1, 1.0), 10s);  // its reply channel is open
  ASSERT_TRUE(warm) << warm.error().message();
  ASSERT_TRUE(child->signal(SIGSTOP));
  ASSERT_TRUE(test::stopped_within(child->pid(), 10s));

  auto stalled = calc.call(ask(2, 2.0), 300ms);
  ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error().code(), CallErrc::timed_out) << stalled.error().message();
  EXPECT_TRUE(contains(stalled.error().message(), "is alive")) << stalled.error().message();

  ASSERT_TRUE(child->signal(SIGCONT));
  auto answered = calc.call(ask(3, 4.5, "after"), 10s);  // call 2's late answer is dropped, not taken for 3's
  ASSERT_TRUE(answered) << answered.error().message();
  EXPECT_EQ(answered->index, 3U);
  EXPECT_EQ(answered->doubled, 9.0);
  EXPECT_EQ(std::string(answered->note), "after");
}

TEST_F(ServiceTest, AServerDestroyedWhileACallWaitsEndsItWithServerGone) {
  auto own = Server<Ask, Answer>::create(*node_, kService);
  ASSERT_TRUE(own) << own.error().message();
  auto calc = client();
  auto pending = calc.call_async(ask(1, 1.0), 10s);
  ASSERT_TRUE(pending) << pending.error().message();
  own = tl::make_unexpected(Error(Errc::not_found, "destroyed"));  // the server goes, the call unanswered
  auto ended = pending->wait(60s);
  ASSERT_TRUE(ended);
  ASSERT_FALSE(*ended);
  EXPECT_EQ(ended->error().code(), CallErrc::server_gone);
  EXPECT_TRUE(contains(ended->error().message(), "stopped serving")) << ended->error().message();
  // Its claim went with it: a new server may take the service.
  auto next = Server<Ask, Answer>::create(*node_, kService);
  EXPECT_TRUE(next) << next.error().message();
}

// Reaches: Client::create Errc::type_mismatch
// Reaches: Server::create Errc::type_mismatch
// Reaches: UntypedClient::create Errc::type_mismatch
TEST_F(ServiceTest, OtherTypesAreRefusedNamingBoth) {
  auto own = Server<Ask, Answer>::create(*node_, kService);
  ASSERT_TRUE(own) << own.error().message();
  auto untyped = UntypedClient::create(*node_, kService, schema_of<Reading>());
  ASSERT_FALSE(untyped);
  EXPECT_EQ(untyped.error().code(), Errc::type_mismatch);
  auto other_answer = Server<Ask, Reading>::create(*node_, "test/fourth");
  ASSERT_TRUE(other_answer) << other_answer.error().message();
  other_answer = tl::make_unexpected(Error(Errc::not_found, "destroyed"));
  auto answers_otherwise = Server<Ask, Answer>::create(*node_, "test/fourth");  // the old claim is free
  EXPECT_TRUE(answers_otherwise) << answers_otherwise.error().message();
  auto asks_there = Client<Ask, Answer>::create(*node_, "test/third");
  ASSERT_TRUE(asks_there) << asks_there.error().message();
  auto wrong_server = Server<Reading, Answer>::create(*node_, "test/third");
  ASSERT_FALSE(wrong_server);
  EXPECT_EQ(wrong_server.error().code(), Errc::type_mismatch);
  EXPECT_TRUE(contains(wrong_server.error().message(), "test/Ask")) << wrong_server.error().message();

  auto wrong_request = Client<Reading, Answer>::create(*node_, kService);
  ASSERT_FALSE(wrong_request);
  EXPECT_EQ(wrong_request.error().code(), Errc::type_mismatch);

  auto wrong_response = Client<Ask, Reading>::create(*node_, kService);
  ASSERT_TRUE(wrong_response) << wrong_response.error().message();
  auto answer = wrong_response->call(ask(1, 1.0), 10s);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code(), CallErrc::type_mismatch);
  EXPECT_TRUE(contains(answer.error().message(), "test/Answer")) << answer.error().message();
  EXPECT_TRUE(contains(answer.error().message(), "test/Reading")) << answer.error().message();
}

// Reaches: Client::create Errc::invalid_argument
// Reaches: Server::create Errc::invalid_argument
// Reaches: UntypedClient::create Errc::invalid_argument
TEST_F(ServiceTest, BadServiceNamesAreRefusedSayingWhy) {
  auto untyped = UntypedClient::create(*node_, "test//calc", schema_of<Ask>());
  ASSERT_FALSE(untyped);
  EXPECT_EQ(untyped.error().code(), Errc::invalid_argument);
  auto underscore = Client<Ask, Answer>::create(*node_, "test/_calc");
  ASSERT_FALSE(underscore);
  EXPECT_EQ(underscore.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(contains(underscore.error().message(), "'_'")) << underscore.error().message();
  auto deep = Server<Ask, Answer>::create(*node_, "a/b/c/d/e/f/g");
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(contains(deep.error().message(), "reply channels")) << deep.error().message();
}

// Reaches: Client::create Errc::payload_too_large
// Reaches: Server::create Errc::payload_too_large
TEST_F(ServiceTest, TypesOverTheLargestPayloadAreRefusedAtCreate) {
  auto big_answer = Server<Ask, test::Huge>::create(*node_, kService);
  ASSERT_FALSE(big_answer);
  EXPECT_EQ(big_answer.error().code(), Errc::payload_too_large);
  EXPECT_TRUE(contains(big_answer.error().message(), "test/Huge")) << big_answer.error().message();
  auto big_ask = Client<test::Huge, Answer>::create(*node_, kService);
  ASSERT_FALSE(big_ask);
  EXPECT_EQ(big_ask.error().code(), Errc::payload_too_large);
}

TEST_F(ServiceTest, AVirtualTimeoutEndsWhenTheClockIsSteppedPastIt) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  auto warm = calc.call(ask(1, 1.0), 10s);
  ASSERT_TRUE(warm) << warm.error().message();
  ASSERT_TRUE(VirtualClock::set_stepped());
  std::optional<CallResponse<Answer>> result;
  std::thread caller([&] { result = calc.call(ask(2, 1.0, "hold"), virtual_timeout(30s)); });
  const auto held = child->read_line(10s);
  const auto advanced = VirtualClock::advance(31s);
  caller.join();
  ASSERT_EQ(held, "holding 2");
  ASSERT_TRUE(advanced) << advanced.error().message();
  ASSERT_TRUE(result);
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error().code(), CallErrc::timed_out);
  EXPECT_TRUE(contains(result->error().message(), "30 s of virtual time")) << result->error().message();
  child->close_stdin();  // lets the held handler answer (dropped) and serve on
  auto after = calc.call(ask(3, 2.0), 10s);
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->index, 3U);
}

// A client calling from its event loop's timer, a server answering in its
// own loop in another process: in lockstep, time stands while the call is
// in flight and handled, so every answer carries its tick's virtual time to
// the nanosecond, and ten virtual minutes take what sixty calls take.
TEST_F(ServiceTest, InLockstepACallFromATimerIsAnsweredAtTheTicksVirtualTime) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  ASSERT_TRUE(calc.call(ask(0, 0.0), 10s));  // its reply channel is open
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  std::vector<std::string> wrong;
  std::uint64_t calls = 0;
  loop->every(10s, [&] {
    ++calls;
    auto answer = calc.call(ask(calls, 0.0, "time"), 10s);
    const auto tick = static_cast<double>(loop->tick_time().time_since_epoch().count());
    if (!answer) {
      wrong.push_back("call " + std::to_string(calls) + ": " + answer.error().message());
    } else if (answer->index != calls || answer->doubled != tick) {
      wrong.push_back("call " + std::to_string(calls) + " answered at " + std::to_string(answer->doubled) +
                      " ns for its tick at " + std::to_string(tick));
    }
  });
  loop->at(t0 + 600s, [&] { loop->stop(); });
  ASSERT_TRUE(VirtualClock::set_lockstep(t0 + 600s));
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(calls, 60U);
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " wrong, first: " << wrong.front();
  EXPECT_EQ(VirtualClock::now(), t0 + 600s);
}

// A reply channel (one per client) is not declared on its own: tools that
// decode it (the recorder, `statebus echo`) find its type under S/_reply,
// where the server declared it.
TEST_F(ServiceTest, AClientsReplyChannelIsDecodedByTheTypeItsServerDeclared) {
  auto own = Server<Ask, Answer>::create(*node_, kService);
  ASSERT_TRUE(own) << own.error().message();
  const std::string reply_channel = std::string(kService) + "/_reply/42";
  auto fetched = fetch_schema(*node_, reply_channel, 1000ms);
  ASSERT_TRUE(fetched) << fetched.error().message();
  EXPECT_EQ(fetched->fingerprint, schema_of<Answer>().fingerprint);
  auto found = find_schema(*node_, reply_channel, schema_of<Answer>().fingerprint);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "test/Answer");
  EXPECT_FALSE(find_schema(*node_, std::string(kService) + "/_reply/x42", schema_of<Answer>().fingerprint));
}

TEST_F(ServiceTest, StatebusCallBuildsTheRequestFromItsSchemaAndPrintsTheResponse) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto [text, status] = test::run_cli({"call", kService, "index=3", "value=1.5", "note=hi"});
  ASSERT_EQ(status, 0) << text;
  EXPECT_TRUE(contains(text, "index: 3")) << text;
  EXPECT_TRUE(contains(text, "doubled: 3")) << text;
  EXPECT_TRUE(contains(text, "server_pid: " + std::to_string(child->pid()))) << text;
  EXPECT_TRUE(contains(text, "note: \"hi\"")) << text;

  auto [json, json_status] = test::run_cli({"call", kService, R"({"index": 9, "value": -2.25})", "--json"});
  ASSERT_EQ(json_status, 0) << json;
  const auto answer = nlohmann::json::parse(json);
  EXPECT_EQ(answer["index"], 9);
  EXPECT_EQ(answer["doubled"], -4.5);
  EXPECT_EQ(answer["server_pid"], child->pid());

  auto [listed, ls_status] = test::run_cli({"ls"});
  ASSERT_EQ(ls_status, 0) << listed;
  EXPECT_TRUE(contains(listed, "test/Ask -> test/Answer")) << listed;
  EXPECT_TRUE(contains(listed, "pid " + std::to_string(child->pid()))) << listed;
}

TEST_F(ServiceTest, StatebusCallSaysWhatWasWrongAndSendsNothingOnBadInput) {
  std::string errors;
  auto [none, none_status] = test::run_cli({"call", kService, "index=1"}, &errors);
  EXPECT_EQ(none_status, 2) << none;
  EXPECT_TRUE(contains(errors, "no service 'test/calc'")) << errors;

  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child, "calc-server", "chatty"));  // says "answering N" for each call
  auto [field, field_status] = test::run_cli({"call", kService, "nosuch=1"}, &errors);
  EXPECT_EQ(field_status, 2) << field;
  EXPECT_TRUE(contains(errors, "nosuch")) << errors;
  EXPECT_TRUE(contains(errors, "nothing sent")) << errors;

  auto [json, json_status] = test::run_cli({"call", kService, R"({"value": "warm"})"}, &errors);
  EXPECT_EQ(json_status, 2) << json;
  EXPECT_TRUE(contains(errors, "value")) << errors;

  auto [refused, refused_status] = test::run_cli({"call", kService, "index=4", "note=refuse"}, &errors);
  EXPECT_EQ(refused_status, 1) << refused;
  EXPECT_TRUE(contains(errors, "asked to refuse call 4")) << errors;
  EXPECT_TRUE(contains(errors, "(refused)")) << errors;

  // None of it reached the server as a call but the refused one: the next is its second.
  auto calc = client();
  auto answer = calc.call(ask(5, 1.0), 10s);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(answer->index, 5U);
  EXPECT_EQ(child->read_line(10s), "answering 1");
  EXPECT_EQ(child->read_line(10s), "answering 2");
}

// --- Calls in an event loop -------------------------------------------------

// Sends `request` from `calc` through `loop`, keeping what the handler got
// (and how often it ran) in `got`; the handler stops the loop.
struct LoopAnswer {
  int runs = 0;
  std::optional<CallResponse<Answer>> answer;
  std::chrono::steady_clock::time_point at;
};
void call_in_loop(Client<Ask, Answer>& calc, EventLoop& loop, const Ask& request, LoopAnswer& got,
                  VirtualTimeout timeout) {
  auto sent = calc.call_async(request, timeout, loop, [&got, &loop](CallResponse<Answer> answer) {
    ++got.runs;
    got.at = std::chrono::steady_clock::now();
    got.answer.emplace(std::move(answer));
    loop.stop();
  });
  ASSERT_TRUE(sent) << sent.error().message();
}

// A client's calls go to one loop: a call through a second loop that
// lives is refused before anything is sent, saying to make a client per loop.
TEST_F(ServiceTest, ACallThroughASecondLoopIsRefusedUnsentNamingTheRule) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child, "calc-server", "chatty"));  // says "answering N" for each call
  auto calc = client();
  auto first_loop = EventLoop::create(*node_);
  auto second_loop = EventLoop::create(*node_);
  ASSERT_TRUE(first_loop && second_loop);
  int ran = 0;
  ASSERT_TRUE(calc.call_async(ask(1, 1.0), 10s, *first_loop, [&](CallResponse<Answer>) { first_loop->stop(); }));
  ASSERT_TRUE(first_loop->run());

  const auto refused = calc.call_async(ask(2, 1.0), 10s, *second_loop, [&](CallResponse<Answer>) { ++ran; });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), CallErrc::cancelled);
  EXPECT_TRUE(contains(refused.error().message(), "not sent")) << refused.error().message();
  EXPECT_TRUE(contains(refused.error().message(), "a client per loop")) << refused.error().message();
  EXPECT_EQ(ran, 0);
  // The server got the first call only: the next it answers is its second.
  ASSERT_EQ(child->read_line(10s), "answering 1");
  auto answer = calc.call(ask(3, 1.5), 10s);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(answer->index, 3U);
  EXPECT_EQ(child->read_line(10s), "answering 2");
}

TEST_F(ServiceTest, ALoopsCallRunsItsHandlerOnceWithTheAnswerAndTheClientStillCallsByHand) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  LoopAnswer first;
  LoopAnswer second;
  std::optional<CallResponse<Answer>> by_hand;
  std::optional<CallResponse<Answer>> waited;
  std::size_t pending_in_handler = 0;
  auto sent = calc.call_async(ask(7, 1.25, "seven"), virtual_timeout(30s), *loop, [&](CallResponse<Answer> answer) {
    ++first.runs;
    first.answer.emplace(std::move(answer));
    // On the loop's thread, the client (its subscribers the loop's now)
    // calls by hand and waits for a PendingCall, then calls through the loop again.
    by_hand.emplace(calc.call(ask(8, 4.0, "eight"), 10s));
    if (auto pending = calc.call_async(ask(9, 0.5))) {
      if (auto done = pending->wait(10s)) waited.emplace(std::move(*done));
    }
    ASSERT_NO_FATAL_FAILURE(call_in_loop(calc, *loop, ask(10, 5.0), second, virtual_timeout(30s)));
    pending_in_handler = calc.pending();
  });
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(calc.pending(), 1U);
  ASSERT_TRUE(loop->run());  // the second call's handler stops it

  ASSERT_EQ(first.runs, 1);
  ASSERT_TRUE(*first.answer) << first.answer->error().message();
  EXPECT_EQ((*first.answer)->index, 7U);
  EXPECT_EQ((*first.answer)->doubled, 2.5);
  EXPECT_EQ((*first.answer)->server_pid, child->pid());
  EXPECT_STREQ((*first.answer)->note, "seven");
  ASSERT_TRUE(by_hand && *by_hand) << (by_hand ? by_hand->error().message() : "not called");
  EXPECT_EQ((*by_hand)->index, 8U);
  EXPECT_EQ((*by_hand)->doubled, 8.0);
  EXPECT_STREQ((*by_hand)->note, "eight");
  ASSERT_TRUE(waited && *waited);
  EXPECT_EQ((*waited)->index, 9U);
  EXPECT_EQ((*waited)->doubled, 1.0);
  EXPECT_EQ(pending_in_handler, 1U);
  ASSERT_EQ(second.runs, 1);
  ASSERT_TRUE(*second.answer) << second.answer->error().message();
  EXPECT_EQ((*second.answer)->index, 10U);
  EXPECT_EQ((*second.answer)->doubled, 10.0);
  EXPECT_EQ(calc.pending(), 0U);

  // A client's loop calls go to one loop.
  auto other = EventLoop::create(*node_);
  ASSERT_TRUE(other) << other.error().message();
  auto refused = calc.call_async(ask(11, 1.0), 10s, *other, [](CallResponse<Answer>) {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), CallErrc::cancelled);
  EXPECT_TRUE(contains(refused.error().message(), "another event loop")) << refused.error().message();
  EXPECT_EQ(calc.pending(), 0U);
}

// The client's subscribers are the loop's: a reply wakes it at once, not at
// its next look at the calls (every 0.1 s): 40 calls one after the other,
// each sent by the last one's handler, take far less than 40 such looks.
TEST_F(ServiceTest, AReplyWakesTheLoopAtOnce) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  ASSERT_TRUE(calc.call(ask(0, 0.0), 10s));  // its reply channel is open
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  // Woken by each reply, 100 calls take milliseconds each at worst (an
  // ASan build on a loaded machine); seen only at the loop's 0.1 s looks
  // they took ~42 ms each (1.7 s for 40): 3 s tells the two apart.
  constexpr std::uint64_t kCalls = 100;
  std::uint64_t answered = 0;
  std::vector<std::string> wrong;
  std::function<void(std::uint64_t)> send = [&](std::uint64_t index) {
    auto sent = calc.call_async(ask(index, 1.0), 10s, *loop, [&, index](CallResponse<Answer> answer) {
      if (!answer || answer->index != index || answer->doubled != 2.0) {
        wrong.push_back("call " + std::to_string(index) +
                        (answer ? " answered wrong" : ": " + answer.error().message()));
      }
      if (++answered == kCalls) {
        loop->stop();
      } else {
        send(index + 1);
      }
    });
    if (!sent) wrong.push_back("call " + std::to_string(index) + " not sent: " + sent.error().message());
  };
  const auto start = std::chrono::steady_clock::now();
  send(1);
  ASSERT_TRUE(loop->run());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(answered, kCalls);
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " wrong, first: " << wrong.front();
  EXPECT_LT(took, 3s) << "100 calls took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
}

TEST_F(ServiceTest, ALoopsCallToAServerKilledMidCallEndsAsServerGone) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  LoopAnswer got;
  ASSERT_NO_FATAL_FAILURE(call_in_loop(calc, *loop, ask(1, 1.0, "hold"), got, virtual_timeout(600s)));
  ASSERT_EQ(child->read_line(10s), "holding 1");
  std::chrono::steady_clock::time_point reaped;
  // Killed from inside the running loop, which then sleeps with the call pending.
  loop->at(VirtualClock::now(), [&] {
    ASSERT_TRUE(child->signal(SIGKILL));
    ASSERT_TRUE(child->wait(10s));
    reaped = std::chrono::steady_clock::now();
  });
  ASSERT_TRUE(loop->run());
  ASSERT_EQ(got.runs, 1);
  ASSERT_FALSE(*got.answer);
  EXPECT_EQ(got.answer->error().code(), CallErrc::server_gone) << got.answer->error().message();
  EXPECT_TRUE(contains(got.answer->error().message(), "pid " + std::to_string(child->pid())));
  // Seen within 0.1 s of the death (a look every 0.1 s); 2 s leaves room for a loaded machine.
  EXPECT_LT(got.at - reaped, 2s);
}

TEST_F(ServiceTest, ALoopsCallTimesOutWhenTheClockIsSteppedPastItsVirtualTimeout) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  ASSERT_TRUE(calc.call(ask(1, 1.0), 10s));
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  LoopAnswer got;
  ASSERT_NO_FATAL_FAILURE(call_in_loop(calc, *loop, ask(2, 1.0, "hold"), got, virtual_timeout(30s)));
  ASSERT_EQ(child->read_line(10s), "holding 2");
  // Stepped once the loop sleeps with the call pending: the step wakes it.
  std::atomic<int> passes{0};
  loop->watch([&] {
    ++passes;
    return EventLoop::WatchNext{};
  });
  std::thread stepper([&] {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (passes.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    ASSERT_TRUE(VirtualClock::advance(29s));
    ASSERT_TRUE(VirtualClock::advance(1s));
  });
  const auto ran = loop->run();
  stepper.join();
  ASSERT_TRUE(ran);
  ASSERT_EQ(got.runs, 1);
  ASSERT_FALSE(*got.answer);
  EXPECT_EQ(got.answer->error().code(), CallErrc::timed_out) << got.answer->error().message();
  EXPECT_TRUE(contains(got.answer->error().message(), "30 s of virtual time")) << got.answer->error().message();
  EXPECT_EQ(VirtualClock::now(), t0 + 30s);
  child->close_stdin();
}

TEST_F(ServiceTest, ALoopsCallTimesOutOnRealTime) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  std::optional<CallResponse<Answer>> got;
  const auto sent_at = std::chrono::steady_clock::now();
  auto sent = calc.call_async(ask(1, 1.0, "hold"), 300ms, *loop, [&](CallResponse<Answer> answer) {
    got.emplace(std::move(answer));
    loop->stop();
  });
  ASSERT_TRUE(sent) << sent.error().message();
  ASSERT_TRUE(loop->run());
  const auto took = std::chrono::steady_clock::now() - sent_at;
  ASSERT_TRUE(got);
  ASSERT_FALSE(*got);
  EXPECT_EQ(got->error().code(), CallErrc::timed_out) << got->error().message();
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  child->close_stdin();
}

TEST_F(ServiceTest, ALoopsCallEndsAsCancelledOnceItsClientIsDestroyed) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  std::optional<Client<Ask, Answer>> calc(client());
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  LoopAnswer got;
  ASSERT_NO_FATAL_FAILURE(call_in_loop(*calc, *loop, ask(1, 1.0, "hold"), got, virtual_timeout(600s)));
  ASSERT_EQ(child->read_line(10s), "holding 1");
  calc.reset();
  EXPECT_EQ(got.runs, 0);  // not inside the destructor: at the loop's next pass
  ASSERT_TRUE(loop->run());
  ASSERT_EQ(got.runs, 1);
  ASSERT_FALSE(*got.answer);
  EXPECT_EQ(got.answer->error().code(), CallErrc::cancelled) << got.answer->error().message();
  child->close_stdin();
}

// A client loop calling a server loop in another process, in lockstep:
// each call holds time from its send to its handler (its virtual timeout,
// 1 s, is shorter than the 10 s between ticks: a jump while it is in
// flight would end it as timed_out), so every answer carries its tick's
// virtual time and arrives at it.
TEST_F(ServiceTest, InLockstepALoopsCallHoldsTimeUntilItsHandlerRan) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  ASSERT_TRUE(calc.call(ask(0, 0.0), 10s));  // its reply channel is open
  ASSERT_TRUE(VirtualClock::set_stepped());
  const auto t0 = VirtualClock::now();
  auto loop = EventLoop::create(*node_);
  ASSERT_TRUE(loop) << loop.error().message();
  std::vector<std::string> wrong;
  std::uint64_t sent = 0;
  std::uint64_t handled = 0;
  loop->every(10s, [&] {
    if (sent == 60) return;
    const std::uint64_t index = ++sent;
    const auto tick = loop->tick_time();
    auto call = calc.call_async(
        ask(index, 0.0, "time"), virtual_timeout(1s), *loop, [&, index, tick](CallResponse<Answer> answer) {
          ++handled;
          const auto t = static_cast<double>(tick.time_since_epoch().count());
          if (!answer) {
            wrong.push_back("call " + std::to_string(index) + ": " + answer.error().message());
          } else if (answer->index != index || answer->doubled != t) {
            wrong.push_back("call " + std::to_string(index) + " answered at " + std::to_string(answer->doubled) +
                            " ns for its tick at " + std::to_string(t));
          } else if (VirtualClock::now() != tick) {
            wrong.push_back("call " + std::to_string(index) + " handled after time moved");
          }
          if (handled == 60) loop->stop();
        });
    if (!call) wrong.push_back("call " + std::to_string(index) + " not sent: " + call.error().message());
  });
  ASSERT_TRUE(VirtualClock::set_lockstep(t0 + 600s));
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(handled, 60U);
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " wrong, first: " << wrong.front();
  EXPECT_EQ(VirtualClock::now(), t0 + 600s);
}

// --- A dropped call is a cancel the server sees ------------------------------

Result<Server<Ask, Answer>> own_server(const Node& node) { return Server<Ask, Answer>::create(node, kService); }

Reply<Answer> echo(const Ask& request) {
  Answer answer;
  answer.index = request.index;
  answer.doubled = 2 * request.value;
  answer.server_pid = ::getpid();
  std::memcpy(answer.note, request.note, sizeof answer.note);
  return answer;
}

TEST_F(ServiceTest, ACallDroppedBeforeItsServerTookItIsNeverHandledAndNoOtherCallIsCancelled) {
  auto sut = own_server(*node_);
  ASSERT_TRUE(sut) << sut.error().message();
  auto a = client();
  auto b = client();
  auto sent = a.call_async(ask(1, 1.0, "a1"), 10s);
  auto kept = b.call_async(ask(2, 2.0, "b1"), 10s);
  ASSERT_TRUE(sent && kept);
  std::optional<PendingCall<Answer>> dropped(std::move(*sent));
  ASSERT_EQ(dropped->id(), kept->id());  // the same id from two clients: only a's is cancelled
  dropped.reset();
  auto later = a.call_async(ask(3, 3.0, "a2"), 10s);
  ASSERT_TRUE(later);
  EXPECT_EQ(a.pending(), 1U);

  std::vector<std::uint64_t> ran;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (ran.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_FALSE(sut->wait(100ms).failed());
    sut->serve_queued([&](const Ask& request) {
      ran.push_back(request.index);
      return echo(request);
    });
  }
  EXPECT_EQ(ran, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(sut->cancelled(), 1U);
  EXPECT_EQ(sut->answered(), 2U);
  auto b_answer = kept->wait(10s);
  ASSERT_TRUE(b_answer && *b_answer);
  EXPECT_EQ((*b_answer)->index, 2U);
  EXPECT_EQ((*b_answer)->doubled, 4.0);
  EXPECT_STREQ((*b_answer)->note, "b1");
  auto a_answer = later->wait(10s);
  ASSERT_TRUE(a_answer && *a_answer);
  EXPECT_EQ((*a_answer)->index, 3U);
  EXPECT_EQ((*a_answer)->doubled, 6.0);
  EXPECT_STREQ((*a_answer)->note, "a2");
}

// Asked outside a handler, cancel_requested() says no and takes nothing
// off the queue: the calls queued stay there for the server to answer.
TEST_F(ServiceTest, CancelRequestedOutsideAHandlerLeavesTheQueuedCallsQueued) {
  auto sut = own_server(*node_);
  ASSERT_TRUE(sut) << sut.error().message();
  auto calc = client();
  auto first = calc.call_async(ask(1, 1.0), 10s);
  auto second = calc.call_async(ask(2, 2.0), 10s);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(sut->wait(10s));
  EXPECT_FALSE(sut->cancel_requested());

  std::vector<std::uint64_t> ran;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (ran.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    sut->serve_queued([&](const Ask& request) {
      ran.push_back(request.index);
      return echo(request);
    });
    if (ran.size() < 2) ASSERT_FALSE(sut->wait(100ms).failed());
  }
  EXPECT_EQ(ran, (std::vector<std::uint64_t>{1, 2}));
  auto answer = second->wait(10s);
  ASSERT_TRUE(answer && *answer);
  EXPECT_EQ((*answer)->index, 2U);
  EXPECT_EQ((*answer)->doubled, 4.0);
}

// A loop destroyed while its call is pending never runs that call's
// handler, not even once the client's next call goes through another loop.
TEST_F(ServiceTest, ALoopDestroyedWithItsCallPendingNeverRunsItsHandlerNotEvenInTheNextLoop) {
  std::optional<ChildProcess> child;
  ASSERT_NO_FATAL_FAILURE(serve(child));
  auto calc = client();
  int first_ran = 0;
  {
    auto first_loop = EventLoop::create(*node_);
    ASSERT_TRUE(first_loop) << first_loop.error().message();
    ASSERT_TRUE(calc.call_async(ask(1, 1.0, "hold"), 10s, *first_loop, [&](CallResponse<Answer>) { ++first_ran; }));
    ASSERT_EQ(child->read_line(10s), "holding 1");
  }
  auto second_loop = EventLoop::create(*node_);
  ASSERT_TRUE(second_loop) << second_loop.error().message();
  std::optional<CallResponse<Answer>> second;
  ASSERT_TRUE(calc.call_async(ask(2, 3.0, "second"), 10s, *second_loop, [&](CallResponse<Answer> answer) {
    second.emplace(std::move(answer));
    second_loop->stop();
  }));
  child->close_stdin();  // the held call is answered (a reply nobody waits for), then the second
  ASSERT_TRUE(second_loop->run());
  ASSERT_TRUE(second && *second) << (second ? second->error().message() : "no answer");
  EXPECT_EQ((*second)->index, 2U);
  EXPECT_EQ((*second)->doubled, 6.0);
  EXPECT_STREQ((*second)->note, "second");
  EXPECT_EQ(first_ran, 0) << "the destroyed loop's call handler ran";
  EXPECT_EQ(calc.pending(), 0U);
}

TEST_F(ServiceTest, AHandlerSeesItsCallCancelledMeanwhileAndACancelAfterTheAnswerIsIgnored) {
  auto sut = own_server(*node_);
  ASSERT_TRUE(sut) << sut.error().message();
  auto calc = client();
  auto serve_one = [&](auto handler) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::size_t served = 0;
    while (served == 0 && std::chrono::steady_clock::now() < deadline) {
      if (sut->wait(100ms).failed()) return served;
      served = sut->serve_queued(handler);
    }
    return served;
  };

  // Dropped while its handler runs: the handler can tell.
  std::optional<PendingCall<Answer>> first(*calc.call_async(ask(1, 1.0), 10s));
  bool before = true;
  bool after = false;
  EXPECT_EQ(serve_one([&](const Ask& request) {
              before = sut->cancel_requested();
              first.reset();
              after = sut->cancel_requested();
              return echo(request);
            }),
            1U);
  EXPECT_FALSE(before);
  EXPECT_TRUE(after);
  EXPECT_FALSE(sut->cancel_requested());  // outside a handler

  // Dropped once answered but before the client took the answer: the
  // cancel reaches the server after its answer and cancels nothing.
  std::optional<PendingCall<Answer>> second(*calc.call_async(ask(2, 2.0), 10s));
  EXPECT_EQ(serve_one(echo), 1U);
  second.reset();
  auto third = calc.call_async(ask(3, 3.0, "third"), 10s);
  ASSERT_TRUE(third);
  std::vector<std::uint64_t> ran;
  EXPECT_EQ(serve_one([&](const Ask& request) {
              ran.push_back(request.index);
              return echo(request);
            }),
            1U);
  EXPECT_EQ(ran, (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(sut->cancelled(), 0U);
  EXPECT_EQ(sut->answered(), 3U);
  auto answer = third->wait(10s);
  ASSERT_TRUE(answer && *answer);
  EXPECT_EQ((*answer)->index, 3U);
  EXPECT_EQ((*answer)->doubled, 6.0);
  EXPECT_STREQ((*answer)->note, "third");
}

}  // namespace
}  // namespace statebus
