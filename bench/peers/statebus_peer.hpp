#pragma once
// statebus itself as a peer, as pingpong_bench drives it: a channel each
// way, a sample loaned and published in place; the receive either asleep in
// the subscriber's wait (block) or spinning on take() (poll).

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "peer.hpp"
#include "statebus/bus.hpp"

namespace statebus::bench::peers {

enum class Wait { block, poll };

template <class Msg>
class StatebusPeer final : public Peer {
 public:
  static std::unique_ptr<Peer> open(const Node& node, const Endpoint& endpoint, Wait wait, std::string& error) {
    const bool leader = endpoint.role == Role::leader;
    const std::string prefix = "bench/peers/" + endpoint.tag + "/";
    auto out = Publisher<Msg>::create(node, prefix + (leader ? "ping" : "pong"), PublisherOptions{});
    auto in = Subscriber<Msg>::create(node, prefix + (leader ? "pong" : "ping"));
    if (!out || !in) {
      error = "statebus: " + (out ? in.error() : out.error()).message();
      return nullptr;
    }
    return std::unique_ptr<Peer>(new StatebusPeer(std::move(*out), std::move(*in), wait));
  }

  bool connected(std::chrono::milliseconds timeout) override {
    return out_.wait_for_subscribers(timeout) && in_.wait_connected(timeout);
  }
  bool send(std::uint32_t seq) override {
    // Ports of the previous run give their chunks back when the daemon gets
    // to it: until then a loan of a large size may fail. Retry.
    // Uninitialised, as a sender that fills its sample in place takes it
    // (loan() zero-fills the whole payload, 4 MiB at the largest size).
    auto loan = out_.loan_uninit();
    while (!loan) {
      std::this_thread::yield();
      loan = out_.loan_uninit();
    }
    put_seq(static_cast<Msg*>(loan->memory())->bytes, seq);
    std::move(*loan).assume_init().publish();
    return true;
  }
  std::optional<std::uint32_t> receive(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (unsigned spins = 0;; ++spins) {
      if (auto sample = in_.take()) return get_seq(sample->value().bytes);
      if (wait_ == Wait::poll) {
        if (spins % 4096 == 4095 && std::chrono::steady_clock::now() > deadline) return std::nullopt;
        continue;
      }
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left.count() <= 0) return std::nullopt;
      if (in_.wait(left).failed()) return std::nullopt;
    }
  }

 private:
  StatebusPeer(Publisher<Msg> out, Subscriber<Msg> in, Wait wait)
      : out_(std::move(out)), in_(std::move(in)), wait_(wait) {}
  Publisher<Msg> out_;
  Subscriber<Msg> in_;
  Wait wait_;
};

}  // namespace statebus::bench::peers
