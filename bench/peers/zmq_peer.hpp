#pragma once
// ZeroMQ (libzmq through cppzmq) over ipc://: a PAIR socket on each side, or
// REQ on the leader and REP on the follower (Pattern::request_reply); the
// follower binds, the leader connects. Blocking receive; messages are built
// in place (zmq::message_t of the payload size) and the follower sends the
// received message back as it is. The REQ socket is relaxed and correlated
// (ZMQ_REQ_RELAXED, ZMQ_REQ_CORRELATE: one 4-byte request id more per
// message), as nng's req0 always is: a round trip the leader gives up on
// (kLossTimeout) does not leave a strict REQ unable to send, which cppzmq
// would throw on, and a late reply to it is dropped.

#include <unistd.h>

#include <memory>
#include <string>

#include <zmq.hpp>

#include "peer.hpp"

namespace statebus::bench::peers {

class ZmqPeer final : public Peer {
 public:
  static std::unique_ptr<Peer> open(const Endpoint& endpoint, std::string& error, Pattern pattern = Pattern::pair) {
    try {
      return std::unique_ptr<Peer>(new ZmqPeer(endpoint, pattern));
    } catch (const zmq::error_t& e) {
      error = std::string("zeromq: ") + e.what();
      return nullptr;
    }
  }
  ~ZmqPeer() override {
    socket_.close();
    if (bound_) ::unlink(path_.c_str());  // an ipc:// socket file outlives its socket
  }

  bool send(std::uint32_t seq) override {
    zmq::message_t message(size_);
    put_seq(message.data(), seq);
    return socket_.send(message, zmq::send_flags::none).has_value();
  }
  std::optional<std::uint32_t> receive(std::chrono::milliseconds timeout) override {
    set_timeout(timeout);
    zmq::message_t message;
    if (!socket_.recv(message, zmq::recv_flags::none) || message.size() < sizeof(std::uint32_t)) return std::nullopt;
    return get_seq(message.data());
  }
  std::optional<std::uint32_t> echo(std::chrono::milliseconds timeout) override {
    set_timeout(timeout);
    zmq::message_t message;
    if (!socket_.recv(message, zmq::recv_flags::none) || message.size() < sizeof(std::uint32_t)) return std::nullopt;
    const std::uint32_t seq = get_seq(message.data());
    if (!socket_.send(message, zmq::send_flags::none)) return std::nullopt;
    return seq;
  }

 private:
  ZmqPeer(const Endpoint& endpoint, Pattern pattern)
      : size_(endpoint.size),
        path_("/tmp/statebus-peers-zmq-" + endpoint.tag),
        socket_(context_, socket_type(endpoint.role, pattern)) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndtimeo, 2000);  // a gone follower: no hang
    if (pattern == Pattern::request_reply && endpoint.role == Role::leader) {
      socket_.set(zmq::sockopt::req_relaxed, 1);
      socket_.set(zmq::sockopt::req_correlate, 1);
    }
    if (endpoint.role == Role::follower) {
      ::unlink(path_.c_str());
      socket_.bind("ipc://" + path_);
      bound_ = true;
    } else {
      socket_.connect("ipc://" + path_);
    }
  }
  static zmq::socket_type socket_type(Role role, Pattern pattern) {
    if (pattern == Pattern::pair) return zmq::socket_type::pair;
    return role == Role::leader ? zmq::socket_type::req : zmq::socket_type::rep;
  }
  void set_timeout(std::chrono::milliseconds timeout) {
    const int ms = static_cast<int>(timeout.count());
    if (ms != timeout_ms_) {  // a socket option is a call into the library: only when it changes
      socket_.set(zmq::sockopt::rcvtimeo, ms);
      timeout_ms_ = ms;
    }
  }

  std::size_t size_;
  std::string path_;
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  bool bound_ = false;
  int timeout_ms_ = -1;
};

}  // namespace statebus::bench::peers
