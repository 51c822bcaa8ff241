#include "statebus/recorder/recorder.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "json_schema.hpp"
#include "statebus/bus/discovery.hpp"
#include "statebus/bus/names.hpp"
#include "statebus/bus/untyped.hpp"
#include "statebus/bus/wait_set.hpp"
#include "statebus/recorder/mcap.hpp"
#include "statebus/internal/virtual_waits.hpp"

namespace statebus {

namespace {

constexpr std::size_t kPerShard = 63;  // a WaitSet holds 64
constexpr auto kShardWake = std::chrono::milliseconds(50);
constexpr auto kSchemaTimeout = std::chrono::milliseconds(1000);

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

struct Subscription {
  UntypedSubscriber subscriber;
  std::uint32_t channel;
  bool is_log;
};

struct Shard {
  std::mutex mutex;  // guards pending
  std::vector<std::unique_ptr<Subscription>> pending;
  std::size_t assigned = 0;  // under Impl::shards_mutex
  std::thread thread;
};

}  // namespace

struct Recorder::Impl {
  Impl(Node n, RecorderOptions o) : node(std::move(n)), options(std::move(o)) {}
  Node node;
  RecorderOptions options;
  std::vector<ChannelPattern> patterns;
  std::int64_t start_real_ns = detail::monotonic_ns();
  std::atomic<bool> stopping{false};

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

  std::optional<RecordingSummary> summary;
  std::optional<Error> stop_error;

  bool wanted(std::string_view channel) const {
    return std::any_of(patterns.begin(), patterns.end(), [&](const ChannelPattern& p) { return p.matches(channel); });
  }

