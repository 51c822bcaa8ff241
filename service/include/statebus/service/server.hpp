#pragma once
/// Server<Req, Res>: answers the calls of a service, in an EventLoop or by hand.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "statebus/base/describe.hpp"
#include "statebus/base/process.hpp"
#include "statebus/bus/detail/raw_port.hpp"
#include "statebus/bus/event_loop.hpp"
#include "statebus/bus/publisher.hpp"
#include "statebus/bus/subscriber.hpp"
#include "statebus/service/detail/service_wire.hpp"
#include "statebus/service/reply.hpp"

namespace statebus {

template <class Req, class Res>
class Server;

/// Answers the calls of `server` on `loop`'s thread, one at a time, in
/// arrival order. The handler either returns the response,
/// `handler(const Req&) -> Reply<Res>` (a Res, or refuse("why")), or writes
/// it in place in shared memory, `handler(const Req&, Res& response) ->
/// Reply<void>` (`response` starts as Res{}; `return {};` sends it,
/// refuse("why") does not): no copy, for large responses. A handler that
/// throws refuses the call with the exception's text (and a warning in
/// this process's log); the server keeps serving. To see cancels, the
/// server takes up to 64 queued calls ahead of the one it answers: those
/// are answered before run() returns after a stop(). Fails as
/// EventLoop::on does (64 subscribers, or the server in another loop).
template <class Req, class Res, class Handler>
Result<void> serve(EventLoop& loop, Server<Req, Res>& server, Handler handler);

/// The one server of a service: receives the calls of every client on
/// `S/_call`, answers each on that client's `S/_reply/<client>`, and sends
/// refusals (and its own arrival) on `S/_refused` (service/README.md).
///
/// Example:
///   auto boost = Server<Boost, BoostAnswer>::create(*node, "home/heating/boost");
///   serve(*loop, *boost, [&](const Boost& b) -> Reply<BoostAnswer> {
///     if (b.minutes > 120) return refuse("at most 120 minutes");
///     return BoostAnswer{true};
///   });
///
/// Thread safety: one thread at a time (the loop's, once served by one);
/// never destroyed inside its own handler. The Node must outlive it. A server's first answer to a client
/// opens that client's reply channel and waits (up to 1 s) for the
/// daemon to connect it; later answers to the client do not wait.
/// Destroying the server (or its process dying) tells the clients: their
/// pending calls end as server_gone.
template <class Req, class Res>
class Server {
  static_assert(std::is_trivially_copyable_v<Req> && std::is_trivially_copyable_v<Res>,
                "service requests and responses must be trivially copyable");
  static_assert(is_described_v<Req> && is_described_v<Res>,
                "describe the request and response types with STATEBUS_MESSAGE(Type, \"name\", fields...)");

 public:
  /// Serves `service` (a channel name; no part may start with '_'). Fails
  /// with Errc::already_running naming the process that serves it already,
  /// Errc::type_mismatch when the service's calls or replies carry other
  /// types (the message names both), Errc::payload_too_large when Res does
  /// not fit the daemon's largest pool, Errc::invalid_argument for a bad
  /// name; without a bus, as Subscriber::create does.
  static Result<Server> create(const Node& node, std::string_view service) {
    auto channels = detail::service_channels(service);
    if (!channels) return tl::make_unexpected(std::move(channels.error()));
    if (sizeof(Res) > node.max_payload()) {
      return fail(Errc::payload_too_large, "the response of service '" + channels->service + "' (" +
                                               std::string(schema_of<Res>().name) + ", " + std::to_string(sizeof(Res)) +
                                               " bytes) is over the bus's largest payload of " +
                                               std::to_string(node.max_payload()) + " bytes");
    }
    auto claim = detail::ServiceClaim::take(channels->service, schema_of<Res>());
    if (!claim) return tl::make_unexpected(std::move(claim.error()));
    auto calls = Subscriber<Req>::create(node, channels->call, SubscriberOptions{256, 0, false});
    if (!calls) return tl::make_unexpected(std::move(calls.error()));
    if (Waited connected = calls->wait_connected(std::chrono::seconds(5)); !connected) {
      if (connected.failed()) return tl::make_unexpected(std::move(connected).error());
      return fail(Errc::timeout, "the daemon did not connect service '" + channels->service + "' within 5 s");
    }
    auto notices = Publisher<detail::CallRefusal>::create(node, channels->refused, PublisherOptions{1, false});
    if (!notices) return tl::make_unexpected(std::move(notices.error()));
    auto state = std::make_unique<State>(
        State{&node, std::move(*channels), std::move(*claim), std::move(*notices), std::move(*calls)});
    if (!announce(*state)) {
      return fail(Errc::out_of_resources, "service '" + state->channels.service + "': no memory to announce it");
    }
    return Server(std::move(state));
  }

