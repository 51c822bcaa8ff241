#pragma once
// ZeroMQ (libzmq through cppzmq): a PAIR socket over ipc://, the follower
// binds, the leader connects. Blocking receive; messages are built in place
// (zmq::message_t of the payload size) and the follower sends the received
// message back as it is.

#include <unistd.h>

#include <memory>
#include <string>

#include <zmq.hpp>

#include "peer.hpp"

namespace statebus::bench::peers {

class ZmqPeer final : public Peer {
 public:
  static std::unique_ptr<Peer> open(const Endpoint& endpoint, std::string& error) {
    try {
      return std::unique_ptr<Peer>(new ZmqPeer(endpoint));
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
  explicit ZmqPeer(const Endpoint& endpoint)
      : size_(endpoint.size), path_("/tmp/statebus-peers-zmq-" + endpoint.tag), socket_(context_, zmq::socket_type::pair) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndtimeo, 2000);  // a gone follower: no hang
    if (endpoint.role == Role::follower) {
      ::unlink(path_.c_str());
      socket_.bind("ipc://" + path_);
      bound_ = true;
    } else {
      socket_.connect("ipc://" + path_);
    }
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
