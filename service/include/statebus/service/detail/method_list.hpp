#pragma once
/// The methods of an interface (STATEBUS_INTERFACE), as a list of types.

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace statebus::detail {

/// The methods M... of an interface; each M has Request, Response, name()
/// and invoke(object, args...) (STATEBUS_INTERFACE makes them).
template <class... Ms>
struct MethodList {};

/// MethodList<Ms...> from `void, Ms...`: the macro writes a leading void
/// so that every method adds ", M".
template <class Void, class... Ms>
struct MethodsAfter {
  static_assert(std::is_void_v<Void>);
  using type = MethodList<Ms...>;
};

/// The position of M among Ms.
template <class M, class... Ms>
constexpr std::size_t method_index() {
  constexpr bool found[] = {std::is_same_v<M, Ms>...};
  for (std::size_t i = 0; i < sizeof...(Ms); ++i) {
    if (found[i]) return i;
  }
  return sizeof...(Ms);
}

/// The service that carries method M of the object named `object`: "<object>/<method>".
template <class M>
std::string method_service(std::string_view object) {
  std::string service(object);
  service += '/';
  service += M::name();
  return service;
}

}  // namespace statebus::detail
