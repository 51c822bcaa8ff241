#pragma once
/// Client<Req, Res>: calls a service, synchronously or not, on real or virtual time.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "statebus/base/describe.hpp"
#include "statebus/bus/publisher.hpp"
#include "statebus/bus/spin.hpp"
#include "statebus/bus/subscriber.hpp"
#include "statebus/bus/wait_set.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/clock/virtual_timeout.hpp"
#include "statebus/service/call_error.hpp"
#include "statebus/service/detail/service_wire.hpp"

namespace statebus {

namespace detail {

/// The reply side of a client, shared with its pending calls: its reply
/// and notice subscribers, what it knows of the server, the calls it waits
/// for. Internal.
template <class Res>
struct ReplyDesk {
  ServiceChannels channels;
  std::uint64_t client_port = 0;
  Subscriber<Res> replies;
  Subscriber<CallRefusal> notices;
  WaitSet waits;  // replies (index 0) and notices (1)
  std::optional<ServerSeen> server;
  // Calls sent and not yet given to their caller: by id, the result once in.
  std::unordered_map<std::uint32_t, std::optional<CallResult<Res>>> pending;

  // Takes what arrived: replies and refusals of pending calls, the server's announce.
  void pump() {
    while (auto reply = replies.take()) {
      if (auto it = pending.find(reply->header().reply_to); it != pending.end() && !it->second) {
        it->second = CallResult<Res>(reply->value());
      }
    }
    while (auto notice = notices.take()) {
      const CallRefusal& n = notice->value();
      if (n.notice == static_cast<std::uint32_t>(ServiceNotice::announce)) {
        server = ServerSeen{notice->header().publisher_port, notice->header().publisher(), n.response,
                            std::string(n.reason, strnlen(n.reason, sizeof n.reason))};
        looked_at = {};  // a new server: look again
        continue;
      }
      if (n.client != client_port) continue;
      if (auto it = pending.find(n.call); it != pending.end() && !it->second) {
        it->second = tl::make_unexpected(refusal_error(channels.service, n));
      }
    }
  }

  // Why no call can be answered now, if so: no server, another response
  // type, or the server gone. With `look`, asks whether the server is gone
  // (reads /proc: for waits that woke on a notice or slept a slice through);
  // else trusts the last look, if it is under 0.1 s old.
  std::optional<CallError> server_failure(bool look) {
    if (!server) return CallError(CallErrc::no_server, no_server_message(channels.service, nullptr));
    if (server->response != schema_of<Res>().fingerprint) {
      return CallError(CallErrc::type_mismatch, type_mismatch_message(channels.service, *server, schema_of<Res>()));
    }
    const auto now = std::chrono::steady_clock::now();
    if (look || now - looked_at > std::chrono::milliseconds(100)) {
      gone = server_gone(channels.service, *server, notices.publishers());
      looked_at = now;
    }
    return gone;
  }

  // Waits for call `id` until `left()` (the time left, real) runs out: its
  // result, or nothing on timeout (the call stays pending). Looks whether
  // the server is gone each time a notice comes and each `slice`.
  template <class Left>
  std::optional<CallResult<Res>> await(std::uint32_t id, Left left, std::chrono::nanoseconds slice, Spin spin) {
    bool look = false;
    for (;;) {
      pump();
      if (auto it = pending.find(id); it == pending.end()) {
        return CallResult<Res>(tl::make_unexpected(CallError(CallErrc::cancelled, "the call is no longer pending")));
      } else if (it->second) {
        CallResult<Res> done = std::move(*it->second);
        pending.erase(it);
        return done;
      }
      if (look) {
        if (auto failure = server_failure(true)) {
          pending.erase(id);
          return CallResult<Res>(tl::make_unexpected(std::move(*failure)));
        }
      }
      const std::chrono::nanoseconds remaining = left();
      if (remaining.count() <= 0) return std::nullopt;
      WaitSet::Ready ready = waits.wait(std::min(remaining, slice), spin);
      if (ready.failed()) {
        pending.erase(id);
        return CallResult<Res>(tl::make_unexpected(CallError(CallErrc::bus_gone, ready.error().message())));
      }
      look = !ready || ready.contains(1);
    }
  }

  // Waits until a server is known and connected to `requests`, or `left()`
  // runs out: nothing, or why no call can be sent.
  template <class Req, class Left>
  std::optional<CallError> await_server(const Publisher<Req>& requests, Left left) {
    for (bool look = false;; look = true) {
      pump();
      std::optional<CallError> failure = server_failure(look);
      if (!failure && requests.has_subscribers()) return std::nullopt;
      if (failure && failure->code() == CallErrc::type_mismatch) return failure;
      const std::chrono::nanoseconds remaining = left();
      if (remaining.count() <= 0) {
        return CallError(CallErrc::no_server, no_server_message(channels.service, server ? &*server : nullptr));
      }
      WaitSet::Ready ready = waits.wait(std::min(remaining, std::chrono::nanoseconds(std::chrono::milliseconds(10))));
      if (ready.failed()) return CallError(CallErrc::bus_gone, ready.error().message());
    }
  }

