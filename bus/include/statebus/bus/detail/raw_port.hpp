#pragma once
/// Untyped publisher and subscriber ports; Publisher<T> and Subscriber<T> are
/// thin typed layers over these. Internal: use the typed API.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "statebus/bus/node.hpp"
#include "statebus/bus/sample_header.hpp"
#include "statebus/error.hpp"

namespace statebus {

/// Options of a publisher.
struct PublisherOptions {
  /// Samples kept for subscribers that connect later (0–16).
  std::uint32_t history = 0;
};

/// Options of a subscriber.
struct SubscriberOptions {
  /// Samples queued before the oldest is dropped (1–256).
  std::uint32_t queue_depth = 256;
  /// Samples of the publishers' history to receive on connecting (0–16).
  std::uint32_t history = 0;
};

namespace detail {

struct PublisherCore;
struct SubscriberCore;

/// Gives a loaned buffer back without publishing it. Safe after the owning
/// RawPublisher moved (the core stays put).
void release_loan(PublisherCore* core, void* payload) noexcept;
/// Gives a taken sample back to the pool.
void release_sample(SubscriberCore* core, const void* payload) noexcept;

class RawPublisher {
 public:
  /// `payload_size` 0 means sizes vary per loan (checked at each loan).
  static Result<RawPublisher> create(const Node& node, std::string_view channel,
                                     std::uint32_t payload_size, std::uint32_t payload_align,
                                     const PublisherOptions& options);
  RawPublisher(RawPublisher&&) noexcept;
  RawPublisher& operator=(RawPublisher&&) noexcept;
  ~RawPublisher();

  /// A payload buffer in shared memory, or nullptr if the pools are
  /// exhausted or `size` does not fit the largest pool.
  [[nodiscard]] void* loan(std::uint32_t size, std::uint32_t align) noexcept;
  /// Stamps the header and delivers the loaned buffer.
  void publish(void* payload) noexcept;
  [[nodiscard]] PublisherCore* core() const noexcept { return impl_.get(); }
  [[nodiscard]] bool has_subscribers() const noexcept;
  /// Waits until at least one subscriber is connected or `timeout` passes.
  bool wait_for_subscribers(std::chrono::nanoseconds timeout) const noexcept;
  [[nodiscard]] const std::string& channel() const noexcept;
  [[nodiscard]] std::uint32_t max_payload() const noexcept;

 private:
  explicit RawPublisher(std::unique_ptr<PublisherCore> impl) noexcept;
  std::unique_ptr<PublisherCore> impl_;
};

/// What take() hands out: header and payload, valid until released.
struct RawSample {
  const SampleHeader* header = nullptr;
  const void* payload = nullptr;
};

class RawSubscriber {
 public:
  static Result<RawSubscriber> create(const Node& node, std::string_view channel,
                                      const SubscriberOptions& options);
  RawSubscriber(RawSubscriber&&) noexcept;
  RawSubscriber& operator=(RawSubscriber&&) noexcept;
  ~RawSubscriber();

  /// The oldest queued sample, or an empty RawSample if none.
  [[nodiscard]] RawSample take() noexcept;
  [[nodiscard]] SubscriberCore* core() const noexcept { return impl_.get(); }
  [[nodiscard]] bool has_data() const noexcept;
  /// Blocks until a sample is queued or `timeout` (real time) passes.
  bool wait(std::chrono::nanoseconds timeout) noexcept;
  [[nodiscard]] const std::string& channel() const noexcept;
  /// Samples refused because their size did not match the subscriber's type.
  [[nodiscard]] std::uint64_t refused() const noexcept;
  void count_refused() noexcept;

 private:
  explicit RawSubscriber(std::unique_ptr<SubscriberCore> impl) noexcept;
  std::unique_ptr<SubscriberCore> impl_;
};

}  // namespace detail
}  // namespace statebus
