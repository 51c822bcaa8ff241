#pragma once
// The request/reply sockets of the peer libraries this build has
// (STATEBUS_PEERS_ZMQ, STATEBUS_PEERS_NNG): ZeroMQ REQ/REP and nng
// req0/rep0 over ipc://, by name ("zeromq_reqrep", "nng_reqrep").
// service_bench puts them beside its blocking calls.

#include <memory>
#include <string>
#include <vector>

#include "peer.hpp"
#ifdef STATEBUS_PEERS_ZMQ
#include "zmq_peer.hpp"
#endif
#ifdef STATEBUS_PEERS_NNG
#include "nng_peer.hpp"
#endif

namespace statebus::bench::peers {

/// The names of the request/reply peers compiled in (none without ZeroMQ and nng).
inline std::vector<std::string> request_reply_peers() {
  std::vector<std::string> names;
#ifdef STATEBUS_PEERS_ZMQ
  names.emplace_back("zeromq_reqrep");
#endif
#ifdef STATEBUS_PEERS_NNG
  names.emplace_back("nng_reqrep");
#endif
  return names;
}

/// One side of the request/reply peer `name`: a request socket for the
/// leader, a reply socket for the follower; null and `error` set on failure.
inline std::unique_ptr<Peer> open_request_reply(const std::string& name, [[maybe_unused]] const Endpoint& endpoint,
                                                std::string& error) {
#ifdef STATEBUS_PEERS_ZMQ
  if (name == "zeromq_reqrep") return ZmqPeer::open(endpoint, error, Pattern::request_reply);
#endif
#ifdef STATEBUS_PEERS_NNG
  if (name == "nng_reqrep") return NngPeer::open(endpoint, error, Pattern::request_reply);
#endif
  error = "no request/reply peer " + name + " in this build";
  return nullptr;
}

}  // namespace statebus::bench::peers
