// The bus's log rings (statebus/internal/log_ring.hpp): the segment, a
// process's claim, its writes, and the readers.
//
// A record in a ring, at a position that is a multiple of 8 (positions
// count bytes ever written; the ring holds position % kLogRingBytes):
//   u32 size (of the whole record, a multiple of 8) | u32 kRecordMark |
//   SampleHeader | LogRecordHeader | text | padding
// A writer first moves the ring's tail past the records it will overwrite,
// then (after a release fence) writes, then moves the head (release).
// A reader copies a record, then (after an acquire fence) reads the tail:
// if the tail moved past the record's start the copy may be torn, and the
// record is skipped as overwritten. The seqlock's order, per ring.
#include "statebus/internal/log_ring.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include "statebus/base/process.hpp"
#include "statebus/internal/bus_segment.hpp"
#include "statebus/internal/event_count.hpp"
#include "statebus/internal/process_slot.hpp"
#include "statebus/internal/virtual_waits.hpp"

namespace statebus::detail {
namespace {

constexpr std::uint64_t kLogMagic = 0x474f4c4253554253ULL;  // "SBUSBLOG" little-endian
constexpr std::uint16_t kLogMajor = 1;
constexpr std::uint16_t kLogMinor = 0;
constexpr std::uint32_t kRecordMark = 0x52474f4c;  // "LOGR"
constexpr std::uint32_t kFrame = 8;                // size and mark
constexpr std::uint32_t kRecordMin = kFrame + sizeof(SampleHeader) + sizeof(LogRecordHeader);

BusSegment<LogSegment> g_segment{
    kLogSegmentName, SharedSegment::Layout{kLogMagic, kLogMajor, kLogMinor, sizeof(LogSegment), "log segment"}};

constexpr std::uint64_t align8(std::uint64_t n) noexcept { return (n + 7) & ~std::uint64_t{7}; }

// Copies between a ring and plain memory, across the ring's end.
void copy_in(char* ring, std::uint64_t position, const void* from, std::size_t n) noexcept {
  const std::size_t at = position % kLogRingBytes;
  const std::size_t first = std::min<std::size_t>(n, kLogRingBytes - at);
  std::memcpy(ring + at, from, first);
  std::memcpy(ring, static_cast<const char*>(from) + first, n - first);
}
void copy_out(const char* ring, std::uint64_t position, void* to, std::size_t n) noexcept {
  const std::size_t at = position % kLogRingBytes;
  const std::size_t first = std::min<std::size_t>(n, kLogRingBytes - at);
  std::memcpy(to, ring + at, first);
  std::memcpy(static_cast<char*>(to) + first, ring, n - first);
}

// Whether a ring's head and tail can be a writer's: aligned, in order, at
// most a ring apart.
bool sane(std::uint64_t head, std::uint64_t tail) noexcept {
  return head % 8 == 0 && tail % 8 == 0 && tail <= head && head - tail <= kLogRingBytes;
}

// This process's claim, under g_writer_mutex.
struct Claim {
  LogSegment* segment = nullptr;  // the bus's segment it was made in
  std::uint32_t ring = 0;
  std::uint32_t place = kNoSlot;
  std::uint64_t port = 0;  // publisher_port of its records
  std::int64_t claimed_ns = 0;
  std::uint64_t sequence = 0;
  ProcessId self{};
  // CLOCK_REALTIME − CLOCK_MONOTONIC, and the wall time it was read at.
  std::int64_t wall_offset = 0;
  std::int64_t offset_read_at = 0;
};

std::int64_t realtime_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// CLOCK_MONOTONIC at the wall-clock reading `wall`: the offset between the
// clocks changes only when someone sets the wall clock (both are slewed
// alike), so it is read again every 50 ms of wall time, or at once if the
// wall clock went back.
std::int64_t monotonic_at(Claim& claim, std::int64_t wall) noexcept {
  constexpr std::int64_t kRefresh = 50'000'000;
  if (wall < claim.offset_read_at || wall - claim.offset_read_at > kRefresh || claim.offset_read_at == 0) {
    const std::int64_t before = realtime_ns();
    const std::int64_t mono = monotonic_ns();
    const std::int64_t after = realtime_ns();
    claim.wall_offset = before + (after - before) / 2 - mono;
    claim.offset_read_at = after;
  }
  return wall - claim.wall_offset;
}
std::mutex g_writer_mutex;  // claims
// Writes, one at a time: held for a few hundred nanoseconds, never across
// a system call but the bell's rare wake-up, so a spin costs less than a
// mutex's second read-modify-write.
std::atomic<bool> g_writing{false};
Claim g_claim;  // written under both

struct Writing {
  Writing() noexcept {
    for (unsigned spins = 0; g_writing.exchange(true, std::memory_order_acquire);) {
      while (g_writing.load(std::memory_order_relaxed)) {
        if (++spins > 64) std::this_thread::yield();  // the holder was preempted
      }
    }
  }
  ~Writing() { g_writing.store(false, std::memory_order_release); }
  Writing(const Writing&) = delete;
  Writing& operator=(const Writing&) = delete;
};

}  // namespace

Result<void> create_log_segment() {
  auto created = g_segment.create([](void* bytes) -> Result<void> {
    new (bytes) LogSegment();
    return {};
  });
  if (!created) return tl::make_unexpected(created.error());
  return {};
}

void remove_log_segment() noexcept { g_segment.unlink(); }

void forget_log_ring(std::uint32_t place) noexcept {
  LogSegment* segment = g_segment.get();
  if (segment == nullptr || place == kNoSlot) return;
  for (LogRingHead& head : segment->heads) {
    std::uint32_t owner = place;
    if (head.owner.compare_exchange_strong(owner, kNoSlot, std::memory_order_acq_rel)) head.pid.store(0);
  }
}

Result<void> LogWriter::claim() {
  auto segment = g_segment.attached();
  if (!segment) return tl::make_unexpected(segment.error());
  const std::uint32_t place = process_slot();
  if (place == kNoSlot) {
    return fail(Errc::invalid_argument, "this process has no place on the bus (connect a Node first; a child "
                                        "forked from a process on the bus must connect one of its own)");
  }
  const std::lock_guard<std::mutex> lock(g_writer_mutex);
  if (g_claim.segment == *segment && g_claim.place == place) return {};
  LogSegment& s = **segment;
  for (;;) {
    // The free ring written least: a dead process's ring is taken again
    // only once the others were, which leaves its readers time to read the
    // dead one's last records before a new writer overwrites them.
    std::uint32_t i = kLogRings;
    std::uint64_t least = ~std::uint64_t{0};
    for (std::uint32_t candidate = 0; candidate < kLogRings; ++candidate) {
      const LogRingHead& ring = s.heads[candidate];
      const std::uint64_t written = ring.head.load(std::memory_order_relaxed);
      if (ring.owner.load(std::memory_order_acquire) == kNoSlot && written < least) {
        i = candidate;
        least = written;
      }
    }
    if (i == kLogRings) break;
    LogRingHead& head = s.heads[i];
    std::uint32_t free = kNoSlot;
    if (!head.owner.compare_exchange_strong(free, place, std::memory_order_acq_rel)) continue;  // taken meanwhile
    head.pid.store(this_process().pid, std::memory_order_relaxed);
    // A ring a dead process left is written on after its records; one
    // whose words no writer could have left starts afresh.
    const std::uint64_t h = head.head.load(std::memory_order_relaxed);
    if (!sane(h, head.tail.load(std::memory_order_relaxed))) {
      const std::uint64_t fresh = align8(h);
      head.tail.store(fresh, std::memory_order_relaxed);
      head.head.store(fresh, std::memory_order_release);
    }
    const std::uint64_t claims = head.claims.fetch_add(1, std::memory_order_relaxed) + 1;
    const Writing writing;
    g_claim = Claim{};
    g_claim.segment = *segment;
    g_claim.ring = i;
    g_claim.place = place;
    g_claim.port = kLogPortBit | (std::uint64_t{i} << 40) | (claims & 0xffffffffffULL);
    g_claim.claimed_ns = monotonic_ns();
    g_claim.self = this_process();
    return {};
  }
  return fail(Errc::out_of_resources, "all " + std::to_string(kLogRings) +
                                          " log rings of the bus are held by live processes: end some of them "
                                          "(a dead process's ring is freed as soon as its death is known)");
}

bool LogWriter::write(LogRecordHeader& record, std::string_view text, bool stamp) noexcept {
  // A forked child (no place) never waits for a lock its parent's other
  // threads may have held at the fork.
  if (process_slot() == kNoSlot) return false;
  const Writing writing;
  // A forked child has no place: its parent's ring is not its to write.
  if (g_claim.segment == nullptr || g_claim.segment != g_segment.get() || process_slot() != g_claim.place) {
    return false;
  }
  LogSegment& s = *g_claim.segment;
  LogRingHead& ring = s.heads[g_claim.ring];
  char* data = s.data[g_claim.ring];
  text = text.substr(0, kLogRecordMax - kRecordMin);
  record.text_size = static_cast<std::uint32_t>(text.size());
  const ProcessId& self = g_claim.self;
  SampleHeader sample;
  sample.sequence = ++g_claim.sequence;
  sample.publisher_port = g_claim.port;
  sample.publisher_start_time = self.start_time;
  sample.publisher_created_ns = g_claim.claimed_ns;
  if (stamp && record.wall_time_ns > 0) {  // a replay's wall times are the recording's
    sample.real_time_ns = monotonic_at(g_claim, record.wall_time_ns);
    sample.virtual_time_ns = virtual_at_real_ns(sample.real_time_ns);
  } else {
    sample.virtual_time_ns = virtual_and_real_ns(sample.real_time_ns);
  }
  sample.publisher_pid = self.pid;
  sample.payload_size = static_cast<std::uint32_t>(sizeof record + text.size());
  if (stamp) record.virtual_time_ns = sample.virtual_time_ns;
  const std::uint32_t size = static_cast<std::uint32_t>(align8(kFrame + sizeof sample + sample.payload_size));

  std::uint64_t head = ring.head.load(std::memory_order_relaxed);
  std::uint64_t tail = ring.tail.load(std::memory_order_relaxed);
  if (!sane(head, tail)) head = tail = align8(head);  // not a writer's words: start afresh
  // Room for the record: move the tail past the oldest records (our own,
  // complete: every byte between tail and head was committed).
  while (head + size - tail > kLogRingBytes) {
    std::uint32_t old = 0;
    copy_out(data, tail, &old, sizeof old);
    if (old < kRecordMin || old % 8 != 0 || old > head - tail) {
      tail = head;  // damaged: give up the old records
      break;
    }
    tail += old;
  }
  ring.tail.store(tail, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // the tail before any byte it frees is overwritten
  const std::uint32_t frame[2] = {size, kRecordMark};
  copy_in(data, head, frame, sizeof frame);
  copy_in(data, head + kFrame, &sample, sizeof sample);
  copy_in(data, head + kFrame + sizeof sample, &record, sizeof record);
  copy_in(data, head + kFrame + sizeof sample + sizeof record, text.data(), text.size());
  // A reader announces a sleep before its last look at the heads: either
  // it sees this head, or the load below sees its announcement (the
  // exchange orders the two, as a fence would, for less).
  (void)ring.head.exchange(head + size, std::memory_order_seq_cst);
  EventCount bell(s.bell);
  if (bell.may_have_sleepers()) bell.notify();
  return true;
}

Result<LogReader> LogReader::open(From from) {
  auto segment = g_segment.attached();
  if (!segment) return tl::make_unexpected(segment.error());
  LogReader reader(*segment);
  for (std::uint32_t i = 0; i < kLogRings; ++i) {
    const LogRingHead& ring = (*segment)->heads[i];
    const std::uint64_t head = ring.head.load(std::memory_order_acquire);
    const std::uint64_t tail = ring.tail.load(std::memory_order_acquire);
    reader.positions_[i] = from == From::now || !sane(head, tail) ? head : tail;
  }
  return reader;
}

bool LogReader::next(std::uint32_t ring) {
  const LogRingHead& heads = segment_->heads[ring];
  const char* data = segment_->data[ring];
  std::uint64_t& position = positions_[ring];
  for (;;) {
    const std::uint64_t head = heads.head.load(std::memory_order_acquire);
    if (position >= head) {
      if (position > head || head - position > kLogRingBytes) position = head;  // not a writer's head
      return false;
    }
    const std::uint64_t tail = heads.tail.load(std::memory_order_acquire);
    if (!sane(head, tail)) {  // no writer's words: nothing here to trust
      position = head;
      return false;
    }
    if (position < tail || position % 8 != 0) {
      position = tail;  // overwritten: a gap in the sequence
      continue;
    }
    std::uint32_t frame[2] = {};
    copy_out(data, position, frame, sizeof frame);
    const std::uint32_t size = frame[0];
    bool fits = frame[1] == kRecordMark && size >= kRecordMin && size % 8 == 0 && size <= kLogRecordMax + 8 &&
                size <= head - position;
    if (fits) {
      copy_out(data, position + kFrame, &header_, sizeof header_);
      fits = header_.payload_size >= sizeof(LogRecordHeader) &&
             header_.payload_size <= size - kFrame - sizeof(SampleHeader);
      if (fits) copy_out(data, position + kFrame + sizeof header_, buffer_.data(), header_.payload_size);
    }
    std::atomic_thread_fence(std::memory_order_acquire);                  // the copy before the tail
    if (heads.tail.load(std::memory_order_relaxed) > position) continue;  // overwritten while copied
    if (!fits) {
      ++damaged_;
      position = head;  // no record boundary to trust before the head
      return false;
    }
    position += size;
    return true;
  }
}

bool LogReader::anything_new() const noexcept {
  for (std::uint32_t i = 0; i < kLogRings; ++i) {
    if (segment_->heads[i].head.load(std::memory_order_seq_cst) != positions_[i]) return true;
  }
  return false;
}

std::uint32_t LogReader::prepare_sleep() noexcept {
  const std::uint32_t ticket = EventCount(segment_->bell).prepare();
  return anything_new() ? 0 : ticket;
}

bool LogReader::sleep(std::uint32_t ticket, std::chrono::nanoseconds timeout) noexcept {
  return EventCount(segment_->bell).sleep(ticket, timeout.count());
}

void LogReader::gather(std::chrono::nanoseconds timeout) noexcept {
  EventCount bell(segment_->bell);
  (void)bell.sleep(bell.current(), timeout.count());
}

void LogReader::interrupt() noexcept {
  EventCount bell(segment_->bell);
  (void)bell.count();
  bell.wake();
}

std::uint32_t LogReader::bell_events() const noexcept { return segment_->bell.load(std::memory_order_seq_cst) >> 1; }

std::vector<std::int32_t> LogReader::writers() const {
  std::vector<std::int32_t> pids;
  for (const LogRingHead& ring : segment_->heads) {
    if (ring.owner.load(std::memory_order_acquire) != kNoSlot) pids.push_back(ring.pid.load(std::memory_order_relaxed));
  }
  return pids;
}

}  // namespace statebus::detail
