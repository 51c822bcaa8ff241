#pragma once
/// The options a publisher and a subscriber are created with.

#include <cstdint>

namespace statebus {

/// The most samples a publisher keeps as history, and a subscriber asks for.
inline constexpr std::uint32_t kMaxHistory = 16;  // iceoryx 2.0's MAX_PUBLISHER_HISTORY

/// Options of a publisher.
struct PublisherOptions {
  /// Samples kept for subscribers that connect later and ask for history
  /// (0–16). Each one holds a chunk of the daemon's pools.
  std::uint32_t history = 0;
  /// Never wait in publish(), not even for a lossless subscriber; lossless
  /// subscribers (recorders, tests) then cannot connect to this publisher.
  bool never_block = false;
};

/// Options of a subscriber.
struct SubscriberOptions {
  /// Samples queued before the oldest is dropped (1–256).
  std::uint32_t queue_depth = 256;
  /// Latest value on subscribe: receive up to this many samples each publisher
  /// sent before this subscriber existed (0–16; the publisher keeps as many
  /// as its own `history` option).
  std::uint32_t history = 0;
  /// Publishers wait for this subscriber instead of dropping samples when its
  /// queue is full. For recorders and tests; a slow lossless subscriber slows
  /// every publisher of the channel.
  bool lossless = false;
};

}  // namespace statebus