  std::chrono::steady_clock::time_point looked_at{};
  std::optional<CallError> gone;  // the last look's finding
};

}  // namespace detail

/// A call sent and not yet answered (Client::call_async). Poll it, or wait
/// for it; dropping it abandons the call (a reply that still comes is
/// discarded). Move-only; used on its client's thread. It may outlive its
/// Client: it then ends as cancelled.
template <class Res>
class PendingCall {
 public:
  PendingCall(PendingCall&&) noexcept = default;
  PendingCall& operator=(PendingCall&&) noexcept = default;
  ~PendingCall() {
    if (auto desk = desk_.lock()) desk->pending.erase(id_);
  }

  /// The result if the call has ended (answered, refused, or its server
  /// gone), else nothing. Never blocks.
  std::optional<CallResult<Res>> poll() {
    return await([] { return std::chrono::nanoseconds(0); });
  }
  /// Waits (real time) up to `timeout`: the result, or nothing if the call
  /// is still pending then (wait again, or drop it).
  std::optional<CallResult<Res>> wait(std::chrono::nanoseconds timeout, Spin spin = {}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    return await([deadline] { return deadline - std::chrono::steady_clock::now(); }, std::chrono::milliseconds(100),
                 spin);
  }
  /// The call's id: the low 32 bits of its request's sequence number.
  [[nodiscard]] std::uint32_t id() const noexcept { return id_; }

 private:
  template <class, class>
  friend class Client;
  PendingCall(std::weak_ptr<detail::ReplyDesk<Res>> desk, std::uint32_t id) : desk_(std::move(desk)), id_(id) {}
  template <class Left>
  std::optional<CallResult<Res>> await(Left left, std::chrono::nanoseconds slice = std::chrono::milliseconds(100),
                                       Spin spin = {}) {
    auto desk = desk_.lock();
    if (!desk) return CallResult<Res>(tl::make_unexpected(CallError(CallErrc::cancelled, "its client was destroyed")));
    return desk->await(id_, left, slice, spin);
  }
  std::weak_ptr<detail::ReplyDesk<Res>> desk_;
  std::uint32_t id_;
};

/// Calls service `S`: sends each request on `S/_call` and takes the answer
/// from its own `S/_reply/<client>` (service/README.md).
///
/// Example:
///   auto boost = Client<Boost, BoostAnswer>::create(*node, "home/heating/boost");
///   auto answer = boost->call(Boost{30}, 1s);                      // real time
///   auto later = boost->call(Boost{30}, virtual_timeout(10s));     // the bus's clock
///   if (!answer) log(answer.error().message());                    // CallError: which, and why
///
/// Thread safety: one thread at a time (make a client per thread). The Node
/// must outlive it. A call waits for a server (no_server after the timeout)
/// and ends within 0.1 s of its server's proven death or stop
/// (server_gone); a server that is alive but stopped or slow is waited for
/// until the timeout (timed_out).
template <class Req, class Res>
class Client {
  static_assert(std::is_trivially_copyable_v<Req> && std::is_trivially_copyable_v<Res>,
                "service requests and responses must be trivially copyable");
  static_assert(is_described_v<Req> && is_described_v<Res>,
                "describe the request and response types with STATEBUS_MESSAGE(Type, \"name\", fields...)");

 public:
  /// A client of `service`; the server need not be there yet. Fails with
  /// Errc::type_mismatch when the service's calls carry another request
  /// type (the message names both), Errc::payload_too_large when Req does
  /// not fit the daemon's largest pool, Errc::invalid_argument for a bad
  /// name; without a bus, as Subscriber::create does.
  static Result<Client> create(const Node& node, std::string_view service) {
    auto channels = detail::service_channels(service);
    if (!channels) return tl::make_unexpected(std::move(channels.error()));
    auto requests = Publisher<Req>::create(node, channels->call);
    if (!requests) return tl::make_unexpected(std::move(requests.error()));
    auto replies =
        Subscriber<Res>::create(node, channels->reply(requests->port_id()), SubscriberOptions{256, 0, false});
    if (!replies) return tl::make_unexpected(std::move(replies.error()));
    auto notices = Subscriber<detail::CallRefusal>::create(node, channels->refused, SubscriberOptions{256, 1, false});
    if (!notices) return tl::make_unexpected(std::move(notices.error()));
    for (Waited connected :
         {replies->wait_connected(std::chrono::seconds(5)), notices->wait_connected(std::chrono::seconds(5))}) {
      if (connected.failed()) return tl::make_unexpected(std::move(connected).error());
      if (!connected)
        return fail(Errc::timeout, "the daemon did not connect the client of '" + channels->service + "' within 5 s");
    }
    auto waits = WaitSet::create(node);
    if (!waits) return tl::make_unexpected(std::move(waits.error()));
    const std::uint64_t port = requests->port_id();
    auto desk = std::make_shared<detail::ReplyDesk<Res>>(detail::ReplyDesk<Res>{std::move(*channels),
                                                                                port,
                                                                                std::move(*replies),
                                                                                std::move(*notices),
                                                                                std::move(*waits),
                                                                                std::nullopt,
                                                                                {},
                                                                                {},
                                                                                std::nullopt});
    for (auto added : {desk->waits.add(desk->replies), desk->waits.add(desk->notices)}) {
      if (!added) return tl::make_unexpected(std::move(added.error()));
    }
    return Client(std::move(*requests), std::move(desk));
  }

