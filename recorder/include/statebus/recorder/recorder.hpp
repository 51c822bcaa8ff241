#pragma once
/// The recorder: captures every sample of chosen channels, in memory for
/// tests and to MCAP files. Contract: recorder/README.md.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "statebus/base/describe.hpp"
#include "statebus/base/error.hpp"
#include "statebus/base/schema.hpp"
#include "statebus/base/waited.hpp"
#include "statebus/bus/log_record.hpp"
#include "statebus/bus/names.hpp"  // ChannelPattern: the syntax of RecorderOptions::patterns
#include "statebus/bus/node.hpp"
#include "statebus/bus/sample_header.hpp"
#include "statebus/clock/virtual_clock.hpp"
#include "statebus/clock/virtual_timeout.hpp"

namespace statebus {

/// One captured sample: its channel, header and payload bytes.
struct RecordedSample {
  std::string channel;
  SampleHeader header;
  std::string payload;
};

/// One captured sample of a known type.
template <class T>
struct Recorded {
  SampleHeader header;
  T value;
  /// The bus's virtual time at publish.
  [[nodiscard]] VirtualClock::time_point virtual_time() const noexcept {
    return VirtualClock::time_point(VirtualClock::duration(header.virtual_time_ns));
  }
};

/// What the recorder knows about one channel.
struct RecordedChannel {
  std::string name;
  std::optional<Schema> schema;  ///< of the first typed sample; none for bytes
  std::uint64_t samples = 0;     ///< captured
  std::uint64_t gaps = 0;        ///< samples its publishers sent that the recorder did not capture
  std::uint64_t publishers = 0;  ///< distinct publishers heard from
  bool lossless = true;          ///< subscribed losslessly (every channel but the log)
};

/// Where a recording had a gap, for a person to read.
struct RecordingGap {
  std::string channel;
  ProcessId publisher;
  std::uint64_t missing = 0;
  std::string why;  ///< "queue overflowed", "sent before the recorder subscribed"
};

struct RecordingSummary {
  std::vector<RecordedChannel> channels;
  std::vector<RecordingGap> gaps;
  std::uint64_t samples = 0;
  std::string mcap_path;  ///< empty if none was written
  std::uint64_t mcap_bytes = 0;
};

struct RecorderOptions {
  /// Channels to record; `**` records everything, the log channel included.
  std::vector<std::string> patterns = {"**"};
  /// Make publishers wait instead of dropping (every channel but the log).
  bool lossless = true;
  /// Queue per subscription (1–256).
  std::uint32_t queue_depth = 256;
  /// Keep samples and log records in memory for queries.
  bool keep_in_memory = true;
  /// Also write an MCAP file here (empty: none).
  std::string mcap_path;
  /// An MCAP chunk is closed at this size or after `flush_interval`.
  std::size_t chunk_size = std::size_t{1} << 20;
  std::chrono::milliseconds flush_interval{1000};
  /// In lockstep mode, how long a capture thread lets samples collect
  /// after it woke and took what was queued (0 to 10 s; 0: it wakes for
  /// every sample, as it does in the other modes). A simulated day then
  /// wakes the recorder once a batch instead of once a sample. It
  /// shortens itself when a batch fills a quarter of the queue, so that
  /// lossless publishers seldom wait for it. Waits on what was recorded
  /// never time out for a sample still queued: before a wait reports
  /// timed_out it takes what is queued (Recorder::wait_for).
  std::chrono::microseconds lockstep_linger{1000};
  /// Called (from a recorder thread, under its lock: keep it short) for
  /// every captured sample; for live tools such as `statebus record`.
  std::function<void(const RecordedSample&)> on_sample;
};

/// Captures every sample of the channels matching its patterns.
///
/// Thread safety: queries and waits from any thread while it records;
/// stop() and destruction by the owner. It runs its own threads.
class Recorder {
 public:
  /// Starts recording. Exact-name patterns are subscribed before this
  /// returns (nothing sent on them afterwards is missed); channels already
  /// on the bus that match a wildcard too. Fails with invalid_argument (a
  /// pattern, the options), no_daemon, or system_error (the MCAP file).
  static Result<Recorder> start(const Node& node, RecorderOptions options = {});
  Recorder(Recorder&&) noexcept;
  Recorder& operator=(Recorder&&) noexcept;
  /// Stops as stop() does, ignoring errors.
  ~Recorder();

  /// Takes what is queued, stops, closes the MCAP file and sums up. Only
  /// the first call does the work; later ones return the same summary.
  Result<RecordingSummary> stop();

