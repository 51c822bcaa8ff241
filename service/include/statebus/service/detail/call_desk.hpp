#pragma once
/// The one implementation of a client's side of a call, typed or not: the
/// reply and notice subscribers, what the client knows of the server, the
/// calls it waits for (by hand, or through an EventLoop), the cancels it
/// sends. Internal: use Client or UntypedClient.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "statebus/bus/event_loop.hpp"
#include "statebus/bus/loan_error.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/spin.hpp"
#include "statebus/bus/subscriber.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/bus/wait_set.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/clock/virtual_timeout.hpp"
#include "statebus/service/call_error.hpp"
#include "statebus/service/detail/service_wire.hpp"
#include "statebus/service/response.hpp"

namespace statebus::detail {

/// How a desk turns a reply into the value its caller gets: ReplyCodec<
/// CallResponse<Res>> for a typed client (the response type's fingerprint,
/// the reply read in place); UntypedClient specialises it for bytes.
template <class Value>
struct ReplyCodec;

template <class Res>
struct ReplyCodec<CallResponse<Res>> {
  /// The response type the client expects; 0: whatever the server announced.
  static std::uint64_t fingerprint() { return schema_of<Res>().fingerprint; }
  static const Schema* schema() { return &schema_of<Res>(); }
  static bool fits(const BytesSample& reply) noexcept { return reply.size() == sizeof(Res); }
  static CallResponse<Res> decode(BytesSample&& reply) noexcept { return CallResponse<Res>(std::move(reply)); }
};

/// When a call times out: the time left (real or virtual, as a real span)
/// and the point its loop wakes for.
struct CallDeadline {
  std::function<std::chrono::nanoseconds()> left;
  std::chrono::nanoseconds slice;  ///< how often a wait by hand looks at the clock
  std::optional<VirtualClock::time_point> virtual_time;
  std::optional<std::chrono::steady_clock::time_point> real_time;

  static CallDeadline after(std::chrono::nanoseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    return {[deadline] { return std::chrono::nanoseconds(deadline - std::chrono::steady_clock::now()); },
            std::chrono::milliseconds(100), std::nullopt, deadline};
  }
  // A virtual deadline is looked at every 10 ms by a wait by hand (a step
  // moves it without a wake-up); a loop wakes for it as for a timer.
  static CallDeadline after(VirtualTimeout timeout) {
    const auto deadline = VirtualClock::now() + timeout.span();
    return {[deadline] { return std::chrono::nanoseconds(deadline - VirtualClock::now()); },
            std::chrono::milliseconds(10), deadline, std::nullopt};
  }
};

template <class Value>
class CallDesk {
  using Codec = ReplyCodec<Value>;

 public:
  /// What an event loop's call runs once it ended (CallDesk::hand_to).
  using Handler = std::function<void(CallResult<Value>)>;

  /// Opens the reply channel of the client whose request port is
  /// `client_port`, and the service's notices, both connected.
  static Result<std::shared_ptr<CallDesk>> open(const Node& node, ServiceChannels channels, std::uint64_t client_port) {
    auto replies = UntypedSubscriber::create(node, channels.reply(client_port), SubscriberOptions{256, 0, false});
    if (!replies) return tl::make_unexpected(std::move(replies.error()));
    auto notices = Subscriber<CallRefusal>::create(node, channels.refused, SubscriberOptions{256, 1, false});
    if (!notices) return tl::make_unexpected(std::move(notices.error()));
    for (Waited connected :
         {replies->wait_connected(std::chrono::seconds(5)), notices->wait_connected(std::chrono::seconds(5))}) {
      if (connected.failed()) return tl::make_unexpected(std::move(connected).error());
      if (!connected) {
        return fail(Errc::timeout, "the daemon did not connect the client of '" + channels.service + "' within 5 s");
      }
    }
    auto waits = WaitSet::create(node);
    if (!waits) return tl::make_unexpected(std::move(waits.error()));
    auto desk = std::shared_ptr<CallDesk>(
        new CallDesk(std::move(channels), client_port, std::move(*replies), std::move(*notices), std::move(*waits)));
    for (auto added : {desk->waits_->add(desk->replies_), desk->waits_->add(desk->notices_)}) {
      if (!added) return tl::make_unexpected(std::move(added.error()));
    }
    return desk;
  }

