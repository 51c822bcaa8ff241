#pragma once
// nng over ipc://: a pair0 socket on each side, or req0 on the leader and
// rep0 on the follower (Pattern::request_reply); the follower listens, the
// leader dials (nng's blocking dial fails at once when nobody listens yet:
// the leader dials after the follower's "ready"). Blocking receive; messages
// are built in place (nng_msg) and the follower sends the received message
// back (rep0 routes it by the request it answers). A req0 receive that times
// out abandons its request; the next send starts a new one.

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "peer.hpp"

namespace statebus::bench::peers {

class NngPeer final : public Peer {
 public:
  static std::unique_ptr<Peer> open(const Endpoint& endpoint, std::string& error, Pattern pattern = Pattern::pair) {
    std::unique_ptr<NngPeer> peer(new NngPeer(endpoint.size));
    const std::string path = "/tmp/statebus-peers-nng-" + endpoint.tag;
    const std::string url = "ipc://" + path;
    const bool leader = endpoint.role == Role::leader;
    int (*const open_socket)(nng_socket*) = pattern == Pattern::pair ? nng_pair0_open
                                            : leader                 ? nng_req0_open
                                                                     : nng_rep0_open;
    int rv = open_socket(&peer->socket_);
    if (rv == 0) {
      peer->open_ = true;
      rv = nng_socket_set_size(peer->socket_, NNG_OPT_RECVMAXSZ, 0);  // no receive size limit
    }
    if (rv == 0) rv = nng_socket_set_ms(peer->socket_, NNG_OPT_SENDTIMEO, 2000);  // a gone follower: no hang
    if (rv == 0) {
      if (!leader) {
        ::unlink(path.c_str());
        rv = nng_listen(peer->socket_, url.c_str(), nullptr, 0);
      } else {
        rv = nng_dial(peer->socket_, url.c_str(), nullptr, 0);
      }
    }
    if (rv != 0) {
      error = std::string("nng: ") + nng_strerror(rv);
      return nullptr;
    }
    return peer;
  }
  ~NngPeer() override {
    if (open_) nng_close(socket_);
  }

  bool send(std::uint32_t seq) override {
    nng_msg* message = nullptr;
    if (nng_msg_alloc(&message, size_) != 0) return false;
    put_seq(nng_msg_body(message), seq);
    if (nng_sendmsg(socket_, message, 0) != 0) {
      nng_msg_free(message);
      return false;
    }
    return true;
  }
  std::optional<std::uint32_t> receive(std::chrono::milliseconds timeout) override {
    nng_msg* message = take(timeout);
    if (message == nullptr) return std::nullopt;
    const std::uint32_t seq = get_seq(nng_msg_body(message));
    nng_msg_free(message);
    return seq;
  }
  std::optional<std::uint32_t> echo(std::chrono::milliseconds timeout) override {
    nng_msg* message = take(timeout);
    if (message == nullptr) return std::nullopt;
    const std::uint32_t seq = get_seq(nng_msg_body(message));
    if (nng_sendmsg(socket_, message, 0) != 0) {  // on success nng owns the message
      nng_msg_free(message);
      return std::nullopt;
    }
    return seq;
  }

 private:
  explicit NngPeer(std::size_t size) : size_(size) {}
  nng_msg* take(std::chrono::milliseconds timeout) {
    if (timeout != timeout_) {
      nng_socket_set_ms(socket_, NNG_OPT_RECVTIMEO, static_cast<nng_duration>(timeout.count()));
      timeout_ = timeout;
    }
    nng_msg* message = nullptr;
    if (nng_recvmsg(socket_, &message, 0) != 0) return nullptr;
    if (nng_msg_len(message) < sizeof(std::uint32_t)) {
      nng_msg_free(message);
      return nullptr;
    }
    return message;
  }

  std::size_t size_;
  nng_socket socket_ = NNG_SOCKET_INITIALIZER;
  bool open_ = false;
  std::chrono::milliseconds timeout_{-1};
};

}  // namespace statebus::bench::peers
