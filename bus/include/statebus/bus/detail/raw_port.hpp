#pragma once
/// Untyped publisher and subscriber ports; the typed and untyped public
/// classes are thin layers over these. Internal: use the public API.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/base/schema.hpp"
#include "statebus/base/waited.hpp"
#include "statebus/bus/detail/loan_handle.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/port_options.hpp"
#include "statebus/bus/publisher_status.hpp"
#include "statebus/bus/sample_header.hpp"
#include "statebus/bus/spin.hpp"
#include "statebus/clock/virtual_clock.hpp"

namespace statebus::detail {

struct PublisherCore;
struct SubscriberCore;

/// The header of a loaned, not yet published payload: the fields publish()
/// keeps (flags, reply_to) may be set here. Internal: for the service module.
SampleHeader& loaned_header(void* payload) noexcept;

/// Gives a taken sample back to the pool.
void release_sample(SubscriberCore* core, const void* payload) noexcept;

class RawPublisher {
 public:
  /// `payload_size` 0 means sizes vary per loan (checked at each loan).
  /// With a schema, its fingerprint goes into every header and, unless
  /// `declare` is false, the schema is declared in the bus's table of
  /// channel types (a service's reply channels, one per client, are
  /// declared once for all under the service's name instead).
  static Result<RawPublisher> create(const Node& node, std::string_view channel, std::uint32_t payload_size,
                                     std::uint32_t payload_align, const Schema* schema, const PublisherOptions& options,
                                     bool declare = true);
  RawPublisher(RawPublisher&&) noexcept;
  RawPublisher& operator=(RawPublisher&&) noexcept;
  /// Sends a goodbye, so subscribers learn at once that it stopped.
  ~RawPublisher();

  /// A payload buffer in shared memory, or nullptr if the pools are
  /// exhausted or `size` does not fit the largest pool.
  [[nodiscard]] void* loan(std::uint32_t size, std::uint32_t align) noexcept;
  /// Stamps the header and delivers the loaned buffer.
  void publish(void* payload) noexcept;
  [[nodiscard]] PublisherCore* core() const noexcept { return impl_.get(); }
  [[nodiscard]] bool has_subscribers() const noexcept;
  /// Waits until at least one subscriber is connected or `timeout` passes;
  /// fails once the bus is gone.
  Waited wait_for_subscribers(std::chrono::nanoseconds timeout) const noexcept;
  [[nodiscard]] const std::string& channel() const noexcept;
  [[nodiscard]] std::uint32_t max_payload() const noexcept;
  [[nodiscard]] std::uint64_t published() const noexcept;
  /// Leaves `n` sequence numbers unused: subscribers count n samples lost.
  void skip(std::uint64_t n) noexcept;
  /// The port number its samples carry in SampleHeader::publisher_port.
  [[nodiscard]] std::uint64_t port_id() const noexcept;

 private:
  explicit RawPublisher(std::unique_ptr<PublisherCore> impl) noexcept;
  std::unique_ptr<PublisherCore> impl_;
};

/// What take() hands out: header and payload, valid until released.
struct RawSample {
  const SampleHeader* header = nullptr;
  const void* payload = nullptr;
};

/// RawSubscriber::take() on the port itself, which stays put while its
/// RawSubscriber moves: for those that keep a port beyond a call (EventLoop).
RawSample take_sample(SubscriberCore* subscriber) noexcept;

/// Owns a taken sample until destroyed, then gives it back to the pool.
/// Move-only; the base of Sample<T> and BytesSample.
class TakenSample {
 public:
  TakenSample(RawSample raw, SubscriberCore* port) noexcept : raw_(raw), port_(port) {}
  TakenSample(TakenSample&& other) noexcept : raw_(std::exchange(other.raw_, RawSample{})), port_(other.port_) {}
  TakenSample& operator=(TakenSample&& other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, RawSample{});
      port_ = other.port_;
    }
    return *this;
  }
  TakenSample(const TakenSample&) = delete;
  TakenSample& operator=(const TakenSample&) = delete;
  ~TakenSample() { reset(); }

  [[nodiscard]] const RawSample& raw() const noexcept { return raw_; }

 private:
  void reset() noexcept {
    if (raw_.payload != nullptr) release_sample(port_, std::exchange(raw_, RawSample{}).payload);
  }
  RawSample raw_;
  SubscriberCore* port_;
};

class RawSubscriber {
 public:
  /// `expected` (may be null): the schema this subscriber reads; samples
  /// with another fingerprint are refused. Null accepts any payload.
  static Result<RawSubscriber> create(const Node& node, std::string_view channel, const Schema* expected,
                                      const SubscriberOptions& options);
  RawSubscriber(RawSubscriber&&) noexcept;
  RawSubscriber& operator=(RawSubscriber&&) noexcept;
  ~RawSubscriber();

  /// The oldest queued data sample, or an empty RawSample if none. Counts
  /// sequence gaps, notes goodbyes, refuses samples of another type.
  [[nodiscard]] RawSample take() noexcept;
  [[nodiscard]] SubscriberCore* core() const noexcept { return impl_.get(); }
  [[nodiscard]] bool has_data() const noexcept;
  /// Waits until the daemon connected this subscriber to its channel
  /// (publishers or not); fails once the bus is gone.
  Waited wait_connected(std::chrono::nanoseconds timeout) const noexcept;
  /// Blocks until a sample is queued or `timeout` passes (real time); spins
  /// first as `spin` says (see Spin). Fails once the bus is gone (looked at
  /// before blocking and every kBusCheck of blocking).
  Waited wait(std::chrono::nanoseconds timeout, Spin spin) noexcept;
  /// Blocks until a sample is queued or the bus's virtual time reaches
  /// `deadline`, however it gets there (rate, pause, step); fails once the
  /// bus is gone (looked at whenever a slice of its sleep passes unwoken).
  Waited wait_until(VirtualClock::time_point deadline) noexcept;
  /// How often a long wait looks whether its bus is still there.
  static constexpr std::chrono::milliseconds kBusCheck{100};
  [[nodiscard]] const std::string& channel() const noexcept;
  [[nodiscard]] std::uint64_t refused() const noexcept;
  [[nodiscard]] std::uint64_t lost() const noexcept;
  [[nodiscard]] std::vector<PublisherStatus> publishers() const;
  /// Why samples were refused, naming both types, if any were.
  [[nodiscard]] std::optional<Error> type_error() const;

 private:
  explicit RawSubscriber(std::unique_ptr<SubscriberCore> impl) noexcept;
  // True once data is queued, false once `timeout` passed: the spin and
  // the first block of wait().
  bool wait_for_data(std::chrono::nanoseconds timeout, Spin spin) noexcept;
  // Blocks until data is queued (true) or `deadline` passes (false).
  bool block_until(std::chrono::steady_clock::time_point deadline) noexcept;
  std::unique_ptr<SubscriberCore> impl_;
};

}  // namespace statebus::detail
