#pragma once
/// Client<Req, Res>: calls a service, synchronously or not, on real or
/// virtual time; PendingCall: a call sent and not yet answered.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "statebus/base/describe.hpp"
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
/// for it; dropping it abandons the call (a reply that still comes is
/// discarded). Move-only; used on its client's thread. It may outlive its
/// Client: it then ends as cancelled.
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
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    return await([deadline] { return deadline - std::chrono::steady_clock::now(); }, std::chrono::milliseconds(100),
                 spin);
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

/// The time left of a call's timeout, real or virtual, and how often its
/// wait looks at the clock: a real deadline wakes the wait itself; a virtual
/// one is looked at every 10 ms (a step moves it without a wake-up).
struct CallDeadline {
  static CallDeadline after(std::chrono::nanoseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    return {[deadline] { return std::chrono::nanoseconds(deadline - std::chrono::steady_clock::now()); },
            std::chrono::milliseconds(100)};
  }
  static CallDeadline after(VirtualTimeout timeout) {
    const auto deadline = VirtualClock::now() + timeout.span();
    return {[deadline] { return std::chrono::nanoseconds(deadline - VirtualClock::now()); },
            std::chrono::milliseconds(10)};
  }
  std::function<std::chrono::nanoseconds()> left;
  std::chrono::nanoseconds slice;
};

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
    auto desk = detail::CallDesk<CallResponse<Res>>::open(node, std::move(*channels), requests->port_id());
    if (!desk) return tl::make_unexpected(std::move(desk.error()));
    return Client(std::move(*requests), std::move(*desk));
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
    auto id = desk_->send(
        requests_, [&] { return requests_.publish(request); }, deadline.left);
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
    auto id = desk_->send(
        requests_, [&] { return requests_.publish(request); }, deadline.left);
    if (!id) return tl::make_unexpected(std::move(id.error()));
    return PendingCall<Res>(desk_, *id);
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
  Client(Publisher<Req> requests, std::shared_ptr<detail::CallDesk<CallResponse<Res>>> desk) noexcept
      : requests_(std::move(requests)), desk_(std::move(desk)) {}

  Publisher<Req> requests_;
  std::shared_ptr<detail::CallDesk<CallResponse<Res>>> desk_;
};

}  // namespace statebus
