#pragma once
// Recorder::Impl, the recorder's state, shared by its parts: recorder.cpp
// (start and stop), capture.cpp (subscriptions, the capture threads, gaps),
// log_reader.cpp (the log rings), mcap_sink.cpp (the MCAP file) and
// sample_store.cpp (queries and waits on what was captured). Internal to
// recorder/src.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "service_channel.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/internal/log_ring.hpp"
#include "statebus/internal/virtual_waits.hpp"
#include "statebus/recorder/mcap.hpp"
#include "statebus/recorder/recorder.hpp"

namespace statebus {

struct Recorder::Impl {
  struct PublisherTrack {
    ProcessId process;
    std::uint64_t last_sequence = 0;
  };

  struct ChannelState {
    std::string name;
    bool lossless = true;
    std::optional<Schema> schema;
    std::uint64_t samples = 0;
    std::uint64_t gaps = 0;
    std::vector<std::size_t> indices;                  // into Impl::stored
    std::map<std::uint64_t, PublisherTrack> publishers;  // by publisher port
    std::map<std::uint64_t, std::uint16_t> mcap_channels;  // by fingerprint
  };

  struct Stored {
    std::uint32_t channel;
    SampleHeader header;
    std::string payload;
  };

  // Where a captured sample came from.
  struct Source {
    std::uint32_t channel;
    bool is_log;
    // A service's `S/_call` or `S/_reply/<client>`: its MCAP messages say
    // which call they are (`_call`: client port and call id).
    std::optional<detail::ServiceChannelKind> service{};
    std::uint64_t client_port = 0;  // a reply channel's client
  };

  struct Subscription {
    UntypedSubscriber subscriber;
    Source source;
  };

  struct Shard {
    std::mutex mutex;  // guards pending
    std::vector<std::unique_ptr<Subscription>> pending;
    // Guards `subscriptions` and taking from them: the shard's thread, or a
    // wait that takes what is queued before it reports timed_out
    // (take_queued()). Taken before `mutex` and Impl::mutex.
    std::mutex take_mutex;
    std::vector<std::unique_ptr<Subscription>> subscriptions;  // in the thread's wait set's order
    std::size_t assigned = 0;  // under Impl::shards_mutex
    std::thread thread;
  };

  Impl(Node n, RecorderOptions o) : node(std::move(n)), options(std::move(o)) {}
  Node node;
  RecorderOptions options;
  std::vector<ChannelPattern> patterns;
  std::int64_t start_real_ns = detail::monotonic_ns();
  std::atomic<bool> stopping{false};

  // A capture thread's linger in lockstep mode (capture.cpp), ended by stop().
  std::mutex linger_mutex;
  std::condition_variable linger_ended;

  // Captured data, under `mutex`.
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<Stored> stored;
  std::vector<ChannelState> channels;
  std::map<std::string, std::uint32_t, std::less<>> channel_index;
  std::map<std::string, const UntypedSubscriber*, std::less<>> ports;  // by channel, for wait_recording()
  std::vector<RecordingGap> gaps;
  std::vector<LogEntry> logs;
  std::uint64_t total = 0;
  std::map<std::uint64_t, std::optional<Schema>> schemas;  // by fingerprint; nodes never erased
  std::map<std::uint64_t, std::uint16_t> mcap_schemas;     // by fingerprint
  std::map<std::uint64_t, std::uint16_t> mcap_call_schemas;  // by fingerprint: with the `_call` link
  std::optional<std::uint16_t> mcap_log_schema;
  std::optional<mcap::Writer> writer;
  std::optional<Error> write_error;
  bool written_since_flush = false;
  std::uint64_t written = 0;  // messages handed to the writer
  std::uint64_t flushed = 0;  // of them, in chunks written to the file

  // Subscriptions.
  std::mutex shards_mutex;
  std::vector<std::unique_ptr<Shard>> shards;
  std::set<std::string> subscribed;  // under shards_mutex
  std::optional<ChannelWatch> watch;
  std::thread housekeeper;

  // The log (`statebus/log`): read from the bus's log rings, not a channel.
  std::mutex log_mutex;  // guards log_reader: the log thread drains, and so may a wait about to time out
  std::optional<detail::LogReader> log_reader;
  std::optional<Source> log_source;  // set once, before log_thread starts
  std::thread log_thread;

  std::optional<RecordingSummary> summary;
  std::optional<Error> stop_error;

  // A channel a pattern matches, or a channel of a service an exact
  // pattern names (`S` records `S/_call`, `S/_reply/<client>`, `S/_refused`).
  bool wanted(std::string_view channel) const {
    return std::any_of(patterns.begin(), patterns.end(), [&](const ChannelPattern& p) {
      return p.matches(channel) || (p.exact() && detail::is_channel_of_service(p.text(), channel));
    });
  }

  // capture.cpp: subscriptions, the capture threads, gaps.
  Result<void> subscribe(const std::string& channel);
  std::uint32_t add_channel(const std::string& name, bool lossless);  // its index in `channels`
  void run_shard(Shard& shard);
  // Takes what is queued on every subscription now, from the calling
  // thread (a wait about to report timed_out). Call without `mutex`.
  void take_queued();
  // Captures everything queued on `s` (its shard's take_mutex held); how many samples.
  std::size_t take_all(Subscription& s);
  void capture(const Source& from, const SampleHeader& header, std::string_view payload);
  // log_reader.cpp: the log rings.
  Result<void> start_log_reader(std::uint32_t channel);
  void run_log_reader();
  std::size_t drain_logs();  // records read
  const Schema* schema_for(std::uint32_t channel, std::uint64_t fingerprint);
  void track(ChannelState& state, const SampleHeader& header);
  void add_gap(ChannelState& state, ProcessId publisher, std::uint64_t missing, const char* why);
  void run_housekeeper();

  // mcap_sink.cpp: captured samples into the MCAP file.
  static std::string mcap_json(const std::optional<LogEntry>& log_entry, const Schema* schema, std::string_view payload,
                               const Source& from, const SampleHeader& header);
  void write_mcap(ChannelState& state, const Source& from, const SampleHeader& header, const Schema* schema, bool log,
                  const std::string& json, std::string_view payload);
  std::optional<std::uint16_t> mcap_channel(ChannelState& state, const Source& from, std::uint64_t fingerprint,
                                            const Schema* schema, bool log);
  void flush_if_due(bool force);

  // sample_store.cpp: what was captured, summed up.
  RecordingSummary summarise() const;
};

}  // namespace statebus