  /// Calls and waits up to `timeout` (real time) in all: the response, or
  /// a CallError saying which of no_server, server_gone, timed_out,
  /// refused, type_mismatch, out_of_resources, bus_gone. `spin` as for
  /// Subscriber::wait (a WaitSet's: adaptive spins 20 µs).
  CallResult<Res> call(const Req& request, std::chrono::nanoseconds timeout, Spin spin = {}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    return finish(
        request, [deadline] { return deadline - std::chrono::steady_clock::now(); }, std::chrono::milliseconds(100),
        spin, timeout_text(timeout));
  }
  /// Calls and waits until the bus's virtual time has moved by `timeout`
  /// (a step, rate or lockstep moves it; noticed within 10 ms of real time).
  CallResult<Res> call(const Req& request, VirtualTimeout timeout) {
    const auto deadline = VirtualClock::now() + timeout.span();
    return finish(
        request, [deadline] { return std::chrono::nanoseconds(deadline - VirtualClock::now()); },
        std::chrono::milliseconds(10), Spin{}, timeout_text(timeout.span()) + " of virtual time");
  }

  /// Sends a call and returns at once with it pending, once a server is
  /// there (waited for up to `server_timeout`, real time); fails as call()
  /// does before anything is sent (no_server, type_mismatch,
  /// out_of_resources, bus_gone).
  CallResult<PendingCall<Res>> call_async(const Req& request,
                                          std::chrono::nanoseconds server_timeout = std::chrono::seconds(1)) {
    const auto deadline = std::chrono::steady_clock::now() + server_timeout;
    auto id = send(request, [deadline] { return deadline - std::chrono::steady_clock::now(); });
    if (!id) return tl::make_unexpected(std::move(id.error()));
    return PendingCall<Res>(desk_, *id);
  }

  [[nodiscard]] const std::string& service() const noexcept { return desk_->channels.service; }
  /// The server's process as the last announce named it, if one came.
  [[nodiscard]] std::optional<ProcessId> server() const {
    desk_->pump();
    if (!desk_->server) return std::nullopt;
    return desk_->server->process;
  }
  /// Calls pending (sent by call_async, neither ended nor dropped).
  [[nodiscard]] std::size_t pending() const noexcept { return desk_->pending.size(); }

 private:
  Client(Publisher<Req> requests, std::shared_ptr<detail::ReplyDesk<Res>> desk) noexcept
      : requests_(std::move(requests)), desk_(std::move(desk)) {}

  static std::string timeout_text(std::chrono::nanoseconds span) { return detail::duration_text(span); }

  template <class Left>
  CallResult<std::uint32_t> send(const Req& request, Left left) {
    if (auto failure = desk_->await_server(requests_, left)) return tl::make_unexpected(std::move(*failure));
    auto sent = requests_.publish(request);
    if (!sent) {
      return tl::make_unexpected(CallError(CallErrc::out_of_resources, "cannot send a call to '" + service() + "': " +
                                                                           std::string(to_string(sent.error()))));
    }
    const auto id = static_cast<std::uint32_t>(requests_.published());
    desk_->pending.emplace(id, std::nullopt);
    return id;
  }

  template <class Left>
  CallResult<Res> finish(const Req& request, Left left, std::chrono::nanoseconds slice, Spin spin,
                         const std::string& timeout) {
    auto id = send(request, left);
    if (!id) return tl::make_unexpected(std::move(id.error()));
    if (auto done = desk_->await(*id, left, slice, spin)) return std::move(*done);
    desk_->pending.erase(*id);  // a reply that still comes is dropped
    return tl::make_unexpected(CallError(CallErrc::timed_out, "service '" + service() + "' did not answer within " +
                                                                  timeout + "; its server, " +
                                                                  detail::describe_process(desk_->server->process.pid) +
                                                                  ", is alive (stopped or busy?)"));
  }

  Publisher<Req> requests_;
  std::shared_ptr<detail::ReplyDesk<Res>> desk_;
};

}  // namespace statebus
