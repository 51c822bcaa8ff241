#pragma once
/// Client<Req, Res>: calls a service, synchronously or not, on real or
/// virtual time; PendingCall: a call sent and not yet answered.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "statebus/base/describe.hpp"
#include "statebus/bus/event_loop.hpp"
#include "statebus/bus/publisher.hpp"
#include "statebus/bus/spin.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/clock/virtual_timeout.hpp"
#include "statebus/service/call_error.hpp"
#include "statebus/service/detail/call_desk.hpp"
#include "statebus/service/detail/service_wire.hpp"
#include "statebus/service/response.hpp"

namespace statebus {

/// A call sent and not yet answered (Client::call_async). Poll it, or wait
/// for it; dropping it cancels the call: a reply that still comes is
/// discarded, and unless the client already took the answer a cancel goes
/// to the server, which skips the handler if it has not taken the call yet
/// (Server::cancelled) and can ask in the handler otherwise
/// (Server::cancel_requested). The cancel is a send: behind a lossless
/// subscriber of `S/_call` that stopped (a recorder), dropping the call
/// waits for it as every send does. Move-only; used on its client's thread. It
/// may outlive its Client: it then ends as cancelled. To have a call end
/// in an EventLoop with other things, use Client::call_async(request,
/// timeout, loop, handler).
template <class Res>
class PendingCall {
  using Value = CallResponse<Res>;
  static CallResponse<Res> flatten(CallResult<Value>&& result) {
    if (!result) return CallResponse<Res>(std::move(result.error()));
    return std::move(*result);
  }

 public:
  PendingCall(PendingCall&&) noexcept = default;
  PendingCall& operator=(PendingCall&& other) noexcept {
    if (this != &other) {
      abandon();
      desk_ = std::move(other.desk_);
      id_ = other.id_;
    }
    return *this;
  }
  PendingCall(const PendingCall&) = delete;
  PendingCall& operator=(const PendingCall&) = delete;
  ~PendingCall() { abandon(); }

  /// The result if the call has ended (answered, refused, or its server
  /// gone), else nothing. Never blocks.
  std::optional<CallResponse<Res>> poll() {
    return await([] { return std::chrono::nanoseconds(0); }, std::chrono::milliseconds(100), Spin{});
  }
  /// Waits (real time) up to `timeout`: the result, or nothing if the call
  /// is still pending then (wait again, or drop it).
  std::optional<CallResponse<Res>> wait(std::chrono::nanoseconds timeout, Spin spin = {}) {
    const detail::CallDeadline deadline = detail::CallDeadline::after(timeout);
    return await(deadline.left, deadline.slice, spin);
  }
  /// The call's id: the low 32 bits of its request's sequence number.
  [[nodiscard]] std::uint32_t id() const noexcept { return id_; }

