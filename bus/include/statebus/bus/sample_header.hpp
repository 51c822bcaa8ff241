#pragma once
/// The header every sample carries in front of its payload.

#include <sys/types.h>

#include <cstdint>
#include <type_traits>

namespace statebus {

/// Written by the publisher at publish(); read-only for subscribers.
struct SampleHeader {
  /// 1 for a publisher's first sample, then one more for each; a subscriber
  /// that sees a gap lost samples in between.
  std::uint64_t sequence = 0;
  /// The publishing port, unique on the bus while the daemon runs.
  std::uint64_t publisher_port = 0;
  /// CLOCK_MONOTONIC at publish(), in nanoseconds.
  std::int64_t real_time_ns = 0;
  /// The publishing process.
  std::int32_t publisher_pid = 0;
  /// Bytes of payload that follow.
  std::uint32_t payload_size = 0;
};

static_assert(std::is_trivially_copyable_v<SampleHeader>);
static_assert(sizeof(SampleHeader) == 32, "SampleHeader is part of the shared-memory layout");

}  // namespace statebus
