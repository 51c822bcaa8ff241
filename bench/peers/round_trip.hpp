#pragma once
// Round trips through a Peer: the leader's timed round trip, its first one
// (retried), the stop message; the follower's echo loop. peers_bench runs
// them for every peer, service_bench for the request/reply sockets it puts
// beside its calls.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "peer.hpp"

namespace statebus::bench::peers {

/// A round trip not answered by then is lost (UDP).
inline constexpr std::chrono::milliseconds kLossTimeout{500};

/// One round trip carrying `seq`, in µs from before the send to the answer;
/// nothing when lost. Late answers of earlier round trips are dropped.
inline std::optional<double> round_trip_us(Peer& peer, std::uint32_t seq) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  if (!peer.send(seq)) return std::nullopt;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(start + kLossTimeout - Clock::now());
    const auto got = peer.receive(std::max(left, std::chrono::milliseconds(1)));
    if (!got) return std::nullopt;
    if (*got == seq) return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    if (Clock::now() - start > kLossTimeout) return std::nullopt;
  }
}

/// The first round trip, retried (each with the next of `seq`): on a lossy
/// transport it may go before both directions are up (Cyclone's discovery,
/// a multicast join).
inline bool first_round_trip(Peer& peer, std::uint32_t& seq) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (round_trip_us(peer, ++seq)) return true;
  }
  return false;
}

/// Leader: ends the follower's echo loop (kStop, sent until it comes back).
inline void stop(Peer& peer) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!peer.send(kStop)) return;
    for (auto got = peer.receive(std::chrono::seconds(1)); got; got = peer.receive(std::chrono::seconds(1))) {
      if (*got == kStop) return;
    }
  }
}

/// Follower: echoes until the stop message, or until nothing came for 30 s
/// (the leader gave up on the run without being able to say so).
inline void echo_until_stop(Peer& peer) {
  using Clock = std::chrono::steady_clock;
  auto last = Clock::now();
  while (Clock::now() - last < std::chrono::seconds(30)) {
    const auto seq = peer.echo(std::chrono::seconds(1));
    if (!seq) continue;
    if (*seq == kStop) return;
    last = Clock::now();
  }
}

}  // namespace statebus::bench::peers
