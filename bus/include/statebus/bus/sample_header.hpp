#pragma once
/// The header every sample carries in front of its payload.

#include <sys/types.h>

#include <cstdint>
#include <type_traits>

#include "statebus/base/process.hpp"

namespace statebus {

/// Written by the publisher at publish(); read-only for subscribers.
struct SampleHeader {
  /// 1 for a publisher's first sample, then one more for each; a gap means
  /// samples were lost in between (counted by the subscriber).
  std::uint64_t sequence = 0;
  /// The publishing port, unique on the bus while the daemon runs.
  std::uint64_t publisher_port = 0;
  /// Start time of the publishing process (with the pid: its identity).
  std::uint64_t publisher_start_time = 0;
  /// CLOCK_MONOTONIC when the publisher was created: a subscriber older than
  /// the publisher counts every missing sample from the first one as lost.
  std::int64_t publisher_created_ns = 0;
  /// CLOCK_MONOTONIC at publish(), in nanoseconds.
  std::int64_t real_time_ns = 0;
  /// The bus's VirtualClock at publish(), in nanoseconds (computed from the
  /// same clock reading as real_time_ns; equal to it until someone changes
  /// the clock's mode or rate).
  std::int64_t virtual_time_ns = 0;
  /// Fingerprint of the payload's schema; 0 for bytes without a schema.
  std::uint64_t fingerprint = 0;
  /// The publishing process.
  std::int32_t publisher_pid = 0;
  /// Bytes of payload that follow.
  std::uint32_t payload_size = 0;
  /// kGoodbye: the publisher stopped cleanly; no payload (never handed out).
  std::uint32_t flags = 0;
  /// A service's reply: the low 32 bits of the sequence number of the call
  /// it answers (service/README.md); 0 on every other sample. Set between
  /// loan and publish (detail::loaned_header); publish() keeps it.
  std::uint32_t reply_to = 0;

  static constexpr std::uint32_t kGoodbye = 1;

  /// The publishing process as a ProcessId.
  [[nodiscard]] ProcessId publisher() const noexcept { return {publisher_pid, publisher_start_time}; }
};

static_assert(std::is_trivially_copyable_v<SampleHeader>);
static_assert(sizeof(SampleHeader) == 72, "SampleHeader is part of the shared-memory layout");
static_assert(alignof(SampleHeader) == 8);

}  // namespace statebus