  /// Every sample captured on `channel` (all channels if empty), in the
  /// order they arrived (per publisher: its order). Copies.
  [[nodiscard]] std::vector<RecordedSample> samples(std::string_view channel = {}) const;
  /// Every sample captured on `channel`, as T's, in order (empty when none
  /// was). Fails with type_mismatch, naming both types, when the channel
  /// carried a sample that is not a T (another type, or untyped bytes):
  /// never a silently shorter list.
  template <class T>
  [[nodiscard]] Result<std::vector<Recorded<T>>> samples(std::string_view channel) const {
    static_assert(std::is_trivially_copyable_v<T> && is_described_v<T>, "T must be a described message");
    std::vector<Recorded<T>> out;
    std::optional<std::uint64_t> other;  // the fingerprint of a sample that is not a T
    visit(channel, [&](const SampleHeader& header, const std::string& payload) {
      if (header.fingerprint != schema_of<T>().fingerprint || payload.size() != sizeof(T)) {
        other = header.fingerprint;
        return false;
      }
      Recorded<T> one{header, T{}};
      std::memcpy(&one.value, payload.data(), sizeof(T));
      out.push_back(one);
      return true;
    });
    if (other) return tl::make_unexpected(type_mismatch(channel, schema_of<T>(), *other));
    return out;
  }
  /// Samples captured on `channel` so far.
  [[nodiscard]] std::uint64_t count(std::string_view channel) const;
  /// Samples in MCAP chunks already written to the file (a SIGKILL now
  /// loses none of them); closed every `flush_interval`.
  [[nodiscard]] std::uint64_t flushed() const;
  /// Log records captured (needs the log channel among the patterns).
  [[nodiscard]] std::vector<LogEntry> logs() const;
  [[nodiscard]] std::vector<RecordedChannel> channels() const;
  [[nodiscard]] std::vector<RecordingGap> gaps() const;

  /// Waits until the recorder's subscription to `channel` is connected to
  /// the channel's publishers, so that nothing sent on it from then on is
  /// missed, for at most `timeout` of real time (the daemon connects ports
  /// in real time, whatever the clock). A channel matched by a wildcard is
  /// subscribed only once the daemon has announced it, some time after its
  /// publisher was created: a test waits here before it lets time run.
  /// Ready, timed_out, or failed: at once with Errc::invalid_argument for a
  /// channel no pattern matches, and with Errc::no_daemon or
  /// Errc::stale_bus once the bus is gone (within 0.1 s).
  Waited wait_recording(std::string_view channel, std::chrono::nanoseconds timeout) const;

  /// Waits until `condition` (called under the recorder's lock after every
  /// captured sample) holds, or until the bus's virtual time passes
  /// now + `timeout` (woken by every clock change): `virtual_timeout(30s)`.
  /// Ready, timed_out, or failed with Errc::no_daemon or Errc::stale_bus
  /// once the bus is gone (within a second on a clock that stands).
  Waited wait_for(const std::function<bool()>& condition, VirtualTimeout timeout) const;
  /// Waits for `n` samples on `channel`. Fails as wait_for(), and at once
  /// with Errc::invalid_argument for a channel no pattern matches.
  Waited wait_for_count(std::string_view channel, std::uint64_t n, VirtualTimeout timeout) const;
  /// Waits for a sample of T on `channel` for which `predicate` holds,
  /// looking also at those captured before the call; returns it. Fails as
  /// wait_for_count(), and with Errc::type_mismatch (naming both types)
  /// once the channel carried a sample that is not a T: never a wait that
  /// runs out because the type asked for was wrong.
  template <class T, class Predicate>
  WaitedFor<Recorded<T>> wait_for(std::string_view channel, Predicate predicate, VirtualTimeout timeout) const {
    static_assert(std::is_trivially_copyable_v<T> && is_described_v<T>, "T must be a described message");
    if (auto refused = unrecorded(channel)) return WaitedFor<Recorded<T>>::failed(std::move(*refused));
    std::optional<Recorded<T>> found;
    std::optional<std::uint64_t> other;  // the fingerprint of a sample that is not a T
    std::size_t seen = 0;
    Waited waited = wait_for(
        [&] {
          std::size_t index = 0;
          visit(
              channel,
              [&](const SampleHeader& header, const std::string& payload) {
                if (index++ < seen) return true;
                ++seen;
                if (header.fingerprint != schema_of<T>().fingerprint || payload.size() != sizeof(T)) {
                  other = header.fingerprint;
                  return false;
                }
                Recorded<T> one{header, T{}};
                std::memcpy(&one.value, payload.data(), sizeof(T));
                if (!predicate(one.value)) return true;
                found = one;
                return false;
              },
              /*locked=*/true);
          return found.has_value() || other.has_value();
        },
        timeout);
    if (found) return std::move(*found);
    if (other) return WaitedFor<Recorded<T>>::failed(type_mismatch(channel, schema_of<T>(), *other));
    return WaitedFor<Recorded<T>>(std::move(waited));
  }

  /// Waits for a log record for which `predicate` holds (called under the
  /// recorder's lock, also on records captured before the call); returns
  /// the first such record. Timed out once virtual time passes now +
  /// `timeout`; fails as wait_for(), and at once with
  /// Errc::invalid_argument when no pattern matches the log channel.
  WaitedFor<LogEntry> wait_for_log(const std::function<bool(const LogEntry&)>& predicate, VirtualTimeout timeout) const;

 private:
  struct Impl;
  explicit Recorder(std::unique_ptr<Impl> impl) noexcept;
  /// Why a wait on `channel` can never be met: no pattern matches it.
  [[nodiscard]] std::optional<Error> unrecorded(std::string_view channel) const;
  /// The error of samples<T>() for a channel that carried `found`.
  [[nodiscard]] Error type_mismatch(std::string_view channel, const Schema& expected, std::uint64_t found) const;
  /// Calls f(header, payload) for each sample of `channel` (all if empty) in
  /// order until it returns false. `locked`: the caller holds the lock.
  void visit(std::string_view channel, const std::function<bool(const SampleHeader&, const std::string&)>& f,
             bool locked = false) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace statebus