  [[nodiscard]] const std::string& service() const noexcept { return channels_.service; }
  /// The server as its last announce named it, if one came.
  [[nodiscard]] const std::optional<ServerSeen>& server() {
    pump();
    return server_;
  }
  [[nodiscard]] std::size_t pending() const noexcept { return pending_.size(); }

  /// How the client sends a cancel of call `id` (a request sample whose
  /// reply_to names the call); none: calls are abandoned silently.
  void set_canceller(std::function<void(std::uint32_t)> cancel) { cancel_ = std::move(cancel); }

  /// Forgets call `id`: a reply that still comes is dropped. A call not yet
  /// answered as far as the client knows is cancelled on the wire too, so
  /// that its server may skip it.
  void abandon(std::uint32_t id) noexcept {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    const bool answered = it->second.result.has_value();
    pending_.erase(it);
    if (!answered) cancel(id);
  }

  /// The client is being destroyed: cancels every call still pending (on
  /// the wire, and a loop's handler with CallErrc::cancelled at the loop's
  /// next pass); the desk sends nothing from now on.
  void close() noexcept {
    for (auto& [id, call] : pending_) {
      if (!call.result) cancel(id);
      if (call.loop) {
        if (auto link = link_.lock()) link->orphans.push_back(std::move(call.loop->handler));
      }
    }
    pending_.clear();
    cancel_ = nullptr;
    closed_ = true;
  }

  /// Waits until a server is there and `requests` connected to it (or
  /// `left()` runs out), then `publish()`es a call on `requests`: its id, or
  /// why nothing was sent.
  template <class Port, class Publish, class Left>
  CallResult<std::uint32_t> send(const Port& requests, Publish publish, Left left) {
    if (auto failure = await_server(requests, left)) return tl::make_unexpected(std::move(*failure));
    if (LoanResult<void> sent = publish(); !sent) {
      return tl::make_unexpected(CallError(CallErrc::out_of_resources, "cannot send a call to '" + service() + "': " +
                                                                           std::string(to_string(sent.error()))));
    }
    const auto id = static_cast<std::uint32_t>(requests.published());
    pending_[id] = Call{server_->id, std::nullopt, nullptr};  // a leftover of 2^32 calls ago is replaced
    return id;
  }

  /// Makes this desk's calls waitable in `loop` (at once if they are
  /// already): its subscribers move into the loop (iceoryx lets a
  /// subscriber wake one wait set), so that from then on its waits by hand
  /// poll (1 ms), and a watch of the loop runs the handlers of calls that
  /// ended. Fails with invalid_argument when the desk is bound to another
  /// loop that lives, or out_of_resources when the loop is full.
  Result<void> bind(const std::shared_ptr<CallDesk>& self, EventLoop& loop) {
    auto link = link_.lock();
    if (link && link->loop == &loop) return {};
    if (link) {
      return fail(Errc::invalid_argument,
                  "the client of service '" + service() +
                      "' calls through another event loop (or one that moved since): a client's calls go to one "
                      "loop; make a client per loop");
    }
    forget_dead_loops_calls();
    waits_.reset();  // the subscribers leave the desk's own wait set for the loop's
    std::weak_ptr<CallDesk> weak = self;
    if (auto on = loop.on(replies_,
                          [weak](BytesSample& reply) {
                            if (auto desk = weak.lock()) desk->take_reply(std::move(reply));
                          });
        !on) {
      return on;
    }
    if (auto on = loop.on(notices_,
                          [weak](const Sample<CallRefusal>& notice) {
                            if (auto desk = weak.lock()) desk->noticed_ |= desk->take_notice(notice);
                          });
        !on) {
      return on;
    }
    link = std::make_shared<LoopLink>();
    link->loop = &loop;
    loop.watch([weak, link]() -> EventLoop::WatchNext {
      std::vector<Handler> orphans = std::move(link->orphans);
      link->orphans.clear();
      for (Handler& orphan : orphans) {
        orphan(tl::make_unexpected(CallError(CallErrc::cancelled, "its client was destroyed")));
      }
      auto desk = weak.lock();
      if (!desk) return {true, std::nullopt, std::nullopt};
      return desk->look_from_loop();
    });
    link_ = link;
    return {};
  }

