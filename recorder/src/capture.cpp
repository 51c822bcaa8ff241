// The recorder's capture: subscriptions (exact names at start, wildcard
// channels as the daemon announces them), the capture threads (one per 63
// subscriptions, each on a WaitSet), schemas, and gaps in sequence numbers.
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "recorder_impl.hpp"
#include "statebus/bus/wait_set.hpp"
#include "statebus/internal/lockstep.hpp"

namespace statebus {
namespace {

constexpr std::size_t kPerShard = 63;  // a WaitSet holds 64
constexpr auto kShardWake = std::chrono::milliseconds(50);

}  // namespace

std::uint32_t Recorder::Impl::add_channel(const std::string& name, bool lossless) {
  std::lock_guard lock(mutex);
  const auto index = static_cast<std::uint32_t>(channels.size());
  ChannelState state;
  state.name = name;
  state.lossless = lossless;
  channels.push_back(std::move(state));
  channel_index.emplace(name, index);
  return index;
}

Result<void> Recorder::Impl::subscribe(const std::string& channel) {
  std::lock_guard shards_lock(shards_mutex);
  if (!subscribed.insert(channel).second) return {};
  if (channel == kLogChannel) {
    // Log records are read from the bus's log rings, not from a channel
    // (lossy: a ring overwrites what its readers have not read).
    const std::uint32_t index = add_channel(channel, false);
    if (auto started = start_log_reader(index); !started) {
      std::lock_guard lock(mutex);
      subscribed.erase(channel);
      channel_index.erase(channel);
      channels.pop_back();
      return started;
    }
    return {};
  }
  SubscriberOptions sub_options;
  sub_options.queue_depth = options.queue_depth;
  sub_options.lossless = options.lossless;
  // A process may publish before the daemon connects us (the heating
  // announces its heater at once): ask for what its publisher keeps as
  // history. capture() leaves out what was sent before the recorder started.
  sub_options.history = kMaxHistory;
  auto subscriber = UntypedSubscriber::create(node, channel, sub_options);
  if (!subscriber) {
    subscribed.erase(channel);
    return tl::make_unexpected(subscriber.error());
  }
  const std::uint32_t index = add_channel(channel, sub_options.lossless);
  auto entry = std::make_unique<Subscription>(Subscription{std::move(*subscriber), Source{index, false}});
  if (const auto service = detail::parse_service_channel(channel);
      service && service->kind != detail::ServiceChannelKind::refused) {
    entry->source.service = service->kind;
    entry->source.client_port = service->client_port;
  }
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

std::size_t Recorder::Impl::take_all(Subscription& s) {
  std::size_t taken = 0;
  while (auto sample = s.subscriber.take()) {
    capture(s.source, sample->header(),
            std::string_view(reinterpret_cast<const char*>(sample->data()), sample->size()));
    ++taken;
  }
  return taken;
}

void Recorder::Impl::run_shard(Shard& shard) {
  auto waitset = WaitSet::create(node);  // the shard's subscriptions outlive it, as they must
  // The linger in lockstep mode: a batch that fills a quarter of a queue
  // halves it (a lossless publisher would soon wait for us), a small one
  // lets it grow back to the option's value.
  const auto most = std::chrono::duration_cast<std::chrono::nanoseconds>(options.lockstep_linger);
  const std::size_t full_batch = std::max<std::size_t>(options.queue_depth / 4, 1);
  std::chrono::nanoseconds linger = most;
  for (;;) {
    const bool last_round = stopping.load(std::memory_order_acquire);
    {
      std::lock_guard take(shard.take_mutex);
      std::lock_guard lock(shard.mutex);
      for (auto& entry : shard.pending) {
        if (waitset && !waitset->add(entry->subscriber))
          waitset = tl::make_unexpected(Error(Errc::out_of_resources, "full"));
        shard.subscriptions.push_back(std::move(entry));
      }
      shard.pending.clear();
    }
    if (last_round || !waitset) {
      // Stopping (take what is queued), or no wait set to be had: poll.
      {
        std::lock_guard take(shard.take_mutex);
        for (auto& s : shard.subscriptions) take_all(*s);
      }
      if (last_round) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    const WaitSet::Ready ready = waitset->wait(kShardWake);
    std::size_t batch = 0;
    {
      std::lock_guard take(shard.take_mutex);
      for (const std::size_t index : ready) batch = std::max(batch, take_all(*shard.subscriptions[index]));
    }
    // The bus is gone: nothing more comes, and the wait fails at once; pace
    // the loop until stop() instead of spinning.
    if (ready.failed()) std::this_thread::sleep_for(kShardWake);
    if (ready.empty() || most.count() == 0 || !detail::lockstep_running()) continue;
    // Lockstep runs a step in microseconds: let the next samples collect
    // instead of waking for each (one futex wake-up a sample for the
    // publisher, a context switch for us, on cores the simulation needs).
    if (batch > full_batch) {
      linger = std::max<std::chrono::nanoseconds>(linger / 2, std::chrono::microseconds(16));
    } else if (batch * 4 < full_batch) {
      linger = std::min(linger * 2, most);
    }
    std::unique_lock lock(linger_mutex);
    linger_ended.wait_for(lock, linger, [&] { return stopping.load(std::memory_order_acquire); });
  }
}

void Recorder::Impl::take_queued() {
  std::lock_guard shards_lock(shards_mutex);
  for (auto& shard : shards) {
    std::lock_guard take(shard->take_mutex);
    for (auto& s : shard->subscriptions) take_all(*s);
    std::lock_guard lock(shard->mutex);  // not yet in the thread's wait set
    for (auto& s : shard->pending) take_all(*s);
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
  // From the bus's table of channel types; looked up once per type.
  std::optional<Schema> schema = find_schema(node, name, fingerprint);
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
            (header.publisher_port & detail::kLogPortBit) != 0
                ? "overwritten in its process's log ring before it was read"
            : state.lossless ? "lost although lossless (a publisher that never blocks?)"
                             : "queue overflowed");
  }
  if (header.sequence > track.last_sequence) track.last_sequence = header.sequence;
}

void Recorder::Impl::capture(const Source& from, const SampleHeader& header, std::string_view payload) {
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
  if (writer) json = mcap_json(log_entry, schema, payload, from, header);

  std::lock_guard lock(mutex);
  ChannelState& state = channels[channel];
  track(state, header);
  if (header.real_time_ns < start_real_ns) return;  // history from before the start: no part of this recording
  if (log_entry && log_entry->dropped_before > 0) {
    add_gap(state, header.publisher(), log_entry->dropped_before, "dropped by the process's log sink");
  }
  if (state.samples == 0 && schema != nullptr) state.schema = *schema;
  ++state.samples;
  ++total;
  if (options.keep_in_memory) {
    state.indices.push_back(stored.size());
    stored.push_back(Stored{channel, header, std::string(payload)});
    if (log_entry) logs.push_back(*log_entry);
  }
  if (writer && !write_error) write_mcap(state, from, header, schema, log_entry.has_value(), json, payload);
  if (options.on_sample) options.on_sample(RecordedSample{state.name, header, std::string(payload)});
  changed.notify_all();
}

void Recorder::Impl::run_housekeeper() {
  auto next_flush = std::chrono::steady_clock::now() + options.flush_interval;
  while (!stopping.load(std::memory_order_acquire)) {
    const auto left =
        std::max(next_flush - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
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

}  // namespace statebus
