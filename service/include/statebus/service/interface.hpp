#pragma once
/// STATEBUS_INTERFACE: the methods of an object in another process, declared
/// once; Proxy<Interface>: its member calls, forwarded.
///
/// Example (a header every process includes):
///   struct Celsius { double value; };
///   STATEBUS_MESSAGE(Celsius, "home/Celsius", value);
///   struct Verdict { bool accepted; char reason[64]; };
///   STATEBUS_MESSAGE(Verdict, "home/Verdict", accepted, reason);
///
///   STATEBUS_INTERFACE(ThermostatApi,
///       (set_target, Celsius, Verdict),
///       (target, statebus::Nothing, Celsius));
///
/// The process that owns the object (ObjectServer, object_server.hpp):
///   auto server = ObjectServer<ThermostatApi>::create(*node, "home/thermostat");
///   serve(*loop, *server, thermostat);      // thermostat.set_target(const Celsius&) answers
///
/// Any other process:
///   auto thermostat = Proxy<ThermostatApi>::create(*node, "home/thermostat");
///   auto verdict = thermostat->set_target(21.5);   // CallResponse<Verdict>: read in place, or why not
///   auto now = thermostat->target();               // a Nothing request: no argument
///
/// Each method is a service of its own, `<object>/<method>` (its calls,
/// types and server visible in `statebus ls`, callable with `statebus
/// call home/thermostat/set_target value=21.5`), with everything a
/// service promises (service/README.md).

#include <string_view>
#include <type_traits>
#include <utility>

#include "statebus/base/describe.hpp"
#include "statebus/service/client.hpp"
#include "statebus/service/detail/method_list.hpp"
#include "statebus/service/detail/proxy_core.hpp"
#include "statebus/service/nothing.hpp"

namespace statebus {

/// The proxy of an interface: `Proxy<ThermostatApi>::create(node, "home/thermostat")`
/// gives Result<Proxy>, whose members are the interface's methods:
/// - `name(const Request&)` and `name(fields...)` (the request built as
///   `Request{fields...}`; no argument when Request is Nothing) call and
///   wait the proxy's timeout (one second of real time unless create()
///   or set_timeout() says otherwise), returning CallResponse<Response>;
/// - `name_async(const Request&)` sends and returns a PendingCall.
/// Thread safety: one thread at a time, as a Client (a proxy is one Client
/// per method). Method names may not be create, object, timeout,
/// set_timeout or client (the proxy's own members).
template <class Interface>
using Proxy = typename Interface::Proxy;

namespace detail {
constexpr bool is_proxy_member(std::string_view name) {
  return name == "create" || name == "object" || name == "timeout" || name == "set_timeout" || name == "client";
}
}  // namespace detail

}  // namespace statebus

#define STATEBUS_DETAIL_METHOD_TAG(Interface, method) STATEBUS_DETAIL_METHOD_TAG_ method
#define STATEBUS_DETAIL_METHOD_TAG_(Name, Req, Res)                                                            \
  struct Name##_method {                                                                                       \
    static_assert(!::statebus::detail::is_proxy_member(#Name),                                                 \
                  "a method may not be named create, object, timeout, set_timeout or client");                 \
    using Request = Req;                                                                                       \
    using Response = Res;                                                                                      \
    static constexpr const char* name() noexcept { return #Name; }                                             \
    template <class Object, class... Args>                                                                     \
    static auto invoke(Object& object, Args&&... args) -> decltype(object.Name(std::forward<Args>(args)...)) { \
      return object.Name(std::forward<Args>(args)...);                                                         \
    }                                                                                                          \
  };

#define STATEBUS_DETAIL_METHOD_TYPE(Interface, method) STATEBUS_DETAIL_METHOD_TYPE_ method
#define STATEBUS_DETAIL_METHOD_TYPE_(Name, Req, Res) , Name##_method

#define STATEBUS_DETAIL_METHOD_CALLS(Interface, method) STATEBUS_DETAIL_METHOD_CALLS_ method
#define STATEBUS_DETAIL_METHOD_CALLS_(Name, Req, Res)                                                     \
  ::statebus::CallResponse<Res> Name(const Req& request) { return forward_call<Name##_method>(request); } \
  template <class First, class... Rest,                                                                   \
            std::enable_if_t<::statebus::detail::takes_fields_v<Req, First, Rest...>, int> = 0>           \
  ::statebus::CallResponse<Res> Name(First&& first, Rest&&... rest) {                                     \
    return Name(Req{std::forward<First>(first), std::forward<Rest>(rest)...});                            \
  }                                                                                                       \
  template <class Request = Req, std::enable_if_t<std::is_same_v<Request, ::statebus::Nothing>, int> = 0> \
  ::statebus::CallResponse<Res> Name() {                                                                  \
    return Name(Request{});                                                                               \
  }                                                                                                       \
  ::statebus::CallResult<::statebus::PendingCall<Res>> Name##_async(const Req& request) {                 \
    return forward_call_async<Name##_method>(request);                                                    \
  }

/// Declares an interface: its name (a type) and its methods, each
/// `(name, Request, Response)` with described request and response types
/// (statebus::Nothing for none). Up to 32 methods. Use at namespace scope.
/// Makes `Interface::Proxy` (statebus::Proxy<Interface>), one tag type per
/// method (`Interface::name_method`), and `Interface::Methods`.
#define STATEBUS_INTERFACE(Interface, ...)                                                                         \
  struct Interface {                                                                                               \
    STATEBUS_DETAIL_FOR_EACH(STATEBUS_DETAIL_METHOD_TAG, Interface, __VA_ARGS__)                                   \
    using Methods = ::statebus::detail::MethodsAfter<void STATEBUS_DETAIL_FOR_EACH(STATEBUS_DETAIL_METHOD_TYPE,    \
                                                                                   Interface, __VA_ARGS__)>::type; \
    class Proxy : public ::statebus::detail::ProxyCore<Proxy, Methods> {                                           \
     public:                                                                                                       \
      using ::statebus::detail::ProxyCore<Proxy, Methods>::ProxyCore;                                              \
      STATEBUS_DETAIL_FOR_EACH(STATEBUS_DETAIL_METHOD_CALLS, Interface, __VA_ARGS__)                               \
    };                                                                                                             \
  }