 private:
  template <class, class>
  friend class Client;
  PendingCall(std::weak_ptr<detail::CallDesk<Value>> desk, std::uint32_t id) : desk_(std::move(desk)), id_(id) {}
  template <class Left>
  std::optional<CallResponse<Res>> await(Left left, std::chrono::nanoseconds slice, Spin spin) {
    auto desk = desk_.lock();
    if (!desk) return CallResponse<Res>(CallError(CallErrc::cancelled, "its client was destroyed"));
    auto done = desk->await(id_, left, slice, spin);
    if (!done) return std::nullopt;
    return flatten(std::move(*done));
  }
  void abandon() noexcept {
    if (auto desk = desk_.lock()) desk->abandon(id_);
  }
  std::weak_ptr<detail::CallDesk<Value>> desk_;
  std::uint32_t id_ = 0;
};

namespace detail {

/// "1.5 s of virtual time": the timeouts of calls, for messages.
inline std::string timeout_text(std::chrono::nanoseconds span) { return duration_text(span); }
inline std::string timeout_text(VirtualTimeout timeout) { return duration_text(timeout.span()) + " of virtual time"; }

/// Sends the cancel of call `id` on `requests`: a request of zeroes whose
/// header's reply_to names the call (a call's own is 0). Dropped when the
/// pools are exhausted (the server then answers the call, which nobody takes).
template <class Req>
void send_cancel(Publisher<Req>& requests, std::uint32_t id) noexcept {
  auto raw = requests.loan_uninit();
  if (!raw) return;
  std::memset(raw->memory(), 0, sizeof(Req));
  loaned_header(raw->memory()).reply_to = id;
  (void)requests.publish(std::move(*raw).assume_init());
}

}  // namespace detail

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
/// until the timeout (timed_out). Once it made a call in an EventLoop it
/// belongs to that loop's thread (call_async(request, timeout, loop, handler)).
/// Destroying it cancels its pending calls (their servers see the cancels).
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
    auto desk = detail::CallDesk<CallResponse<Res>>::open(node, std::move(*channels), requests->port_id());
    if (!desk) return tl::make_unexpected(std::move(desk.error()));
    // The publisher is on the heap: the desk sends cancels through it while the Client moves.
    auto port = std::make_unique<Publisher<Req>>(std::move(*requests));
    (*desk)->set_canceller([to = port.get()](std::uint32_t id) { detail::send_cancel(*to, id); });
    return Client(std::move(port), std::move(*desk));
  }
  Client(Client&&) noexcept = default;
  Client& operator=(Client&& other) noexcept {
    if (this != &other) {
      if (desk_) desk_->close();
      requests_ = std::move(other.requests_);
      desk_ = std::move(other.desk_);
    }
    return *this;
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  /// Cancels the calls still pending (their servers see it); a loop's
  /// calls end as cancelled at the loop's next pass, a PendingCall's too.
  ~Client() {
    if (desk_) desk_->close();
  }

  /// Calls and waits up to `timeout` in all: a std::chrono duration is real
  /// time, virtual_timeout(…) the bus's clock (a step past it is noticed
  /// within 10 ms). The response (read in place: `answer->field`), or a
  /// CallError (`answer.error()`) saying which of no_server,
  /// server_gone, timed_out, refused, type_mismatch, out_of_resources,
  /// bus_gone. `spin` as for Subscriber::wait (a WaitSet's: adaptive spins 20 µs).
  template <class Timeout>
  CallResponse<Res> call(const Req& request, Timeout timeout, Spin spin = {}) {
    const detail::CallDeadline deadline = detail::CallDeadline::after(timeout);
    auto id = send(request, deadline.left);
    if (!id) return CallResponse<Res>(std::move(id.error()));
    auto done = desk_->finish(*id, deadline.left, deadline.slice, spin, detail::timeout_text(timeout));
    if (!done) return CallResponse<Res>(std::move(done.error()));
    return std::move(*done);
  }

  /// Sends a call and returns at once with it pending, once a server is
  /// there (waited for up to `server_timeout`, real time); fails as call()
  /// does before anything is sent (no_server, type_mismatch,
  /// out_of_resources, bus_gone).
  CallResult<PendingCall<Res>> call_async(const Req& request,
                                          std::chrono::nanoseconds server_timeout = std::chrono::seconds(1)) {
    const detail::CallDeadline deadline = detail::CallDeadline::after(server_timeout);
    auto id = send(request, deadline.left);
    if (!id) return tl::make_unexpected(std::move(id.error()));
    return PendingCall<Res>(desk_, *id);
  }

  /// Sends a call whose end runs `handler(CallResponse<Res>)` on `loop`'s
  /// thread, once: the response, or the CallError (refused, server_gone
  /// within 0.1 s of its server's proven death, timed_out at `timeout` —
  /// real time, or virtual_timeout(…) on the bus's clock, a timer of the
  /// loop's — cancelled at the loop's next pass once the Client is
  /// destroyed). Returns the call's id; fails as call_async(request) does
  /// before anything is sent (waiting up to `server_timeout`, real time,
  /// for a server: the loop's thread blocks only while none is there), and
  /// then the handler never runs; likewise with CallErrc::cancelled ("not
  /// sent: …") when the client's calls already go to another loop that
  /// lives (a client per loop), or the loop has no room for the client's
  /// two subscribers.
  ///
  /// Example:
  ///   calc->call_async(Ask{3}, virtual_timeout(1s), *loop, [&](CallResponse<Answer> answer) {
  ///     if (answer) show(answer->doubled); else log(answer.error().message());
  ///   });
  ///
  /// The client's reply and notice subscribers move into the loop at its
  /// first call there (iceoryx lets a subscriber wake one wait set): a
  /// sample that came for a call holds lockstep time until the loop took
  /// it, as any sample for a loop does. From then on the client belongs to
  /// the loop's thread; its calls by hand (call(), PendingCall) still work
  /// there, polling every 1 ms instead of blocking. A loop destroyed before
  /// its calls ended never runs their handlers. Allocates.
  template <class Timeout, class Handler>
  CallResult<std::uint32_t> call_async(const Req& request, Timeout timeout, EventLoop& loop, Handler handler,
                                       std::chrono::nanoseconds server_timeout = std::chrono::seconds(1)) {
    static_assert(std::is_invocable_v<Handler&, CallResponse<Res>>,
                  "a loop call's handler takes the call's CallResponse<Res>");
    if (auto bound = desk_->bind(desk_, loop); !bound) {
      return tl::make_unexpected(CallError(CallErrc::cancelled, "not sent: " + bound.error().message()));
    }
    detail::CallDeadline deadline = detail::CallDeadline::after(timeout);  // from now, as call()'s
    const detail::CallDeadline server_deadline = detail::CallDeadline::after(server_timeout);
    auto id = send(request, server_deadline.left);
    if (!id) return tl::make_unexpected(std::move(id.error()));
    auto held = std::make_shared<Handler>(std::move(handler));  // a std::function must be copyable
    desk_->hand_to(*id, std::move(deadline), detail::timeout_text(timeout),
                   [held](CallResult<CallResponse<Res>> result) {
                     if (!result) {
                       (*held)(CallResponse<Res>(std::move(result.error())));
                     } else {
                       (*held)(std::move(*result));
                     }
                   });
    return *id;
  }

  [[nodiscard]] const std::string& service() const noexcept { return desk_->service(); }
  /// The server's process as the last announce named it, if one came.
  [[nodiscard]] std::optional<ProcessId> server() const {
    const auto& seen = desk_->server();
    if (!seen) return std::nullopt;
    return seen->id.process;
  }
  /// Calls pending (sent by call_async, neither ended nor dropped).
  [[nodiscard]] std::size_t pending() const noexcept { return desk_->pending(); }

 private:
  Client(std::unique_ptr<Publisher<Req>> requests, std::shared_ptr<detail::CallDesk<CallResponse<Res>>> desk) noexcept
      : requests_(std::move(requests)), desk_(std::move(desk)) {}

  // Sends `request` once a server is there (or `left()` ran out): its id, or why not.
  template <class Left>
  CallResult<std::uint32_t> send(const Req& request, const Left& left) {
    return desk_->send(
        *requests_, [&] { return requests_->publish(request); }, left);
  }

  std::unique_ptr<Publisher<Req>> requests_;
  std::shared_ptr<detail::CallDesk<CallResponse<Res>>> desk_;
};

}  // namespace statebus