  /// Makes call `id` (just sent, the desk bound to a loop) end on the
  /// loop's thread: `handler` runs there once, with the response or why
  /// there is none (at `deadline`: timed_out, `timeout` saying how long it was).
  void hand_to(std::uint32_t id, CallDeadline deadline, std::string timeout, Handler handler) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    it->second.loop = std::make_unique<LoopCall>(LoopCall{std::move(handler), std::move(deadline), std::move(timeout)});
  }

  /// Waits for call `id` until `left()` (the time left, real) runs out: its
  /// result, or nothing on timeout (the call stays pending). Looks whether
  /// the server is gone each time a notice comes and each `slice`.
  template <class Left>
  std::optional<CallResult<Value>> await(std::uint32_t id, Left left, std::chrono::nanoseconds slice, Spin spin) {
    bool look = false;
    for (;;) {
      const bool noticed = pump();
      look = look || noticed;
      auto it = pending_.find(id);
      if (it == pending_.end()) {
        return CallResult<Value>(tl::make_unexpected(CallError(CallErrc::cancelled, "the call is no longer pending")));
      }
      if (it->second.result) {
        CallResult<Value> done = std::move(*it->second.result);
        pending_.erase(it);
        return done;
      }
      const std::chrono::nanoseconds remaining = left();
      // Its server is looked at when a notice came, a slice passed, or the
      // caller will not wait (poll(): the last look, if under 0.1 s old).
      if (look || remaining.count() <= 0) {
        if (auto gone = server_gone_for(it->second.server, look)) {
          pending_.erase(it);
          return CallResult<Value>(tl::make_unexpected(std::move(*gone)));
        }
      }
      if (remaining.count() <= 0) return std::nullopt;
      Waited woken = sleep(std::min(remaining, slice), spin, look);
      if (woken.failed()) {
        pending_.erase(id);
        return CallResult<Value>(tl::make_unexpected(CallError(CallErrc::bus_gone, woken.error().message())));
      }
    }
  }

  /// await() to the end: the result, or timed_out (`timeout` says how long
  /// it was, for the message); a reply that comes later is dropped.
  template <class Left>
  CallResult<Value> finish(std::uint32_t id, Left left, std::chrono::nanoseconds slice, Spin spin,
                           const std::string& timeout) {
    if (auto done = await(id, left, slice, spin)) return std::move(*done);
    pending_.erase(id);
    return tl::make_unexpected(CallError(CallErrc::timed_out, timed_out_message(service(), timeout, server_)));
  }

 private:
  // What a loop holds of the desk (a handle held by the loop, by shared
  // ownership): which loop, and the handlers of calls whose client was
  // destroyed, to be run as cancelled.
  struct LoopLink {
    const EventLoop* loop = nullptr;
    std::vector<Handler> orphans;
  };

  CallDesk(ServiceChannels channels, std::uint64_t client_port, UntypedSubscriber replies,
           Subscriber<CallRefusal> notices, WaitSet waits) noexcept
      : channels_(std::move(channels)),
        client_port_(client_port),
        replies_(std::move(replies)),
        notices_(std::move(notices)),
        waits_(std::move(waits)) {}

  void cancel(std::uint32_t id) noexcept {
    // A call's own reply_to is 0: the call of id 0 (once in 2^32) cannot be cancelled.
    if (id != 0 && cancel_) cancel_(id);
  }

  // Sleeps up to `slice` until something arrives. In the desk's own wait set,
  // woken by either subscriber; once they are in a loop's, a poll of 1 ms
  // (`look` is set when the slice passed without a wake-up).
  Waited sleep(std::chrono::nanoseconds slice, Spin spin, bool& look) {
    if (waits_) {
      WaitSet::Ready ready = waits_->wait(slice, spin);
      look = !ready || ready.contains(1);
      return ready.waited();
    }
    const auto start = std::chrono::steady_clock::now();
    Waited waited = replies_.wait(std::min(slice, std::chrono::nanoseconds(std::chrono::milliseconds(1))), spin);
    look = std::chrono::steady_clock::now() - start >= slice;
    return waited;
  }