  /// Answers every call queued now with `handler` (as serve() does), for a
  /// server without a loop; returns how many it answered or refused.
  template <class Handler>
  std::size_t serve_queued(Handler&& handler) {
    const std::uint64_t before = state_->handled;
    while (auto call = state_->calls.take()) handle(*state_, *call, handler);
    return static_cast<std::size_t>(state_->handled - before);
  }
  /// Waits (real time) until a call is queued; as Subscriber::wait.
  Waited wait(std::chrono::nanoseconds timeout, Spin spin = {}) noexcept { return state_->calls.wait(timeout, spin); }

  /// In a handler: whether the client cancelled the call being handled
  /// since it was taken (its PendingCall dropped, or the client destroyed),
  /// as far as the calls queued now tell (it takes them, up to 64 ahead: a
  /// poll of the queue, no wait). A handler with long work may ask between
  /// steps and refuse("cancelled"); its answer would be dropped anyway.
  /// False outside a handler. On the server's thread.
  [[nodiscard]] bool cancel_requested() {
    if (!state_->current) return false;  // outside a handler: takes nothing off the queue
    look_ahead(*state_);
    return state_->current && state_->current->cancelled;
  }

  [[nodiscard]] const std::string& service() const noexcept { return state_->channels.service; }
  /// Calls answered with a response so far.
  [[nodiscard]] std::uint64_t answered() const noexcept { return state_->answered; }
  /// Calls refused so far (by the handler, or because it threw).
  [[nodiscard]] std::uint64_t refused() const noexcept { return state_->refused; }
  /// Calls whose handler never ran: their client cancelled them before
  /// they were taken (a cancel queued behind its call, up to 64 calls
  /// ahead of the one being handled).
  [[nodiscard]] std::uint64_t cancelled() const noexcept { return state_->cancelled; }

 private:
  template <class Q, class R, class H>
  friend Result<void> serve(EventLoop&, Server<Q, R>&, H);

  // A call: its client's request port and its id.
  struct CallKey {
    std::uint64_t client = 0;
    std::uint32_t id = 0;
    bool cancelled = false;  // a cancel of it came
  };
  // A call taken ahead of the one being handled (to see the cancels behind it).
  struct Ahead {
    Sample<Req> call;
    CallKey key;
  };
  static constexpr std::size_t kLookAhead = 64;

  // What stays put while the Server moves (the loop's handler holds it).
  struct State {
    const Node* node;
    detail::ServiceChannels channels;
    detail::ServiceClaim claim;
    Publisher<detail::CallRefusal> notices;
    Subscriber<Req> calls;
    // Reply channels by client port.
    std::unordered_map<std::uint64_t, std::unique_ptr<detail::RawPublisher>> replies{};
    std::deque<Ahead> ahead{};
    std::optional<CallKey> current{};  // the call whose handler runs
    std::uint64_t answered = 0;
    std::uint64_t refused = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t handled = 0;  // handlers run
  };

  static CallKey key_of(const SampleHeader& call) noexcept {
    return {call.publisher_port, static_cast<std::uint32_t>(call.sequence), false};
  }

  // The cancel `cancel` (a request whose reply_to names the call: a call's
  // own is 0) marks its call if that one is being handled or was taken
  // ahead; one already answered, or of another client, is left alone.
  static void note_cancel(State& state, const SampleHeader& cancel) noexcept {
    auto same = [&](const CallKey& key) { return key.client == cancel.publisher_port && key.id == cancel.reply_to; };
    if (state.current && same(*state.current)) {
      state.current->cancelled = true;
      return;
    }
    for (Ahead& ahead : state.ahead) {
      if (same(ahead.key)) {
        ahead.key.cancelled = true;
        return;
      }
    }
  }

