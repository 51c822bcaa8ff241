#pragma once
/// What a subscriber knows about each publisher it has heard from.

#include <cstdint>
#include <string_view>

#include "statebus/base/process.hpp"

namespace statebus {

/// What a subscriber knows about one publisher it has heard from.
enum class PublisherState {
  alive,    ///< the process runs and the publisher has not said goodbye
  stopped,  ///< the publisher was destroyed cleanly (its goodbye arrived)
  gone,     ///< the process ended without a goodbye (crash, SIGKILL)
};

/// A publisher as one subscriber sees it.
struct PublisherStatus {
  ProcessId process;
  std::uint64_t port = 0;
  std::uint64_t fingerprint = 0;
  std::uint64_t last_sequence = 0;
  std::uint64_t lost = 0;  ///< samples missing from its sequence
  PublisherState state = PublisherState::alive;
};

std::string_view to_string(PublisherState state) noexcept;

}  // namespace statebus