  void take_reply(BytesSample&& reply) {
    auto it = pending_.find(reply.header().reply_to);
    if (it == pending_.end() || it->second.result) return;  // abandoned, timed out, or a duplicate
    if (!server_ || reply.header().fingerprint != server_->response || !Codec::fits(reply)) return;
    it->second.result = CallResult<Value>(Codec::decode(std::move(reply)));
  }

  // True if it may concern this client's calls (a look at the server is due).
  bool take_notice(const Sample<CallRefusal>& notice) {
    const CallRefusal& n = notice.value();
    if (n.notice == static_cast<std::uint32_t>(ServiceNotice::announce)) {
      const SampleHeader& from = notice.header();
      if (server_ && server_->id.port == from.publisher_port) return false;  // announced again
      // Two announces from history (a dead server's ports not yet removed,
      // and its successor's): the newer server is the one.
      if (server_ && from.publisher_created_ns < server_->created_ns) return false;
      server_ = ServerSeen{ServerId{from.publisher_port, from.publisher(), n.pid_namespace}, n.response,
                           std::string(n.reason, strnlen(n.reason, sizeof n.reason)), from.publisher_created_ns};
      looked_at_ = {};  // a new server: look again
      return true;
    }
    if (n.client != client_port_) return true;  // a refusal to another client: every waiting client looks once
    if (auto it = pending_.find(n.call); it != pending_.end() && !it->second.result) {
      it->second.result = tl::make_unexpected(refusal_error(channels_.service, n));
    }
    return true;
  }

  // Takes what arrived: replies and refusals of pending calls, the server's
  // announce. True if a notice came.
  bool pump() {
    while (auto reply = replies_.take()) take_reply(std::move(*reply));
    bool noticed = false;
    while (auto notice = notices_.take()) noticed |= take_notice(*notice);
    return noticed;
  }

  // A pass of the loop the desk's calls went to: runs the handlers of the
  // calls that ended (answered, refused, server gone, timed out), then says
  // when to look again (the earliest timeout; 0.1 s for the server's death).
  EventLoop::WatchNext look_from_loop() {
    for (;;) {  // a handler may call again (by hand, or through the loop): what it ended runs too
      std::vector<std::pair<Handler, CallResult<Value>>> ended = ended_calls();
      if (ended.empty()) break;
      for (auto& [handler, result] : ended) handler(std::move(result));
      if (closed_) return {};  // a handler destroyed the client: the loop runs its calls' handlers next pass
    }
    EventLoop::WatchNext next;
    for (const auto& [id, call] : pending_) {
      if (!call.loop) continue;
      const CallDeadline& d = call.loop->deadline;
      if (d.virtual_time && (!next.virtual_time || *d.virtual_time < *next.virtual_time)) {
        next.virtual_time = d.virtual_time;
      }
      if (d.real_time && (!next.real_time || *d.real_time < *next.real_time)) next.real_time = d.real_time;
      const auto look = looked_at_ + std::chrono::milliseconds(100);
      if (!next.real_time || look < *next.real_time) next.real_time = look;
    }
    return next;
  }

