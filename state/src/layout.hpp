#pragma once
// The state segment's layout. Shared by every process on a bus: change it
// only with a new layout major version.

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "statebus/internal/seqlock_pair.hpp"

namespace statebus::detail {

inline constexpr const char* kStateSegmentName = "statebus-state";
inline constexpr std::uint64_t kStateMagic = 0x4554415453425553ULL;  // "SUBSTATE" little-endian
// 3: the wake word is an EventCount. The SeqlockPair (seqlock_pair.hpp) keeps
// version 3's words, at the same offsets, and its writers' protocol.
inline constexpr std::uint16_t kStateMajor = 3;
inline constexpr std::uint16_t kStateMinor = 0;

inline constexpr std::size_t kMaxCells = 256;
inline constexpr std::size_t kMaxNameLength = 63;
inline constexpr std::size_t kMaxValueSize = 64 * 1024;
inline constexpr std::size_t kArenaSize = 4 * 1024 * 1024;

/// One cell, 64-byte aligned in the arena: a SeqlockPair
/// (internal/seqlock_pair.hpp) whose two copies are the value. Line 0 holds
/// all a reader touches (the pair's version and sequences and, for values up
/// to 16 bytes, both copies), so that a store moves one cache line to a
/// reader; line 1 holds what only writers and waiters touch. Larger values
/// follow the header, two copies of whole 8-byte words.
struct alignas(64) CellHeader {
  static constexpr std::uint32_t kInlineWords = 2;
  // line 0: readers
  SeqlockWords pair;                      // version: completed stores (creation is 1); the copies are the value's
  std::uint32_t words = 0;                // 8-byte words per copy
  std::uint32_t reserved = 0;
  std::atomic<std::uint64_t> inline_copies[2 * kInlineWords]{};
  // line 1: writers and waiters
  alignas(64) pthread_mutex_t writer;      // process-shared, robust: serialises stores
  std::atomic<std::uint32_t> wake{0};      // an EventCount (internal/event_count.hpp): every store counts
  std::uint32_t reserved_wake = 0;
  std::atomic<std::int32_t> writer_pid{0};
  std::atomic<std::uint64_t> writer_start_time{0};

  /// Copy `index & 1` of a value of `value_words` words per copy: the count
  /// the reader checked when it opened the cell, never `words` as it is now
  /// in shared memory (segment_check.hpp).
  std::atomic<std::uint64_t>* copy(std::uint64_t index, std::uint32_t value_words) noexcept {
    auto* base = value_words <= kInlineWords ? inline_copies : reinterpret_cast<std::atomic<std::uint64_t>*>(this + 1);
    return base + (index & 1U) * value_words;
  }
  /// Bytes this cell takes in the arena, header included.
  static std::uint64_t footprint(std::uint32_t words) noexcept {
    return sizeof(CellHeader) + (words <= kInlineWords ? 0 : 2ULL * words * 8);
  }
};

struct RegistryEntry {
  std::atomic<std::uint32_t> ready{0};  // stored last, with release
  std::uint32_t size = 0;
  std::uint64_t fingerprint = 0;
  std::uint64_t cell_offset = 0;    // from the arena's start
  std::uint64_t schema_offset = 0;  // the schema's JSON, in the arena
  std::uint32_t schema_size = 0;
  char name[kMaxNameLength + 1] = {};
};

struct StateRegistry {
  pthread_mutex_t lock;  // process-shared, robust: serialises creation
  std::atomic<std::uint32_t> count{0};
  std::uint64_t arena_used = 0;
  RegistryEntry entries[kMaxCells];
};

struct StateSegmentData {
  StateRegistry registry;
  alignas(64) unsigned char arena[kArenaSize];
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(CellHeader) == 128 && offsetof(CellHeader, writer) == 64, "two cache lines");
// A load of up to 16 bytes touches line 0 only: the pair's words and both inline copies.
static_assert(offsetof(CellHeader, pair) == 0 &&
                  offsetof(CellHeader, inline_copies) + sizeof(CellHeader::inline_copies) <= 64,
              "a reader's words share the first cache line");

}  // namespace statebus::detail
