#pragma once
/// An spdlog sink that publishes every record on the bus's log channel.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "spdlog/sinks/base_sink.h"
#include "statebus/bus/log_record.hpp"
#include "statebus/bus/node.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/base/error.hpp"

namespace statebus {

/// Publishes each spdlog record (virtual and wall-clock time, pid, process
/// name, logger, level, text) on `statebus/log`.
///
/// Never blocks the caller on the bus: when no chunk is free the record is
/// dropped and counted, and the next record that gets through carries the
/// count (`dropped_before`). Texts longer than the daemon's largest payload
/// are cut. Thread-safe (spdlog's sink mutex); allocation-free per record
/// after the first.
class BusLogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  /// A sink publishing as `process_name` (default: the node's name).
  static Result<std::shared_ptr<BusLogSink>> create(const Node& node, std::string process_name = {});

  /// Records that could not be published so far.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_total_.load(std::memory_order_relaxed); }
  /// Waits (real time) until a subscriber of the log channel is connected,
  /// for a process whose first records must not go unheard. As
  /// Publisher::wait_for_subscribers.
  Waited wait_for_subscribers(std::chrono::nanoseconds timeout) const noexcept {
    return publisher_.wait_for_subscribers(timeout);
  }
  /// Records published so far.
  [[nodiscard]] std::uint64_t published() const noexcept { return published_.load(std::memory_order_relaxed); }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override {}

 private:
  BusLogSink(UntypedPublisher publisher, std::string process_name);
  UntypedPublisher publisher_;
  LogRecordHeader prototype_;
  std::uint32_t dropped_since_last_ = 0;
  std::atomic<std::uint64_t> dropped_total_{0};
  std::atomic<std::uint64_t> published_{0};
};

/// Adds one bus sink to the default logger and to every logger registered
/// with spdlog now, next to their own sinks, and returns it (give it to
/// loggers created later). Calling it again returns the same sink and adds
/// it where it is missing. Thread-safe. At exit it takes the sink out of every
/// logger again and destroys it while the bus is still mapped (a sink made with
/// BusLogSink::create must likewise be dropped before the process exits).
Result<std::shared_ptr<BusLogSink>> log_to_bus(const Node& node, std::string process_name = {});

}  // namespace statebus
