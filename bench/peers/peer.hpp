#pragma once
// One side of a two-process round trip over some IPC library (peers_bench):
// the leader sends, the follower echoes. Every message has the payload size
// of the run; its first four bytes carry a sequence number, so that a late
// answer (a lossy transport's retry) is told from the one awaited.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace statebus::bench::peers {

enum class Role { leader, follower };

/// How a socket library's two sides are joined: one socket type on both
/// sides (ZeroMQ PAIR, nng pair0), or a request socket on the leader and a
/// reply socket on the follower (ZeroMQ REQ/REP, nng req0/rep0), whose
/// round trip is the library's own request and reply.
enum class Pattern { pair, request_reply };

/// What both sides of one run agree on: the payload size and a name unique
/// to the run (socket paths, channels and topics are made from it, so that
/// nothing of an earlier run reaches this one).
struct Endpoint {
  Role role;
  std::size_t size;
  std::string tag;
};

/// The sequence number that ends a follower's echo loop.
inline constexpr std::uint32_t kStop = 0xffffffffu;

inline void put_seq(void* payload, std::uint32_t seq) { std::memcpy(payload, &seq, sizeof seq); }
inline std::uint32_t get_seq(const void* payload) {
  std::uint32_t seq = 0;
  std::memcpy(&seq, payload, sizeof seq);
  return seq;
}

class Peer {
 public:
  Peer() = default;
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  virtual ~Peer() = default;

  /// Leader: waits until the follower's side is there, up to `timeout`. The
  /// first round trip may still be lost on a lossy transport: the leader
  /// retries it (see peers_bench).
  virtual bool connected(std::chrono::milliseconds /*timeout*/) { return true; }
  /// Sends one message of the payload size carrying `seq`.
  virtual bool send(std::uint32_t seq) = 0;
  /// The next message's sequence number, waiting up to `timeout` (asleep in
  /// the library's blocking receive, or spinning for a polling side).
  virtual std::optional<std::uint32_t> receive(std::chrono::milliseconds timeout) = 0;
  /// Follower: receives one message and sends it back; its sequence number.
  /// The libraries that can send a received message back as it is override it.
  virtual std::optional<std::uint32_t> echo(std::chrono::milliseconds timeout) {
    const auto seq = receive(timeout);
    if (seq && !send(*seq)) return std::nullopt;
    return seq;
  }
};

}  // namespace statebus::bench::peers