  // Takes what is queued now (up to kLookAhead calls ahead), so that a
  // cancel behind a call is seen before its handler runs. An empty queue
  // costs one look at it (has_data: the fast path of an answered call).
  static void look_ahead(State& state) {
    while (state.ahead.size() < kLookAhead && state.calls.has_data()) {
      auto taken = state.calls.take();
      if (!taken) return;
      const SampleHeader& header = taken->header();
      if (header.reply_to != 0) {
        note_cancel(state, header);
        continue;
      }
      const CallKey key = key_of(header);
      state.ahead.push_back(Ahead{std::move(*taken), key});
    }
  }

  // Handles a sample just taken from `S/_call` (a call, or a cancel), then
  // every call taken ahead meanwhile.
  template <class Handler>
  static void handle(State& state, const Sample<Req>& taken, Handler& handler) {
    if (taken.header().reply_to != 0) {
      note_cancel(state, taken.header());
    } else {
      run(state, taken, key_of(taken.header()), handler);
    }
    while (!state.ahead.empty()) {
      Ahead next = std::move(state.ahead.front());
      state.ahead.pop_front();
      run(state, next.call, next.key, handler);
    }
  }

  template <class Handler>
  static void run(State& state, const Sample<Req>& call, CallKey key, Handler& handler) {
    state.current = key;
    look_ahead(state);
    if (state.current->cancelled) {
      ++state.cancelled;
    } else {
      ++state.handled;
      answer(state, call, handler);
    }
    state.current.reset();
  }

  // Tells clients, those there and those to come (the channel's history),
  // that this server is up, its response type and its PID namespace.
  static bool announce(State& state) {
    detail::CallRefusal announce;
    announce.response = schema_of<Res>().fingerprint;
    announce.pid_namespace = pid_namespace().value_or(0);
    announce.set_reason(schema_of<Res>().name);
    return state.notices.publish(announce).has_value();
  }

  explicit Server(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}

  template <class Handler>
  static void answer(State& state, const Sample<Req>& call, Handler& handler) {
    const SampleHeader& header = call.header();
    try {
      if constexpr (std::is_invocable_v<Handler&, const Req&, Res&>) {
        answer_in_place(state, call, handler);
      } else {
        Reply<Res> reply = handler(call.value());
        if (reply.refused()) {
          notify(state, header, detail::ServiceNotice::refused, reply.reason());
          return;
        }
        send(state, header, reply.response());
      }
    } catch (const std::exception& e) {
      spdlog::warn("service '{}': the handler threw on a call of pid {}: {}", state.channels.service,
                   header.publisher_pid, e.what());
      notify(state, header, detail::ServiceNotice::failed, std::string("the server's handler failed: ") + e.what());
    } catch (...) {
      spdlog::warn("service '{}': the handler threw on a call of pid {}", state.channels.service, header.publisher_pid);
      notify(state, header, detail::ServiceNotice::failed, "the server's handler failed with an unknown exception");
    }
  }

  // The handler writes into the reply's own chunk; a client that cannot be
  // reached (or no memory) gets its handler run all the same, into a Res
  // of its own, and no answer.
  template <class Handler>
  static void answer_in_place(State& state, const Sample<Req>& call, Handler& handler) {
    const SampleHeader& header = call.header();
    detail::RawPublisher* reply = reply_channel(state, header);
    void* memory = reply != nullptr ? reply->loan(sizeof(Res), alignof(Res)) : nullptr;
    if (memory == nullptr) {
      if (reply != nullptr) {
        spdlog::warn("service '{}': no memory for the reply to pid {}", state.channels.service, header.publisher_pid);
      }
      auto unsent = std::make_unique<Res>();
      const Reply<void> verdict = handler(call.value(), *unsent);
      if (verdict.refused()) notify(state, header, detail::ServiceNotice::refused, verdict.reason());
      return;
    }
    detail::LoanHandle loan(memory, reply->core());  // given back unless published
    const Reply<void> verdict = handler(call.value(), *new (memory) Res());
    if (verdict.refused()) {
      notify(state, header, detail::ServiceNotice::refused, verdict.reason());
      return;
    }
    detail::loaned_header(memory).reply_to = static_cast<std::uint32_t>(header.sequence);
    (void)loan.publish();  // its own port's loan
    ++state.answered;
  }

