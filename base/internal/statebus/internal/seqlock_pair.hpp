#pragma once
/// A crash-safe double-buffered seqlock in shared memory: one value kept in
/// two copies, a version that says which copy is current, and a sequence
/// per copy. The state cells and the clock's parameters are both one.
/// Internal to statebus.
///
/// The words (SeqlockWords, in the segment):
///   version  completed writes (0: none yet); its low bit is the current copy
///   seq[c]   per copy c: 2v − 1 while version v is written into it, 2v after
/// The copies are the user's, anywhere in the same mapping, made of 8-byte
/// atomic words (load_words/store_words, or atomic fields) read and written
/// relaxed: the data is never touched non-atomically, so the protocol is
/// clean under ThreadSanitizer and for the C++ memory model (Boehm's seqlock:
/// relaxed data, fences, re-check).
///
/// The writer:  next = begin_write(); fill copy_of(next); publish(next);
///   (or write(fill)). It fills the copy readers are not directed to,
///   bracketed by that copy's sequence, then publishes the version.
/// The reader:  version = read(copy_out); copy_out(c) reads copy c.
///   It reads the current copy and accepts it only if that copy's sequence
///   said, before and after, that it holds the published version it read
///   (2 × version: even, and no newer version written into it since).
///
/// Contract (each line a static_assert, a test in
/// tests/concurrency/threads_test.cpp, or an argument below):
/// - Never torn or mixed: a read accepts a copy only if no write into it
///   began before its re-check; it returns one version's value, whole.
/// - Never back: read() returns only published versions, so one reader's
///   successive reads never return an older version than before (a copy
///   written but not yet published is not taken).
/// - One writer at a time: callers serialise writers (the cells and the
///   clock each hold a robust process-shared mutex); readers take no lock
///   and write nothing.
/// - Crash-safe: a writer killed anywhere between begin_write() and
///   publish() was filling the spare copy; the current copy is intact and
///   stays current. The next writer writes the same version into the same
///   copy again (begin_write() reads the published version).
/// - Readers never wait for a writer: a read retries only when the copy it
///   read is being (or was) rewritten, which needs a newer version to be
///   published first, so a retry always finds a complete copy (lock-free; only a
///   stream of writes that laps a reader again and again delays it, and it
///   yields then). A dead or stopped writer delays no read.
/// - write_begun_after(v) tells whether a write of version v + 1 (or a
///   later one) has begun: the clock uses it to pair its parameters with
///   the real time they were read at (clock/src/clock_core.hpp).
/// - Address-free and lock-free: plain 8-byte atomics in a shared mapping,
///   any number of readers in any processes.
///
/// Example:
///   SeqlockWords words;                       // in shared memory
///   std::atomic<std::uint64_t> copies[2][4];  // two copies of 32 bytes
///   SeqlockPair pair(words);
///   pair.write([&](std::uint64_t c) { store_words(copies[c], &value, sizeof value); });
///   const std::uint64_t v = pair.read([&](std::uint64_t c) { load_words(copies[c], &out, sizeof out); });

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <thread>
#include <type_traits>
#include <utility>

namespace statebus::detail {

/// The pair's words in shared memory (24 bytes, 8-byte aligned): a layout
/// that segments embed, so any change to it is a segment major bump.
struct SeqlockWords {
  std::atomic<std::uint64_t> version{0};  // completed writes; low bit: the current copy
  std::atomic<std::uint64_t> seq[2]{};    // per copy: 2v − 1 while version v is written, 2v after
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the words live in shared memory");
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && alignof(std::atomic<std::uint64_t>) == 8,
              "a copy is made of plain 8-byte words");
static_assert(std::is_standard_layout_v<SeqlockWords>, "a shared-memory layout");
static_assert(sizeof(SeqlockWords) == 24 && alignof(SeqlockWords) == 8, "segments place the words by these");
static_assert(offsetof(SeqlockWords, version) == 0 && offsetof(SeqlockWords, seq) == 8, "a shared-memory layout");

/// Copies `size` bytes from `in` into a copy's words, as relaxed atomics
/// (the last word zero-padded). For the writer's fill.
inline void store_words(std::atomic<std::uint64_t>* words, const void* in, std::size_t size) noexcept {
  const auto* bytes = static_cast<const unsigned char*>(in);
  for (std::size_t i = 0; i * 8 < size; ++i) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes + i * 8, std::min<std::size_t>(8, size - i * 8));
    words[i].store(word, std::memory_order_relaxed);
  }
}

