#pragma once
/// ProxyCore: what every Proxy<Interface> is made of, one Client per method.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>

#include "statebus/base/error.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/service/call_timeout.hpp"
#include "statebus/service/client.hpp"
#include "statebus/service/detail/all_made.hpp"
#include "statebus/service/detail/method_list.hpp"

namespace statebus::detail {

template <class Derived, class Methods>
class ProxyCore;

/// The generated Proxy of an interface derives from this: it holds a
/// Client of each method's service and the timeout every call waits.
template <class Derived, class... Ms>
class ProxyCore<Derived, MethodList<Ms...>> {
  using Clients = std::tuple<Client<typename Ms::Request, typename Ms::Response>...>;

 public:
  /// What create() hands to the Proxy's constructor.
  struct Parts {
    std::string object;
    Clients clients;
    CallTimeout timeout;
  };

  /// A proxy of the object served as `object` (ObjectServer<Interface>::create):
  /// a client of each method's service `<object>/<method>`. The object's
  /// server need not be there yet (a call waits for it up to its
  /// timeout, then fails as no_server). Each call waits `timeout` (a
  /// std::chrono duration: real time; virtual_timeout(…): the bus's clock).
  /// Fails as Client::create does for any method (Errc::type_mismatch when
  /// the object's methods carry other types, naming both;
  /// Errc::invalid_argument for a bad name; no bus), the message naming
  /// the method's service.
  static Result<Derived> create(const Node& node, std::string_view object,
                                CallTimeout timeout = std::chrono::seconds(1)) {
    auto made = std::make_tuple(
        Client<typename Ms::Request, typename Ms::Response>::create(node, method_service<Ms>(object))...);
    auto clients = all_made(made);
    if (!clients) return tl::make_unexpected(std::move(clients.error()));
    return Derived(Parts{std::string(object), std::move(*clients), timeout});
  }

  explicit ProxyCore(Parts parts) : parts_(std::move(parts)) {}

  /// The name the object is served as.
  [[nodiscard]] const std::string& object() const noexcept { return parts_.object; }
  /// How long each call waits from now on (real, or virtual_timeout(…)).
  void set_timeout(CallTimeout timeout) noexcept { parts_.timeout = timeout; }
  [[nodiscard]] const CallTimeout& timeout() const noexcept { return parts_.timeout; }
  /// The client of method M (`Interface::name_method`): for call_async
  /// with its own server timeout, pending(), server().
  template <class M>
  [[nodiscard]] Client<typename M::Request, typename M::Response>& client() noexcept {
    return std::get<method_index<M, Ms...>()>(parts_.clients);
  }

 protected:
  template <class M>
  CallResponse<typename M::Response> forward_call(const typename M::Request& request) {
    auto& method = client<M>();
    return std::visit([&](auto timeout) { return method.call(request, timeout); }, parts_.timeout);
  }
  template <class M>
  CallResult<PendingCall<typename M::Response>> forward_call_async(const typename M::Request& request) {
    const auto server_timeout = std::holds_alternative<std::chrono::nanoseconds>(parts_.timeout)
                                    ? std::get<std::chrono::nanoseconds>(parts_.timeout)
                                    : std::chrono::nanoseconds(std::chrono::seconds(1));
    return client<M>().call_async(request, server_timeout);
  }

 private:
  Parts parts_;
};

/// Whether `Request{args...}` is well formed (the proxy's member calls that
/// take the request's fields).
template <class Request, class Void, class... Args>
struct BraceMakes : std::false_type {};
template <class Request, class... Args>
struct BraceMakes<Request, std::void_t<decltype(Request{std::declval<Args>()...})>, Args...> : std::true_type {};

/// The proxy's member call taking fields rather than a Request: not for one
/// argument that is already the request.
template <class Request, class First, class... Rest>
inline constexpr bool takes_fields_v =
    !(sizeof...(Rest) == 0 &&
      std::is_same_v<std::decay_t<First>, Request>)&&BraceMakes<Request, void, First, Rest...>::value;

}  // namespace statebus::detail
