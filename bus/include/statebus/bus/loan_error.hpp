#pragma once
/// What a hot-path call (loan, publish a copy) returns: the value, or a
/// LoanError saying why not. An enum, not an Error: a hot path never
/// allocates, not even for a message.

#include <string_view>

#include <tl/expected.hpp>

namespace statebus {

/// Why a loan (and so a publish of a copy) was not granted.
enum class LoanError {
  too_large,        ///< larger than the daemon's largest pool
  pools_exhausted,  ///< no free chunk of that size right now: subscribers hold them all, or the pools are too small
};

/// "too_large", "pools_exhausted".
constexpr std::string_view to_string(LoanError error) noexcept {
  switch (error) {
    case LoanError::too_large: return "too_large";
    case LoanError::pools_exhausted: return "pools_exhausted";
  }
  return "unknown";
}

/// A loan, a publish of a copy: T or why not.
template <class T>
using LoanResult = tl::expected<T, LoanError>;

}  // namespace statebus
