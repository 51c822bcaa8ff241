#pragma once
/// The one move-only loan under Loan<T>, UninitLoan<T> and BytesLoan: a
/// chunk lent by a publisher's port, given back when dropped, published
/// through the port that lent it. Internal: use the public loans.

#include <utility>

#include "statebus/bus/loan_error.hpp"

namespace statebus::detail {

struct PublisherCore;

/// Gives a loaned buffer back without publishing it. Safe after the owning
/// publisher moved or died (the core stays put while loans are out).
void release_loan(PublisherCore* core, void* payload) noexcept;
/// Publishes a loaned buffer through the port that lent it; one whose
/// publisher is gone goes back to the pool (LoanError::publisher_gone).
LoanResult<void> publish_loan(PublisherCore* core, void* payload) noexcept;

class LoanHandle {
 public:
  LoanHandle(void* payload, PublisherCore* port) noexcept : payload_(payload), port_(port) {}
  LoanHandle(LoanHandle&& other) noexcept
      : payload_(std::exchange(other.payload_, nullptr)), port_(other.port_) {}
  LoanHandle& operator=(LoanHandle&& other) noexcept {
    if (this != &other) {
      reset();
      payload_ = std::exchange(other.payload_, nullptr);
      port_ = other.port_;
    }
    return *this;
  }
  LoanHandle(const LoanHandle&) = delete;
  LoanHandle& operator=(const LoanHandle&) = delete;
  ~LoanHandle() { reset(); }

  [[nodiscard]] void* payload() const noexcept { return payload_; }
  [[nodiscard]] PublisherCore* port() const noexcept { return port_; }
  /// Publishes it (LoanError::empty when moved from or already sent).
  [[nodiscard]] LoanResult<void> publish() noexcept {
    if (payload_ == nullptr) return tl::make_unexpected(LoanError::empty);
    return publish_loan(port_, std::exchange(payload_, nullptr));
  }
  /// publish() through a publisher that must be the one that lent it:
  /// LoanError::foreign_loan (and the loan left as it was) when it is not.
  [[nodiscard]] LoanResult<void> publish_through(const PublisherCore* publisher) noexcept {
    if (payload_ != nullptr && port_ != publisher) return tl::make_unexpected(LoanError::foreign_loan);
    return publish();
  }
  void reset() noexcept {
    if (payload_ != nullptr) release_loan(port_, std::exchange(payload_, nullptr));
  }

 private:
  void* payload_;
  PublisherCore* port_;
};

}  // namespace statebus::detail
