#pragma once
/// The bus's log rings: one shared-memory segment (/dev/shm/statebus-log,
/// created by the daemon) holding a ring of log records per logging
/// process. A log call copies its record into its process's ring and
/// returns: no chunk to loan, no queue to lock, no system call unless a
/// reader sleeps. A record is in shared memory once the call returns, so a
/// process SIGKILLed right after it loses nothing: readers (the recorder,
/// `statebus log`) find the record afterwards.
///
/// - One writer per ring: the process that claimed it (its place on the bus,
///   process_slot.hpp), its threads serialised by a process-wide mutex. The
///   daemon frees a ring once the kernel reported its process's death, and
///   only then; the next process that claims it writes on after the dead
///   one's records, so none is erased by the hand-over.
/// - Readers never write the rings: each keeps its own positions, any
///   number of them. A writer never waits for a reader: when its ring is
///   full it overwrites its oldest records, and a reader that had not read
///   them sees a gap in the records' sequence numbers (SampleHeader).
/// - Wake-ups: a reader sleeps on the segment's bell (an EventCount); a
///   writer rings it only when a reader announced a sleep, so a burst of
///   records wakes a sleeping reader once.
/// - Untrusted memory: readers check every position and size and skip what
///   does not fit; a writer that finds its ring damaged starts it afresh.
///   Internal: not installed.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "statebus/base/error.hpp"
#include "statebus/bus/log_record.hpp"
#include "statebus/bus/sample_header.hpp"

namespace statebus::detail {

inline constexpr const char* kLogSegmentName = "statebus-log";
inline constexpr std::uint32_t kLogRings = 128;             // logging processes on a bus at once
inline constexpr std::uint32_t kLogRingBytes = 128 * 1024;  // each: ~500 records of 200 bytes
inline constexpr std::uint32_t kLogRecordMax = 8 * 1024;    // a longer text is cut
/// A ring's records say they are log records with this bit in their
/// publisher_port: no iceoryx port id has it.
inline constexpr std::uint64_t kLogPortBit = 1ULL << 63;

/// A ring's own words, one cache line.
struct LogRingHead {
  std::atomic<std::uint32_t> owner{0};   // the place (process_slot.hpp) writing it; 0: free
  std::atomic<std::int32_t> pid{0};      // its process, for people
  std::atomic<std::uint64_t> head{0};    // bytes ever committed (a multiple of 8): records end here
  std::atomic<std::uint64_t> tail{0};    // where the oldest record not overwritten starts
  std::atomic<std::uint64_t> claims{0};  // claims so far: a claim's records name it in publisher_port
  std::uint8_t reserved[32] = {};
};
static_assert(sizeof(LogRingHead) == 64);

/// The segment's data.
struct LogSegment {
  std::atomic<std::uint32_t> bell{0};  // an EventCount (event_count.hpp): readers sleep here
  std::uint32_t rings = kLogRings;
  std::uint32_t ring_bytes = kLogRingBytes;
  std::uint8_t reserved[52] = {};
  LogRingHead heads[kLogRings];
  char data[kLogRings][kLogRingBytes];
};
static_assert(sizeof(LogSegment) == 64 + 64 * kLogRings + std::size_t{kLogRings} * kLogRingBytes);
/// The segment's file: its header and the rings (16 MiB, reserved when made).
inline constexpr std::uint64_t kLogSegmentBytes = 64 + sizeof(LogSegment);

/// Creates the segment, replacing a stale one (the daemon).
Result<void> create_log_segment();
/// Removes it; processes keep their mapping.
void remove_log_segment() noexcept;
/// Frees the ring of the process at `place` (the daemon, once the kernel
/// reported its death; never for a live process).
void forget_log_ring(std::uint32_t place) noexcept;

/// This process's ring: claimed on first use, written by every thread of
/// the process (one at a time).
class LogWriter {
 public:
  /// Claims a ring for this process if it has none on its current bus.
  /// Fails with no_daemon (no log segment), invalid_argument (this process
  /// has no place on the bus) or out_of_resources (every ring is held by a
  /// live process).
  static Result<void> claim();
  /// Copies one record into the ring: `record` is a LogRecordHeader and its
  /// text (text_size set here, the text cut to fit kLogRecordMax). The
  /// record's sample header gets the time of `record.wall_time_ns` (the
  /// caller's CLOCK_REALTIME reading, spdlog's) on CLOCK_MONOTONIC and the
  /// bus's clock; so does `record`'s virtual_time_ns when `stamp`. A replay
  /// (no `stamp`) keeps the recorded times and gets the clocks' now. The two clocks differ by an offset that only
  /// a setting of the wall clock changes: it is read again every 50 ms of
  /// wall time and whenever the wall clock went back, so a record's time is
  /// exact but within 50 ms after someone set the wall clock forward.
  /// False (nothing written) without a claimed ring for this process on its
  /// current bus, e.g. in a child forked from a logging process.
  static bool write(LogRecordHeader& record, std::string_view text, bool stamp = true) noexcept;
};

/// A reader of every ring, from where they stood when it opened (or from
/// their oldest records). Not thread-safe: one thread at a time.
class LogReader {
 public:
  enum class From { now, oldest };
  /// Fails with no_daemon without a log segment.
  static Result<LogReader> open(From from = From::now);

