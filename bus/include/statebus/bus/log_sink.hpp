#pragma once
/// An spdlog sink that writes every record into the bus's log.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "spdlog/details/null_mutex.h"
#include "spdlog/sinks/base_sink.h"
#include "statebus/base/error.hpp"
#include "statebus/bus/log_record.hpp"
#include "statebus/bus/node.hpp"

namespace statebus {

/// Writes each spdlog record (virtual and wall-clock time, pid, process
/// name, logger, level, text) into this process's log ring on the bus
/// (`statebus/log` to the recorder and `statebus log`).
///
/// A record is in the bus's shared memory when the call returns: a process
/// SIGKILLed right after it loses none of its records. Never blocks and
/// makes no system call unless a log reader sleeps (then one wake-up per
/// burst); when readers fall a whole ring behind (~500 records), the oldest
/// records are overwritten and the readers count the gap. Texts longer than
/// 8 KiB are cut. Thread-safe (the process's ring takes one record at a
/// time, whatever the sinks and threads); allocation-free per record.
class BusLogSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  /// A sink writing as `process_name` (default: the node's name). Fails with
  /// no_daemon (the bus has no log segment) or out_of_resources (every log
  /// ring of the bus is held by a live process).
  static Result<std::shared_ptr<BusLogSink>> create(const Node& node, std::string process_name = {});

  /// Records that could not be written (this process lost its place on the
  /// bus: a child forked from the process that made the sink).
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_total_.load(std::memory_order_relaxed); }
  /// Records written so far.
  [[nodiscard]] std::uint64_t published() const noexcept { return published_.load(std::memory_order_relaxed); }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override {}

 private:
  explicit BusLogSink(std::string process_name);
  LogRecordHeader prototype_;  // the process's name and pid; never changed after construction
  std::atomic<std::uint32_t> dropped_since_last_{0};
  std::atomic<std::uint64_t> dropped_total_{0};
  std::atomic<std::uint64_t> published_{0};
};

/// Adds one bus sink to the default logger and to every logger registered
/// with spdlog now, next to their own sinks, and returns it (give it to
/// loggers created later). Calling it again returns the same sink and adds
/// it where it is missing. Thread-safe. At exit it takes the sink out of every
/// logger again and destroys it.
Result<std::shared_ptr<BusLogSink>> log_to_bus(const Node& node, std::string process_name = {});

}  // namespace statebus
