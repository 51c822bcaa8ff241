#pragma once
/// The one implementation of a client's side of a call, typed or not: the
/// reply and notice subscribers, what the client knows of the server, the
/// calls it waits for. Internal: use Client or UntypedClient.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "statebus/bus/loan_error.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/spin.hpp"
#include "statebus/bus/subscriber.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/bus/wait_set.hpp"
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

template <class Value>
class CallDesk {
  using Codec = ReplyCodec<Value>;

 public:
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
    for (auto added : {desk->waits_.add(desk->replies_), desk->waits_.add(desk->notices_)}) {
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
  /// Forgets call `id`: a reply that still comes is dropped.
  void abandon(std::uint32_t id) noexcept { pending_.erase(id); }

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
    pending_[id] = Call{server_->id, std::nullopt};  // a leftover of 2^32 calls ago is replaced
    return id;
  }

  /// Waits for call `id` until `left()` (the time left, real) runs out: its
  /// result, or nothing on timeout (the call stays pending). Looks whether
  /// the server is gone each time a notice comes and each `slice`.
  template <class Left>
  std::optional<CallResult<Value>> await(std::uint32_t id, Left left, std::chrono::nanoseconds slice, Spin spin) {
    bool look = false;
    for (;;) {
      pump();
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
      WaitSet::Ready ready = waits_.wait(std::min(remaining, slice), spin);
      if (ready.failed()) {
        pending_.erase(id);
        return CallResult<Value>(tl::make_unexpected(CallError(CallErrc::bus_gone, ready.error().message())));
      }
      look = !ready || ready.contains(1);
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
  CallDesk(ServiceChannels channels, std::uint64_t client_port, UntypedSubscriber replies,
           Subscriber<CallRefusal> notices, WaitSet waits) noexcept
      : channels_(std::move(channels)),
        client_port_(client_port),
        replies_(std::move(replies)),
        notices_(std::move(notices)),
        waits_(std::move(waits)) {}

  // Takes what arrived: replies and refusals of pending calls, the server's announce.
  void pump() {
    while (auto reply = replies_.take()) {
      auto it = pending_.find(reply->header().reply_to);
      if (it == pending_.end() || it->second.result) continue;  // abandoned, timed out, or a duplicate
      if (!server_ || reply->header().fingerprint != server_->response || !Codec::fits(*reply)) continue;
      it->second.result = CallResult<Value>(Codec::decode(std::move(*reply)));
    }
    while (auto notice = notices_.take()) {
      const CallRefusal& n = notice->value();
      if (n.notice == static_cast<std::uint32_t>(ServiceNotice::announce)) {
        const SampleHeader& from = notice->header();
        if (server_ && server_->id.port == from.publisher_port) continue;  // announced again
        // Two announces from history (a dead server's ports not yet removed,
        // and its successor's): the newer server is the one.
        if (server_ && from.publisher_created_ns < server_->created_ns) continue;
        server_ = ServerSeen{ServerId{from.publisher_port, from.publisher(), n.pid_namespace}, n.response,
                             std::string(n.reason, strnlen(n.reason, sizeof n.reason)), from.publisher_created_ns};
        looked_at_ = {};  // a new server: look again
        continue;
      }
      if (n.client != client_port_) continue;
      if (auto it = pending_.find(n.call); it != pending_.end() && !it->second.result) {
        it->second.result = tl::make_unexpected(refusal_error(channels_.service, n));
      }
    }
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
      WaitSet::Ready ready = waits_.wait(std::min(remaining, std::chrono::nanoseconds(std::chrono::milliseconds(10))));
      if (ready.failed()) return CallError(CallErrc::bus_gone, ready.error().message());
    }
  }

  ServiceChannels channels_;
  std::uint64_t client_port_;
  UntypedSubscriber replies_;
  Subscriber<CallRefusal> notices_;
  WaitSet waits_;  // replies_ (index 0) and notices_ (1)
  std::optional<ServerSeen> server_;
  // A call sent and not yet given to its caller: the server it went to, its result once in.
  struct Call {
    ServerId server;
    std::optional<CallResult<Value>> result;
  };
  std::unordered_map<std::uint32_t, Call> pending_;  // by id
  // The last look at a server: which, when, what it found.
  std::uint64_t looked_port_ = 0;
  std::chrono::steady_clock::time_point looked_at_{};
  std::optional<CallError> gone_;
};

}  // namespace statebus::detail
