#pragma once
// Cyclone DDS over loopback UDP: a reliable, keep-last-1 writer and reader
// per direction, topics named after the run. Blocking receive in a waitset.
//
// Traffic stays on `lo`: configuration() is what CYCLONEDDS_URI must hold
// before the first participant (peers_bench sets it before the follower
// starts). Without it Cyclone sends discovery multicast on the network card.
// On lo, which has no multicast flag, Cyclone falls back to unicast
// discovery on localhost (and says so once per process on stderr).
// It also carries the settings that make large payloads work well: 64 KB
// messages of 62 000 B fragments (the defaults, 14 720 B and 1 344 B, cut
// 1 MiB into ~780 fragments) and a 4 MB socket receive buffer.
//
// Not the iceoryx shared-memory mode: it needs an iceoryx runtime of its own
// in each process, and a process has one (statebus's node, here).

#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include <dds/dds.h>

#include "peer.hpp"
#include "peer_blob.h"

namespace statebus::bench::peers {

class CyclonePeer final : public Peer {
 public:
  static const char* configuration() {
    return "<CycloneDDS><Domain id=\"any\">"
           "<General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces>"
           "<MaxMessageSize>65500B</MaxMessageSize><FragmentSize>62000B</FragmentSize></General>"
           "<Internal><SocketReceiveBufferSize min=\"4MB\"/></Internal>"
           "</Domain></CycloneDDS>";
  }

  static std::unique_ptr<Peer> open(const Endpoint& endpoint, std::string& error) {
    std::unique_ptr<CyclonePeer> peer(new CyclonePeer(endpoint.size));
    const bool leader = endpoint.role == Role::leader;
    std::string tag = endpoint.tag;  // a topic name is letters, digits and '_'
    for (char& c : tag) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    const std::string out = (leader ? "ping_" : "pong_") + tag;
    const std::string in = (leader ? "pong_" : "ping_") + tag;
    auto& p = *peer;
    p.participant_ = dds_create_participant(DDS_DOMAIN_DEFAULT, nullptr, nullptr);
    if (p.participant_ < 0) return fail(error, "dds_create_participant", p.participant_);
    const dds_entity_t out_topic = dds_create_topic(p.participant_, &statebus_peers_Blob_desc, out.c_str(), nullptr, nullptr);
    const dds_entity_t in_topic = dds_create_topic(p.participant_, &statebus_peers_Blob_desc, in.c_str(), nullptr, nullptr);
    if (out_topic < 0) return fail(error, "dds_create_topic", out_topic);
    if (in_topic < 0) return fail(error, "dds_create_topic", in_topic);
    dds_qos_t* qos = dds_create_qos();
    dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_SECS(10));
    dds_qset_history(qos, DDS_HISTORY_KEEP_LAST, 1);
    p.writer_ = dds_create_writer(p.participant_, out_topic, qos, nullptr);
    p.reader_ = dds_create_reader(p.participant_, in_topic, qos, nullptr);
    dds_delete_qos(qos);
    if (p.writer_ < 0) return fail(error, "dds_create_writer", p.writer_);
    if (p.reader_ < 0) return fail(error, "dds_create_reader", p.reader_);
    p.data_waitset_ = dds_create_waitset(p.participant_);
    const dds_entity_t readable = dds_create_readcondition(p.reader_, DDS_ANY_STATE);
    if (p.data_waitset_ < 0 || readable < 0 || dds_waitset_attach(p.data_waitset_, readable, 0) < 0) {
      return fail(error, "the reader's waitset", DDS_RETCODE_ERROR);
    }
    return peer;
  }
  ~CyclonePeer() override {
    if (participant_ > 0) dds_delete(participant_);  // and everything it made
  }

  bool connected(std::chrono::milliseconds timeout) override {
    // Asleep in a waitset on the matched statuses until both directions match.
    const dds_entity_t waitset = dds_create_waitset(participant_);
    dds_set_status_mask(writer_, DDS_PUBLICATION_MATCHED_STATUS);
    dds_set_status_mask(reader_, DDS_SUBSCRIPTION_MATCHED_STATUS);
    dds_waitset_attach(waitset, writer_, 1);
    dds_waitset_attach(waitset, reader_, 2);
    const dds_time_t deadline = dds_time() + DDS_MSECS(timeout.count());
    bool matched = false;
    while (!matched) {
      dds_publication_matched_status_t pub{};
      dds_subscription_matched_status_t sub{};
      dds_get_publication_matched_status(writer_, &pub);
      dds_get_subscription_matched_status(reader_, &sub);
      matched = pub.current_count > 0 && sub.current_count > 0;
      if (!matched && dds_waitset_wait_until(waitset, nullptr, 0, deadline) <= 0) break;
    }
    dds_delete(waitset);
    return matched;
  }
  bool send(std::uint32_t seq) override {
    statebus_peers_Blob sample{};
    sample.seq = seq;
    sample.data._maximum = static_cast<std::uint32_t>(buffer_.size());
    sample.data._length = static_cast<std::uint32_t>(buffer_.size());
    sample.data._buffer = buffer_.data();
    sample.data._release = false;
    return dds_write(writer_, &sample) == DDS_RETCODE_OK;
  }
  std::optional<std::uint32_t> receive(std::chrono::milliseconds timeout) override {
    return take(timeout, false);
  }
  std::optional<std::uint32_t> echo(std::chrono::milliseconds timeout) override { return take(timeout, true); }

 private:
  explicit CyclonePeer(std::size_t size) : buffer_(size, 0) {}
  static std::unique_ptr<Peer> fail(std::string& error, const char* what, dds_return_t rc) {
    error = std::string("cyclone dds: ") + what + ": " + dds_strretcode(rc);
    return nullptr;
  }
  // The next sample, loaned from the reader; with `echo`, written back as it is.
  std::optional<std::uint32_t> take(std::chrono::milliseconds timeout, bool echo_back) {
    const dds_time_t deadline = dds_time() + DDS_MSECS(timeout.count());
    for (;;) {
      void* samples[1] = {nullptr};
      dds_sample_info_t info[1];
      const dds_return_t n = dds_take(reader_, samples, info, 1, 1);
      if (n > 0) {
        std::optional<std::uint32_t> seq;
        if (info[0].valid_data) {
          const auto* sample = static_cast<const statebus_peers_Blob*>(samples[0]);
          seq = sample->seq;
          if (echo_back && dds_write(writer_, sample) != DDS_RETCODE_OK) seq.reset();
        }
        dds_return_loan(reader_, samples, n);
        if (seq) return seq;
        continue;
      }
      if (n < 0 || dds_waitset_wait_until(data_waitset_, nullptr, 0, deadline) <= 0) return std::nullopt;
    }
  }

  std::vector<std::uint8_t> buffer_;
  dds_entity_t participant_ = 0;
  dds_entity_t writer_ = 0;
  dds_entity_t reader_ = 0;
  dds_entity_t data_waitset_ = 0;
};

}  // namespace statebus::bench::peers