  // The calls sent through a loop that was destroyed before they ended:
  // cancelled, their handlers never run (not by the next loop either).
  void forget_dead_loops_calls() noexcept {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (!it->second.loop) {
        ++it;
        continue;
      }
      if (!it->second.result) cancel(it->first);
      it = pending_.erase(it);
    }
  }

  std::vector<std::pair<Handler, CallResult<Value>>> ended_calls() {
    std::vector<std::pair<Handler, CallResult<Value>>> ended;
    noticed_ |= pump();
    bool look = noticed_ || std::chrono::steady_clock::now() - looked_at_ >= std::chrono::milliseconds(100);
    noticed_ = false;
    for (auto it = pending_.begin(); it != pending_.end();) {
      Call& call = it->second;
      if (!call.loop) {
        ++it;
        continue;
      }
      std::optional<CallResult<Value>> result = std::move(call.result);
      if (!result) {
        if (auto gone = server_gone_for(call.server, look)) {
          result = tl::make_unexpected(std::move(*gone));
        } else if (call.loop->deadline.left().count() <= 0) {
          result = tl::make_unexpected(
              CallError(CallErrc::timed_out, timed_out_message(service(), call.loop->timeout, server_)));
        }
        look = false;  // once per pass (another server's calls look again: its port differs)
      }
      if (!result) {
        ++it;
        continue;
      }
      ended.emplace_back(std::move(call.loop->handler), std::move(*result));
      it = pending_.erase(it);
    }
    return ended;
  }

  // Why no call can be sent now, if so: no server, another response type,
  // or the server gone.
  std::optional<CallError> server_failure(bool look) {
    if (!server_) return CallError(CallErrc::no_server, no_server_message(channels_.service, nullptr));
    if (Codec::fingerprint() != 0 && server_->response != Codec::fingerprint()) {
      return CallError(CallErrc::type_mismatch, type_mismatch_message(channels_.service, *server_, *Codec::schema()));
    }
    return server_gone_for(server_->id, look);
  }

  // server_gone if `server` (the one a call went to) stopped or is proven
  // dead. With `look`, asks (reads /proc: for waits that woke on a notice
  // or slept a slice through); else trusts the last look at that server if
  // it is under 0.1 s old.
  std::optional<CallError> server_gone_for(const ServerId& server, bool look) {
    const auto now = std::chrono::steady_clock::now();
    if (look || server.port != looked_port_ || now - looked_at_ > std::chrono::milliseconds(100)) {
      gone_ = server_gone(channels_.service, server, notices_.publishers());
      looked_port_ = server.port;
      looked_at_ = now;
    }
    return gone_;
  }

  // Waits until a server is known and connected to `requests`, or `left()`
  // runs out: nothing, or why no call can be sent.
  template <class Port, class Left>
  std::optional<CallError> await_server(const Port& requests, Left left) {
    for (bool look = false;; look = true) {
      pump();
      std::optional<CallError> failure = server_failure(look);
      if (!failure && requests.has_subscribers()) return std::nullopt;
      if (failure && failure->code() == CallErrc::type_mismatch) return failure;
      const std::chrono::nanoseconds remaining = left();
      if (remaining.count() <= 0) {
        return CallError(CallErrc::no_server, no_server_message(channels_.service, server_ ? &*server_ : nullptr));
      }
      bool slept_through = false;
      Waited woken =
          sleep(std::min(remaining, std::chrono::nanoseconds(std::chrono::milliseconds(10))), Spin{}, slept_through);
      if (woken.failed()) return CallError(CallErrc::bus_gone, woken.error().message());
    }
  }

  ServiceChannels channels_;
  std::uint64_t client_port_;
  UntypedSubscriber replies_;
  Subscriber<CallRefusal> notices_;
  std::optional<WaitSet> waits_;  // replies_ (index 0) and notices_ (1); none once they are in a loop
  std::optional<ServerSeen> server_;
  // What a loop's call has more than one waited for by hand.
  struct LoopCall {
    Handler handler;
    CallDeadline deadline;
    std::string timeout;  // for the timed_out message
  };
  // A call sent and not yet given to its caller: the server it went to, its
  // result once in.
  struct Call {
    ServerId server;
    std::optional<CallResult<Value>> result;
    std::unique_ptr<LoopCall> loop;  // none: waited for by hand (call(), PendingCall)
  };
  std::unordered_map<std::uint32_t, Call> pending_;  // by id
  std::function<void(std::uint32_t)> cancel_;
  std::weak_ptr<LoopLink> link_;  // the loop this desk's subscribers are in, while it lives
  bool noticed_ = false;          // a notice came since the loop last looked
  bool closed_ = false;           // its client was destroyed
  // The last look at a server: which, when, what it found.
  std::uint64_t looked_port_ = 0;
  std::chrono::steady_clock::time_point looked_at_{};
  std::optional<CallError> gone_;
};

}  // namespace statebus::detail