  static void send(State& state, const SampleHeader& call, const Res& response) {
    detail::RawPublisher* reply = reply_channel(state, call);
    if (reply == nullptr) return;
    void* memory = reply->loan(sizeof(Res), alignof(Res));
    if (memory == nullptr) {
      spdlog::warn("service '{}': no memory for the reply to pid {}", state.channels.service, call.publisher_pid);
      return;
    }
    new (memory) Res(response);
    detail::loaned_header(memory).reply_to = static_cast<std::uint32_t>(call.sequence);
    reply->publish(memory);
    ++state.answered;
  }

  static void notify(State& state, const SampleHeader& call, detail::ServiceNotice notice, std::string_view reason) {
    detail::CallRefusal refusal;
    refusal.client = call.publisher_port;
    refusal.call = static_cast<std::uint32_t>(call.sequence);
    refusal.notice = static_cast<std::uint32_t>(notice);
    refusal.set_reason(reason);
    if (auto sent = state.notices.publish(refusal); !sent) {
      spdlog::warn("service '{}': no memory for a refusal to pid {}", state.channels.service, call.publisher_pid);
      return;
    }
    ++state.refused;
    if (!announce(state)) {  // the channel's history is the announce again, for clients to come
      spdlog::warn("service '{}': no memory to announce it again; clients created from now on see no server until it "
                   "answers another refusal",
                   state.channels.service);
    }
  }

  // The client's reply channel, opened at its first call and waited for
  // (up to 1 s) until the daemon connects it; later calls never wait: a
  // channel still unconnected then (a slow daemon, or the client left)
  // gets no answer, with a warning, and is looked at again at the next.
  static detail::RawPublisher* reply_channel(State& state, const SampleHeader& call) {
    if (auto known = state.replies.find(call.publisher_port); known != state.replies.end()) {
      if (known->second->has_subscribers()) return known->second.get();
      spdlog::warn("service '{}': the reply channel of pid {} is not connected (the client left?); call {} is not "
                   "answered",
                   state.channels.service, call.publisher_pid, call.sequence);
      return nullptr;
    }
    forget_gone_clients(state);
    auto opened = detail::RawPublisher::create(*state.node, state.channels.reply(call.publisher_port), sizeof(Res),
                                               alignof(Res), &schema_of<Res>(), reply_options(), /*declare=*/false);
    if (!opened) {
      spdlog::warn("service '{}': cannot answer pid {}: {}", state.channels.service, call.publisher_pid,
                   opened.error().message());
      return nullptr;
    }
    const Waited connected = opened->wait_for_subscribers(std::chrono::seconds(1));
    auto& reply = state.replies[call.publisher_port];
    reply = std::make_unique<detail::RawPublisher>(std::move(*opened));
    if (connected) return reply.get();
    spdlog::warn("service '{}': the reply channel of pid {} did not connect within 1 s{}; call {} is not answered",
                 state.channels.service, call.publisher_pid,
                 connected.failed() ? " (" + connected.error().message() + ")" : std::string(), call.sequence);
    return nullptr;
  }

  // A reply channel keeps its last reply (history 1) for subscribers that
  // ask for history, so a recorder that finds the channel only after the
  // server answered at once still records the client's first reply. The
  // client asks for none, so no reply reaches it twice. A kept reply holds
  // a chunk for as long as the channel lives: only small responses (the
  // pools of 1 KiB and less, thousands of chunks) are kept
  // (service/README.md, "Visible").
  static PublisherOptions reply_options() noexcept {
    PublisherOptions options;
    options.history = sizeof(Res) <= detail::kKeptReplyLimit ? 1 : 0;
    return options;
  }

  // Reply channels nobody listens to any more (the client was destroyed, or
  // the daemon removed its dead process's ports): closed before opening
  // another, once there are many (a few are kept for clients still connecting).
  static void forget_gone_clients(State& state) {
    if (state.replies.size() < 64) return;
    for (auto it = state.replies.begin(); it != state.replies.end();) {
      it = it->second->has_subscribers() ? std::next(it) : state.replies.erase(it);
    }
  }

  std::unique_ptr<State> state_;
};

template <class Req, class Res, class Handler>
Result<void> serve(EventLoop& loop, Server<Req, Res>& server, Handler handler) {
  return loop.on(server.state_->calls,
                 [state = server.state_.get(), handler = std::move(handler)](const Sample<Req>& taken) mutable {
                   Server<Req, Res>::handle(*state, taken, handler);
                 });
}

}  // namespace statebus