/// Copies `size` bytes of a copy's words into `out`, as relaxed atomics.
/// For the reader's copy-out: what it reads counts only once read() accepts it.
inline void load_words(const std::atomic<std::uint64_t>* words, void* out, std::size_t size) noexcept {
  auto* bytes = static_cast<unsigned char*>(out);
  for (std::size_t i = 0; i * 8 < size; ++i) {
    const std::uint64_t word = words[i].load(std::memory_order_relaxed);
    std::memcpy(bytes + i * 8, &word, std::min<std::size_t>(8, size - i * 8));
  }
}

/// The two algorithms on a pair's words. A view: holds a reference, owns
/// nothing, costs nothing to make.
class SeqlockPair {
 public:
  explicit SeqlockPair(SeqlockWords& words) noexcept : words_(words) {}

  /// The copy (0 or 1) that holds `version`.
  static constexpr std::uint64_t copy_of(std::uint64_t version) noexcept { return version & 1U; }

  /// Writer: starts writing the next version into the spare copy and
  /// returns it; fill copy_of(next), then publish(next). The caller
  /// serialises writers. If the writer dies before publish(), nothing a
  /// reader reads changes, and the next begin_write() returns the same version.
  [[nodiscard]] std::uint64_t begin_write() noexcept {
    const std::uint64_t next = words_.version.load(std::memory_order_relaxed) + 1;  // ours alone: writers serialise
    words_.seq[copy_of(next)].store(2 * next - 1, std::memory_order_relaxed);
    // A reader that reads any word of the fill sees the odd sequence in its
    // re-check (its acquire fence pairs with this release fence).
    std::atomic_thread_fence(std::memory_order_release);
    return next;
  }

  /// Writer: the copy of `next` is filled; makes it the current one.
  void publish(std::uint64_t next) noexcept {
    words_.seq[copy_of(next)].store(2 * next, std::memory_order_release);  // the fill before the even sequence
    words_.version.store(next, std::memory_order_release);                 // readers that see it see the fill
  }

  /// Writer: begin_write(), `fill(copy)`, publish(); returns the version written.
  template <class Fill>
  std::uint64_t write(Fill&& fill) noexcept {
    const std::uint64_t next = begin_write();
    fill(copy_of(next));
    publish(next);
    return next;
  }

  /// Reader: calls `copy_out(copy)` until it read the published version's
  /// copy whole, and returns that version. `copy_out` may run several times and
  /// must only read (relaxed atomics): what it read last is the value.
  /// `after_version()` runs between reading the version and the copy's
  /// sequence (a test seam: a reader preempted there).
  template <class CopyOut, class AfterVersion>
  std::uint64_t read(CopyOut&& copy_out, AfterVersion&& after_version) const noexcept {
    for (unsigned attempt = 0;; ++attempt) {
      // Acquire: the published copy's fill is visible from here on.
      const std::uint64_t version = words_.version.load(std::memory_order_acquire);
      after_version();
      const std::atomic<std::uint64_t>& seq = words_.seq[copy_of(version)];
      // 2 × version: the copy holds the version read. Anything else is a
      // newer version being written into this copy (odd) or written there
      // (even, maybe not yet published): `version` has moved on; read it
      // again. A copy newer than the published version is never taken, so a
      // reader's versions never go back.
      if (seq.load(std::memory_order_acquire) == 2 * version) {
        copy_out(copy_of(version));
        std::atomic_thread_fence(std::memory_order_acquire);  // the copy is read before the re-check
        if (seq.load(std::memory_order_relaxed) == 2 * version) return version;
      }
      // Lapped by writers again and again: let them run (not a wait for one).
      if (attempt > 16) std::this_thread::yield();
    }
  }
  template <class CopyOut>
  std::uint64_t read(CopyOut&& copy_out) const noexcept {
    return read(std::forward<CopyOut>(copy_out), [] {});
  }

  /// The published version (0: nothing written yet).
  [[nodiscard]] std::uint64_t version() const noexcept { return words_.version.load(std::memory_order_acquire); }

  /// Whether a write of version `version` + 1 or later has begun. Sequentially
  /// consistent, so that a reader that fences (seq_cst) after a reading of
  /// its own and then finds no write begun knows that every writer's
  /// begin_write() followed by a seq_cst fence comes after that reading.
  [[nodiscard]] bool write_begun_after(std::uint64_t version) const noexcept {
    // The spare copy's sequence only grows: 2(version − 1) until the next write begins.
    return words_.seq[copy_of(version + 1)].load(std::memory_order_seq_cst) > 2 * version;
  }

  /// Whether a write began and was not published: a writer is inside, or
  /// died there and no writer has written since.
  [[nodiscard]] bool write_pending() const noexcept {
    const std::uint64_t version = words_.version.load(std::memory_order_seq_cst);
    return write_begun_after(version) && words_.version.load(std::memory_order_seq_cst) == version;
  }

 private:
  SeqlockWords& words_;
};

}  // namespace statebus::detail
