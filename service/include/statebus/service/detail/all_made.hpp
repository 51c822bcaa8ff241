#pragma once
/// all_made: the values of several Results made together, or the first error.

#include <optional>
#include <tuple>
#include <utility>

#include "statebus/base/error.hpp"

namespace statebus::detail {

/// The values of `made` (moved out), or the first of its errors: the
/// ports of an object's methods, made all or none (those made are dropped
/// with `made` when one failed).
template <class... T>
Result<std::tuple<T...>> all_made(std::tuple<Result<T>...>& made) {
  std::optional<Error> failed;
  std::apply([&](auto&... one) { ((failed || one ? void() : void(failed = one.error())), ...); }, made);
  if (failed) return tl::make_unexpected(std::move(*failed));
  return std::apply([](auto&... one) { return std::tuple<T...>(std::move(*one)...); }, made);
}

}  // namespace statebus::detail
