#pragma once
/// ObjectServer<Interface>: hosts a plain C++ object behind an interface
/// (STATEBUS_INTERFACE), each method answered by the object's member of
/// the same name.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "statebus/base/error.hpp"
#include "statebus/bus/event_loop.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/service/detail/all_made.hpp"
#include "statebus/service/detail/method_list.hpp"
#include "statebus/service/reply.hpp"
#include "statebus/service/server.hpp"

namespace statebus {

template <class Interface>
class ObjectServer;

/// Answers every method of `server` on `loop`'s thread with `object`'s
/// member of the method's name, one call at a time, in arrival order. The
/// member takes the request, `(const Request&)`, or nothing when it needs
/// none, `()`, and returns the Response, a Reply<Response>
/// (`return refuse("why");` refuses the call), or void (answers
/// Response{}: for a Nothing response); or it writes the response in
/// place, `(const Request&, Response&)`, returning void or Reply<void>.
/// A member that throws refuses its call with the exception's text (the
/// server keeps serving, as serve(loop, server, handler)). `object` must
/// outlive the loop's serving (the loop keeps a reference). Fails as
/// EventLoop::on does (64 subscribers: one per method); the methods
/// before the one that failed stay served.
template <class Interface, class Object>
Result<void> serve(EventLoop& loop, ObjectServer<Interface>& server, Object& object);

namespace detail {

template <class M, class Object, class Void, class... Args>
struct MemberTakes : std::false_type {};
template <class M, class Object, class... Args>
struct MemberTakes<M, Object, std::void_t<decltype(M::invoke(std::declval<Object&>(), std::declval<Args>()...))>,
                   Args...> : std::true_type {};
template <class M, class Object, class... Args>
inline constexpr bool member_takes_v = MemberTakes<M, Object, void, Args...>::value;

template <class M>
inline constexpr bool dependent_false_v = false;

/// What a member returned, as the reply to its call.
template <class Res, class Result, class Call>
Reply<Res> reply_of(Call&& call) {
  if constexpr (std::is_void_v<Result>) {
    std::forward<Call>(call)();
    return Res{};
  } else {
    static_assert(std::is_convertible_v<Result, Reply<Res>>,
                  "the member must return the method's Response, Reply<Response>, a Refusal, or void");
    return std::forward<Call>(call)();
  }
}

/// The handler serve(loop, server, handler) gets for method M of `object`.
template <class M, class Object>
auto member_handler(Object& object) {
  using Req = typename M::Request;
  using Res = typename M::Response;
  if constexpr (member_takes_v<M, Object, const Req&, Res&>) {
    return [&object](const Req& request, Res& response) -> Reply<void> {
      using Result = decltype(M::invoke(object, request, response));
      if constexpr (std::is_void_v<Result>) {
        M::invoke(object, request, response);
        return {};
      } else {
        static_assert(std::is_convertible_v<Result, Reply<void>>,
                      "a member writing its response in place must return void or Reply<void>");
        return M::invoke(object, request, response);
      }
    };
  } else if constexpr (member_takes_v<M, Object, const Req&>) {
    return [&object](const Req& request) -> Reply<Res> {
      return reply_of<Res, decltype(M::invoke(object, request))>([&] { return M::invoke(object, request); });
    };
  } else if constexpr (member_takes_v<M, Object>) {
    return [&object](const Req& /*request*/) -> Reply<Res> {
      return reply_of<Res, decltype(M::invoke(object))>([&] { return M::invoke(object); });
    };
  } else {
    static_assert(dependent_false_v<M>,
                  "the object has no member of the method's name taking (const Request&), (const Request&, "
                  "Response&) or ()");
    return 0;
  }
}

template <class Methods>
struct ObjectServers;

/// One Server per method, made and served together.
template <class... Ms>
struct ObjectServers<MethodList<Ms...>> {
  using Servers = std::tuple<Server<typename Ms::Request, typename Ms::Response>...>;

  static Result<Servers> create(const Node& node, std::string_view object) {
    auto made = std::make_tuple(
        Server<typename Ms::Request, typename Ms::Response>::create(node, method_service<Ms>(object))...);
    return all_made(made);
  }

  template <class Object>
  static Result<void> serve(EventLoop& loop, Servers& servers, Object& object) {
    Result<void> served;
    auto serve_one = [&](auto& method_server, auto handler) {
      if (served) served = statebus::serve(loop, method_server, std::move(handler));
    };
    (serve_one(std::get<method_index<Ms, Ms...>()>(servers), member_handler<Ms>(object)), ...);
    return served;
  }
};

}  // namespace detail

/// The server of an object: one Server per method of Interface, each on
/// its service `<object>/<method>`, all claimed at create.
///
/// Example:
///   struct Thermostat {            // a plain object: no base, no macro
///     Verdict set_target(const Celsius& c) { … }
///     Celsius target() const { return {target_}; }
///   };
///   Thermostat thermostat;
///   auto server = ObjectServer<ThermostatApi>::create(*node, "home/thermostat");
///   serve(*loop, *server, thermostat);
///   loop->run();
///
/// Thread safety and failure: those of Server, for each method.
template <class Interface>
class ObjectServer {
  using Parts = detail::ObjectServers<typename Interface::Methods>;

 public:
  /// Serves an object as `object` (a channel name): claims the service of
  /// each method. Fails as Server::create does for any method
  /// (Errc::already_running naming the process that serves it,
  /// Errc::type_mismatch naming both types, Errc::payload_too_large,
  /// Errc::invalid_argument for a bad name), the message naming the
  /// method's service; then no method is claimed.
  static Result<ObjectServer> create(const Node& node, std::string_view object) {
    auto servers = Parts::create(node, object);
    if (!servers) return tl::make_unexpected(std::move(servers.error()));
    return ObjectServer(std::string(object), std::move(*servers));
  }

  [[nodiscard]] const std::string& object() const noexcept { return object_; }
  /// Calls answered with a response so far, over every method.
  [[nodiscard]] std::uint64_t answered() const noexcept {
    return std::apply([](const auto&... server) { return (std::uint64_t{0} + ... + server.answered()); }, servers_);
  }
  /// Calls refused so far (by a member, or because it threw), over every method.
  [[nodiscard]] std::uint64_t refused() const noexcept {
    return std::apply([](const auto&... server) { return (std::uint64_t{0} + ... + server.refused()); }, servers_);
  }

 private:
  template <class I, class O>
  friend Result<void> serve(EventLoop&, ObjectServer<I>&, O&);
  ObjectServer(std::string object, typename Parts::Servers servers)
      : object_(std::move(object)), servers_(std::move(servers)) {}

  std::string object_;
  typename Parts::Servers servers_;
};

template <class Interface, class Object>
Result<void> serve(EventLoop& loop, ObjectServer<Interface>& server, Object& object) {
  return ObjectServer<Interface>::Parts::serve(loop, server.servers_, object);
}

}  // namespace statebus