  /// Hands the records committed since the last call to `on_record(const
  /// SampleHeader&, std::string_view payload)` (payload: LogRecordHeader and
  /// text), ring by ring, at most a ring's worth of each (a writer that
  /// floods its ring starves no other); returns how many.
  template <class OnRecord>
  std::size_t drain(OnRecord&& on_record) {
    constexpr std::size_t kPerRing = kLogRingBytes / 256;
    std::size_t count = 0;
    for (std::uint32_t ring = 0; ring < kLogRings; ++ring) {
      for (std::size_t n = 0; n < kPerRing && next(ring); ++n) {
        on_record(header_, std::string_view(buffer_.data(), header_.payload_size));
        ++count;
      }
    }
    return count;
  }
  /// Announces a sleep: 0 if a record was committed since the last drain,
  /// else the ticket for sleep(). With drain(), one thread at a time.
  [[nodiscard]] std::uint32_t prepare_sleep() noexcept;
  /// Sleeps until a record may have been committed after prepare_sleep()
  /// gave `ticket`, or interrupt(), at most `timeout`; false if it slept the
  /// whole time. Thread-safe (also while another thread drains).
  bool sleep(std::uint32_t ticket, std::chrono::nanoseconds timeout) noexcept;
  /// Lets records gather for at most `timeout` without announcing a sleep
  /// (writers make no system call for it), ended early by interrupt().
  /// Thread-safe.
  void gather(std::chrono::nanoseconds timeout) noexcept;
  /// Ends every sleep and gathering on the bus's log now (they look again).
  void interrupt() noexcept;
  /// Events counted on the bus's log bell so far (each a writer that found
  /// a reader announced asleep, or an interrupt()).
  [[nodiscard]] std::uint32_t bell_events() const noexcept;
  /// The pid of each ring's writer, for the rings held (by live processes,
  /// or dead ones the daemon has not yet learnt of).
  [[nodiscard]] std::vector<std::int32_t> writers() const;
  /// Records skipped as damaged (sizes that do not fit): a ring written by
  /// something other than statebus.
  [[nodiscard]] std::uint64_t damaged() const noexcept { return damaged_; }

 private:
  explicit LogReader(LogSegment* segment) noexcept : segment_(segment) {}
  bool next(std::uint32_t ring);  // the next record into header_ and buffer_
  [[nodiscard]] bool anything_new() const noexcept;

  LogSegment* segment_ = nullptr;
  std::vector<std::uint64_t> positions_ = std::vector<std::uint64_t>(kLogRings, 0);
  SampleHeader header_{};
  std::vector<char> buffer_ = std::vector<char>(kLogRecordMax);
  std::uint64_t damaged_ = 0;
};

}  // namespace statebus::detail
