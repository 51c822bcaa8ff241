#pragma once
/// What a hot-path call (loan, publish a copy) returns: the value, or a
/// LoanError saying why not. An enum, not an Error: a hot path never
/// allocates, not even for a message.

#include <string_view>

#include <tl/expected.hpp>

namespace statebus {

/// Why a loan (and so a publish of a copy, or of a loan) did not happen.
enum class LoanError {
  payload_too_large,  ///< larger than the daemon's largest pool (as Errc::payload_too_large)
  pools_exhausted,    ///< no free chunk of that size right now: subscribers hold them all, or the pools are too small
  foreign_loan,       ///< publish(loan) on a publisher that did not lend it: the loan is left as it was
  publisher_gone,     ///< the publisher that lent it was destroyed (or replaced): it went back to the pool unsent
  empty,              ///< the loan was moved from or already published: nothing was sent
  too_large [[deprecated("LoanError::payload_too_large, as Errc::payload_too_large")]] = payload_too_large,
};

/// "payload_too_large", "pools_exhausted", "foreign_loan", "publisher_gone", "empty".
constexpr std::string_view to_string(LoanError error) noexcept {
  switch (error) {
    case LoanError::payload_too_large: return "payload_too_large";
    case LoanError::pools_exhausted: return "pools_exhausted";
    case LoanError::foreign_loan: return "foreign_loan";
    case LoanError::publisher_gone: return "publisher_gone";
    case LoanError::empty: return "empty";
  }
  return "unknown";
}

/// A loan, a publish: T or why not.
template <class T>
using LoanResult = tl::expected<T, LoanError>;

}  // namespace statebus
