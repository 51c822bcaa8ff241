#pragma once
// LCM: raw bytes with lcm_publish over its UDP multicast, as LCM runs on one
// machine. Only inside a private network namespace whose one interface is
// `lo` (loopback_network.hpp): nothing can leave the machine, and ttl=0.
// A receive buffer of 4 MiB keeps the fragments of 1 MiB and 4 MiB messages
// (the default 212 KB loses some). Each side also receives, and drops, its
// own messages (multicast loops back to every member of the group); UDP may
// lose a message: the leader's receive has a timeout and retries.

#include <lcm/lcm.h>

#include <memory>
#include <string>
#include <vector>

#include "peer.hpp"

namespace statebus::bench::peers {

class LcmPeer final : public Peer {
 public:
  static constexpr const char* kUrl = "udpm://239.255.76.67:7667?ttl=0&recv_buf_size=4194304";

  static std::unique_ptr<Peer> open(const Endpoint& endpoint, std::string& error) {
    std::unique_ptr<LcmPeer> peer(new LcmPeer(endpoint));
    peer->lcm_ = lcm_create(kUrl);
    if (peer->lcm_ == nullptr) {
      error = "lcm: lcm_create failed (no multicast route?)";
      return nullptr;
    }
    // Subscribing opens and joins the receive socket: after it, nothing sent is missed.
    if (lcm_subscribe(peer->lcm_, peer->in_.c_str(), &LcmPeer::on_message, peer.get()) == nullptr) {
      error = "lcm: lcm_subscribe failed";
      return nullptr;
    }
    return peer;
  }
  ~LcmPeer() override {
    if (lcm_ != nullptr) lcm_destroy(lcm_);
  }

  bool send(std::uint32_t seq) override {
    put_seq(buffer_.data(), seq);
    return lcm_publish(lcm_, out_.c_str(), buffer_.data(), static_cast<unsigned int>(buffer_.size())) == 0;
  }
  std::optional<std::uint32_t> receive(std::chrono::milliseconds timeout) override {
    received_.reset();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!received_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      // The socket also delivers this side's own messages: those are dropped
      // here (another channel) and the wait goes on.
      if (lcm_handle_timeout(lcm_, static_cast<int>(left.count())) < 0) return std::nullopt;
    }
    return received_;
  }

 private:
  explicit LcmPeer(const Endpoint& endpoint)
      : out_((endpoint.role == Role::leader ? "PING_" : "PONG_") + endpoint.tag),
        in_((endpoint.role == Role::leader ? "PONG_" : "PING_") + endpoint.tag),
        buffer_(endpoint.size, 0) {}
  static void on_message(const lcm_recv_buf_t* buffer, const char* /*channel*/, void* user) {
    auto* self = static_cast<LcmPeer*>(user);
    if (buffer->data_size >= sizeof(std::uint32_t)) self->received_ = get_seq(buffer->data);
  }

  std::string out_;
  std::string in_;
  std::vector<char> buffer_;
  lcm_t* lcm_ = nullptr;
  std::optional<std::uint32_t> received_;
};

}  // namespace statebus::bench::peers