  Result<void> subscribe(const std::string& channel);
  void run_shard(Shard& shard);
  void capture(const Subscription& from, const BytesSample& sample);
  const Schema* schema_for(std::uint32_t channel, std::uint64_t fingerprint);
  void track(ChannelState& state, const SampleHeader& header);
  void add_gap(ChannelState& state, ProcessId publisher, std::uint64_t missing, const char* why);
  std::optional<std::uint16_t> mcap_channel(ChannelState& state, std::uint64_t fingerprint, const Schema* schema,
                                            bool log);
  void run_housekeeper();
  void flush_if_due(bool force);
  RecordingSummary summarise() const;
};

Result<void> Recorder::Impl::subscribe(const std::string& channel) {
  std::lock_guard shards_lock(shards_mutex);
  if (!subscribed.insert(channel).second) return {};
  const bool is_log = channel == kLogChannel;
  SubscriberOptions sub_options;
  sub_options.queue_depth = is_log ? 256 : options.queue_depth;
  // Log sinks never block, and a lossless subscriber cannot connect to such
  // a publisher: the log channel is taken lossy, its losses counted.
  sub_options.lossless = options.lossless && !is_log;
  // A process may publish before the daemon connects us (the heating
  // announces its heater at once; a process's first log records): ask for
  // what its publisher keeps as history. capture() leaves out what was sent
  // before the recorder started.
  sub_options.history = kMaxHistory;
  auto subscriber = UntypedSubscriber::create(node, channel, sub_options);
  if (!subscriber) {
    subscribed.erase(channel);
    return tl::make_unexpected(subscriber.error());
  }
  std::uint32_t index = 0;
  {
    std::lock_guard lock(mutex);
    index = static_cast<std::uint32_t>(channels.size());
    ChannelState state;
    state.name = channel;
    state.lossless = sub_options.lossless;
    channels.push_back(std::move(state));
    channel_index.emplace(channel, index);
  }
  auto entry = std::make_unique<Subscription>(Subscription{std::move(*subscriber), index, is_log});
  {
    std::lock_guard lock(mutex);
    ports.emplace(channel, &entry->subscriber);  // the Subscription stays where it is until stop()
    changed.notify_all();
  }
  Shard* shard = nullptr;
  for (auto& candidate : shards) {
    if (candidate->assigned < kPerShard) shard = candidate.get();
  }
  if (shard == nullptr) {
    shards.push_back(std::make_unique<Shard>());
    shard = shards.back().get();
    shard->thread = std::thread([this, shard] { run_shard(*shard); });
  }
  ++shard->assigned;
  std::lock_guard pending_lock(shard->mutex);
  shard->pending.push_back(std::move(entry));
  return {};
}

void Recorder::Impl::run_shard(Shard& shard) {
  std::vector<std::unique_ptr<Subscription>> subscriptions;  // outlives the wait set, as it must
  auto waitset = WaitSet::create(node);
  auto drain = [&](Subscription& s) {
    while (auto sample = s.subscriber.take()) capture(s, *sample);
  };
  for (;;) {
    const bool last_round = stopping.load(std::memory_order_acquire);
    {
      std::lock_guard lock(shard.mutex);
      for (auto& entry : shard.pending) {
        if (waitset && !waitset->add(entry->subscriber)) waitset = tl::make_unexpected(Error(Errc::out_of_resources, "full"));
        subscriptions.push_back(std::move(entry));
      }
      shard.pending.clear();
    }
    if (last_round || !waitset) {
      // Stopping (take what is queued), or no wait set to be had: poll.
      for (auto& s : subscriptions) drain(*s);
      if (last_round) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    for (const std::size_t ready : waitset->wait(kShardWake)) drain(*subscriptions[ready]);
  }
}

const Schema* Recorder::Impl::schema_for(std::uint32_t channel, std::uint64_t fingerprint) {
  std::string name;
  {
    std::lock_guard lock(mutex);
    if (const auto found = schemas.find(fingerprint); found != schemas.end()) {
      return found->second ? &*found->second : nullptr;
    }
    name = channels[channel].name;
  }
  // Publishers offer their schema on a companion channel; fetched once per type.
  std::optional<Schema> schema;
  if (auto fetched = fetch_schema(node, name, kSchemaTimeout); fetched && fetched->fingerprint == fingerprint) {
    schema = std::move(*fetched);
  }
  std::lock_guard lock(mutex);
  const auto& slot = schemas.emplace(fingerprint, std::move(schema)).first->second;
  return slot ? &*slot : nullptr;
}

void Recorder::Impl::add_gap(ChannelState& state, ProcessId publisher, std::uint64_t missing, const char* why) {
  state.gaps += missing;
  for (RecordingGap& gap : gaps) {
    if (gap.channel == state.name && gap.publisher == publisher && gap.why == why) {
      gap.missing += missing;
      return;
    }
  }
  gaps.push_back(RecordingGap{state.name, publisher, missing, why});
}

void Recorder::Impl::track(ChannelState& state, const SampleHeader& header) {
  auto [it, first] = state.publishers.try_emplace(header.publisher_port, PublisherTrack{header.publisher(), 0});
  PublisherTrack& track = it->second;
  if (first) {
    // A publisher created after the recorder started should have been heard
    // from its first sample on; one created before may have sent earlier
    // samples that belong to no recording.
    if (header.publisher_created_ns >= start_real_ns && header.sequence > 1) {
      add_gap(state, track.process, header.sequence - 1, "sent before the recorder subscribed");
    }
  } else if (header.sequence > track.last_sequence + 1) {
    add_gap(state, track.process, header.sequence - track.last_sequence - 1,
            state.lossless ? "lost although lossless (a publisher that never blocks?)" : "queue overflowed");
  }
  if (header.sequence > track.last_sequence) track.last_sequence = header.sequence;
}

std::optional<std::uint16_t> Recorder::Impl::mcap_channel(ChannelState& state, std::uint64_t fingerprint,
                                                          const Schema* schema, bool log) {
  if (const auto found = state.mcap_channels.find(fingerprint); found != state.mcap_channels.end()) {
    return found->second;
  }
  auto note = [&](const Error& error) {
    if (!write_error) write_error = error;
    return std::nullopt;
  };
  std::uint16_t schema_id = 0;
  std::string encoding = "statebus.bytes";
  if (log) {
    if (!mcap_log_schema) {
      auto id = writer->add_schema(detail::kFoxgloveLogName, "jsonschema", detail::foxglove_log_schema());
      if (!id) return note(id.error());
      mcap_log_schema = *id;
    }
    schema_id = *mcap_log_schema;
    encoding = "json";
  } else if (schema != nullptr) {
    auto known = mcap_schemas.find(fingerprint);
    if (known == mcap_schemas.end()) {
      auto id = writer->add_schema(schema->name, "jsonschema", detail::to_json_schema(*schema));
      if (!id) return note(id.error());
      known = mcap_schemas.emplace(fingerprint, *id).first;
    }
    schema_id = known->second;
    encoding = "json";
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fingerprint));
  auto id = writer->add_channel(schema_id, state.name, encoding, {{"statebus.fingerprint", hex}});
  if (!id) return note(id.error());
  state.mcap_channels.emplace(fingerprint, *id);
  return *id;
}

void Recorder::Impl::capture(const Subscription& from, const BytesSample& sample) {
  const SampleHeader& header = sample.header();
  const auto* bytes = reinterpret_cast<const char*>(sample.data());
  const std::string_view payload(bytes, sample.size());
  const std::uint32_t channel = from.channel;
  const bool is_log = from.is_log;
  const Schema* schema = nullptr;
  if (!is_log && header.fingerprint != 0) {
    schema = schema_for(channel, header.fingerprint);
    if (schema != nullptr && schema->size != payload.size()) schema = nullptr;
  }
  std::optional<LogEntry> log_entry;
  if (is_log) log_entry = decode_log_record(payload.data(), payload.size());
  // Encoded outside the lock: the MCAP message.
  std::string json;
  if (writer) {
    if (log_entry) json = detail::to_foxglove_log(*log_entry);
    else if (schema != nullptr) json = schema->render_json(payload.data());
  }

  std::lock_guard lock(mutex);
  ChannelState& state = channels[channel];
  track(state, header);
  if (header.real_time_ns < start_real_ns) return;  // history from before the start: no part of this recording
  if (log_entry && log_entry->dropped_before > 0) {
    add_gap(state, header.publisher(), log_entry->dropped_before, "dropped by the process's log sink (bus full)");
  }
  if (state.samples == 0 && schema != nullptr) state.schema = *schema;
  ++state.samples;
  ++total;
  if (options.keep_in_memory) {
    state.indices.push_back(stored.size());
    stored.push_back(Stored{channel, header, std::string(payload)});
    if (log_entry) logs.push_back(*log_entry);
  }
  if (writer && !write_error) {
    const bool as_json = log_entry.has_value() || schema != nullptr;
    if (const auto id = mcap_channel(state, as_json ? header.fingerprint : (is_log ? ~std::uint64_t{0} : 0), schema, log_entry.has_value())) {
      const std::string_view data = as_json ? std::string_view(json) : payload;
      const auto t = static_cast<std::uint64_t>(std::max<std::int64_t>(header.virtual_time_ns, 0));
      if (auto wrote = writer->write(*id, static_cast<std::uint32_t>(header.sequence), t, t, data.data(), data.size());
          !wrote) {
        write_error = wrote.error();
      }
      written_since_flush = true;
      ++written;
    }
  }
  if (options.on_sample) options.on_sample(RecordedSample{state.name, header, std::string(payload)});
  changed.notify_all();
}

void Recorder::Impl::flush_if_due(bool force) {
  std::lock_guard lock(mutex);
  if (!writer || write_error || (!written_since_flush && !force)) return;
  if (auto done = writer->flush(); !done) {
    write_error = done.error();
  } else {
    flushed = written;
  }
  written_since_flush = false;
}

void Recorder::Impl::run_housekeeper() {
  auto next_flush = std::chrono::steady_clock::now() + options.flush_interval;
  while (!stopping.load(std::memory_order_acquire)) {
    const auto left = std::max(next_flush - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
    if (watch) {
      for (const std::string& channel : watch->next(left)) {
        if (wanted(channel)) (void)subscribe(channel);  // a channel we cannot subscribe shows as missing
      }
    } else {
      std::unique_lock lock(mutex);
      changed.wait_for(lock, left, [&] { return stopping.load(std::memory_order_acquire); });
    }
    if (std::chrono::steady_clock::now() >= next_flush) {
      flush_if_due(false);
      next_flush = std::chrono::steady_clock::now() + options.flush_interval;
    }
  }
}

RecordingSummary Recorder::Impl::summarise() const {
  RecordingSummary out;
  for (const ChannelState& state : channels) {
    out.channels.push_back(RecordedChannel{state.name, state.schema, state.samples, state.gaps,
                                           state.publishers.size(), state.lossless});
  }
  std::sort(out.channels.begin(), out.channels.end(),
            [](const RecordedChannel& a, const RecordedChannel& b) { return a.name < b.name; });
  out.gaps = gaps;
  out.samples = total;
  return out;
}

namespace {
void on_clock_change(void* context) {
  auto* impl = static_cast<Recorder::Impl*>(context);
  std::lock_guard lock(impl->mutex);  // so a waiter between its check and its wait is not missed
  impl->changed.notify_all();
}
}  // namespace

Result<Recorder> Recorder::start(const Node& node, RecorderOptions options) {
  if (options.patterns.empty()) {
    return fail(Errc::invalid_argument, "the recorder needs at least one channel pattern (`**` records everything)");
  }
  if (options.queue_depth < 1 || options.queue_depth > 256) {
    return fail(Errc::invalid_argument, "recorder queue_depth " + std::to_string(options.queue_depth) +
                                            " is out of range; give 1 to 256");
  }
  if (options.chunk_size == 0 || options.flush_interval.count() <= 0) {
    return fail(Errc::invalid_argument, "recorder chunk_size and flush_interval must be positive");
  }
  auto impl = std::make_unique<Impl>(node, std::move(options));
  for (const std::string& text : impl->options.patterns) {
    auto pattern = ChannelPattern::parse(text);
    if (!pattern) return tl::make_unexpected(pattern.error());
    impl->patterns.push_back(std::move(*pattern));
  }
  if (!impl->options.mcap_path.empty()) {
    mcap::WriterOptions writer_options;
    writer_options.chunk_size = impl->options.chunk_size;
    auto writer = mcap::Writer::create(impl->options.mcap_path, writer_options);
    if (!writer) return tl::make_unexpected(writer.error());
    impl->writer = std::move(*writer);
  }
  const bool wildcard = std::any_of(impl->patterns.begin(), impl->patterns.end(),
                                    [](const ChannelPattern& p) { return !p.exact(); });
  if (wildcard) {
    auto watch = ChannelWatch::create(impl->node);
    if (!watch) return tl::make_unexpected(watch.error());
    impl->watch = std::move(*watch);
  }
  Recorder recorder(std::move(impl));
  Impl& self = *recorder.impl_;
  for (const ChannelPattern& pattern : self.patterns) {
    if (!pattern.exact()) continue;
    if (auto done = self.subscribe(pattern.text()); !done) return tl::make_unexpected(done.error());
  }
  if (self.watch) {
    for (const std::string& channel : self.watch->next(std::chrono::nanoseconds(0))) {
      if (!self.wanted(channel)) continue;
      if (auto done = self.subscribe(channel); !done) return tl::make_unexpected(done.error());
    }
  }
  self.housekeeper = std::thread([&self] { self.run_housekeeper(); });
  return recorder;
}

Recorder::Recorder(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Recorder::Recorder(Recorder&&) noexcept = default;
Recorder& Recorder::operator=(Recorder&& other) noexcept {
  if (this != &other) {
    if (impl_) (void)stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Recorder::~Recorder() {
  if (impl_) (void)stop();
}

Result<RecordingSummary> Recorder::stop() {
  Impl& self = *impl_;
  if (!self.summary && !self.stop_error) {
    self.stopping.store(true, std::memory_order_release);
    if (self.watch) self.watch->wake();
    {
      std::lock_guard lock(self.mutex);
      self.changed.notify_all();
    }
    if (self.housekeeper.joinable()) self.housekeeper.join();
    {
      std::lock_guard lock(self.shards_mutex);
      for (auto& shard : self.shards) {
        if (shard->thread.joinable()) shard->thread.join();
      }
      self.shards.clear();  // unsubscribes: lossless publishers stop waiting for us
    }
    std::lock_guard lock(self.mutex);
    RecordingSummary summary = self.summarise();
    if (self.writer) {
      if (auto closed = self.writer->close(); !closed && !self.write_error) self.write_error = closed.error();
      summary.mcap_path = self.options.mcap_path;
      summary.mcap_bytes = self.writer->bytes_written();
    }
    if (self.write_error) {
      self.stop_error = Error(self.write_error->code(), "recording to " + self.options.mcap_path +
                                                            " failed: " + self.write_error->message());
    } else {
      self.summary = std::move(summary);
    }
  }
  if (self.stop_error) return tl::make_unexpected(*self.stop_error);
  return *self.summary;
}

void Recorder::visit(std::string_view channel,
                     const std::function<bool(const SampleHeader&, const std::string&)>& f, bool locked) const {
  std::unique_lock lock(impl_->mutex, std::defer_lock);
  if (!locked) lock.lock();
  if (channel.empty()) {
    for (const Stored& s : impl_->stored) {
      if (!f(s.header, s.payload)) return;
    }
    return;
  }
  const auto found = impl_->channel_index.find(channel);
  if (found == impl_->channel_index.end()) return;
  for (const std::size_t i : impl_->channels[found->second].indices) {
    const Stored& s = impl_->stored[i];
    if (!f(s.header, s.payload)) return;
  }
}

std::vector<RecordedSample> Recorder::samples(std::string_view channel) const {
  std::vector<RecordedSample> out;
  std::lock_guard lock(impl_->mutex);
  auto add = [&](const Stored& s) { out.push_back(RecordedSample{impl_->channels[s.channel].name, s.header, s.payload}); };
  if (channel.empty()) {
    for (const Stored& s : impl_->stored) add(s);
  } else if (const auto found = impl_->channel_index.find(channel); found != impl_->channel_index.end()) {
    for (const std::size_t i : impl_->channels[found->second].indices) add(impl_->stored[i]);
  }
  return out;
}

std::uint64_t Recorder::count(std::string_view channel) const {
  std::lock_guard lock(impl_->mutex);
  const auto found = impl_->channel_index.find(channel);
  return found == impl_->channel_index.end() ? 0 : impl_->channels[found->second].samples;
}

std::uint64_t Recorder::flushed() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->flushed;
}

std::vector<LogEntry> Recorder::logs() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->logs;
}

std::vector<RecordedChannel> Recorder::channels() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->summarise().channels;
}

std::vector<RecordingGap> Recorder::gaps() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->gaps;
}

bool Recorder::wait_for(const std::function<bool()>& condition, VirtualTimeout timeout) const {
  // Clock changes wake the wait while it lasts (registered before the first
  // look, outside the mutex the listener takes).
  struct Listening {
    std::uint64_t id;
    ~Listening() { detail::remove_clock_listener(id); }
  } listening{detail::add_clock_listener(&on_clock_change, impl_.get())};
  const auto deadline = timeout.deadline();
  std::unique_lock lock(impl_->mutex);
  for (;;) {
    if (condition()) return true;
    const auto slice = detail::wait_slice(deadline);
    if (!slice) return condition();
    impl_->changed.wait_for(lock, *slice);
  }
}

bool Recorder::wait_recording(std::string_view channel, std::chrono::nanoseconds timeout) const {
  if (!impl_->wanted(channel)) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const UntypedSubscriber* port = nullptr;
  {
    std::unique_lock lock(impl_->mutex);
    const bool found = impl_->changed.wait_until(lock, deadline, [&] {
      const auto entry = impl_->ports.find(channel);
      port = entry == impl_->ports.end() ? nullptr : entry->second;
      return port != nullptr;
    });
    if (!found) return false;
  }
  return port->wait_connected(deadline - std::chrono::steady_clock::now());
}

bool Recorder::wait_for_count(std::string_view channel, std::uint64_t n, VirtualTimeout timeout) const {
  return wait_for(
      [&] {
        const auto found = impl_->channel_index.find(channel);
        return found != impl_->channel_index.end() && impl_->channels[found->second].samples >= n;
      },
      timeout);
}

std::optional<LogEntry> Recorder::wait_for_log(const std::function<bool(const LogEntry&)>& predicate,
                                               VirtualTimeout timeout) const {
  std::optional<LogEntry> found;
  std::size_t seen = 0;
  wait_for(
      [&] {
        for (; seen < impl_->logs.size() && !found; ++seen) {
          if (predicate(impl_->logs[seen])) found = impl_->logs[seen];
        }
        return found.has_value();
      },
      timeout);
  return found;
}

}  // namespace statebus
