#pragma once
// Gives back the chunks that killed processes left behind. A process
// SIGKILLed inside publish(), take() or release() can die holding a chunk
// reference only on its stack (iceoryx 2.0 says so in chunk_sender.inl):
// RouDi's cleanup never sees it, and the chunk is lost to its pool for good.
// The 4 MiB pool holds 3 chunks: three such kills and nobody on the bus can
// send a large sample again.
//
// A kill can also fall inside the pools' own bookkeeping: between taking a
// slot from a pool's free list and recording the chunk (a slot that no
// chunk record points to), between giving a chunk back and giving back its
// record (a record taken but counting 0 references), or between giving a
// slot back and counting it (a pool's count of chunks in use off by one).
// Each is repaired the same way, once it has held for the whole grace. A
// kill between taking a slot and marking it taken loses that slot for good:
// it looks free, and giving it back could free it twice.
//
// A chunk is leaked when it is in use (reference count above 0) and nothing
// on the bus refers to it: no publisher has it loaned, as its last chunk or
// in its history; no subscriber holds it; no subscriber queue that could
// contain it holds anything. The reclaimer looks every `period` and frees a
// chunk it has found leaked on every look for `grace`. A live process only
// ever carries a chunk unreferenced for the few instructions between two of
// those places; the grace covers a process descheduled there, and no chunk
// is freed while a process that could carry it is stopped (SIGSTOP, a
// debugger): it may be stopped in exactly such a window.
//
// Thread safety: scan() from one thread (the daemon's janitor). It reads the
// ports and the chunk bookkeeping without RouDi's locks; a reading torn by a
// concurrent change can only make a chunk look referenced (which restarts
// its grace), never the reverse for as long as the grace lasts.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace iox::roudi {
class PortPool;
}
namespace iox::mepoo {
class MemoryManager;
}

namespace statebus::detail {

/// What one scan gave back.
struct ChunksReclaimed {
  std::uint32_t chunks = 0;
  std::vector<std::uint32_t> per_pool;  ///< chunks given back to each pool, smallest chunks first
  std::uint32_t bookkeeping = 0;        ///< chunk management records given back on their own
  std::uint32_t counters = 0;           ///< pools whose count of chunks in use was set right
};

class ChunkReclaimer {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kGrace{500};

  ChunkReclaimer(iox::roudi::PortPool& ports, iox::mepoo::MemoryManager& memory) noexcept
      : ports_(ports), memory_(memory) {}

  /// One look at every chunk in use; frees those found leaked for `kGrace`.
  ChunksReclaimed scan(Clock::time_point now = Clock::now());
  /// Chunks given back so far. Thread-safe.
  [[nodiscard]] std::uint64_t reclaimed() const noexcept;
  /// Where a look at a pool can be interrupted (for tests).
  enum class LookPoint {
    counting,  ///< its count of chunks in use read, its taken slots not yet counted
    finding,   ///< the chunk records read, its slots not yet looked at for orphans
  };
  /// Tests only: runs at each LookPoint of every pool's look.
  void set_look_hook(std::function<void(LookPoint)> hook) { look_hook_ = std::move(hook); }

 private:
  struct Suspect {
    std::uint64_t origin = 0;
    std::uint64_t sequence = 0;
    Clock::time_point since;
    bool seen = false;  // in the current scan
  };

  struct Since {
    Clock::time_point since;
    std::int64_t value = 0;  // what was seen: a pool's count error
    bool seen = false;
  };
  void repair_pools(Clock::time_point now, ChunksReclaimed& result);

  iox::roudi::PortPool& ports_;
  std::unordered_map<const void*, Since> orphans_;  // slots and records taken that nothing manages
  std::unordered_map<const void*, Since> drifts_;   // pools whose count of chunks in use is off
  iox::mepoo::MemoryManager& memory_;
  std::unordered_map<const void*, Suspect> suspects_;  // by chunk header
  std::unordered_map<std::uint64_t, std::string> channels_;  // publisher id → its channel
  std::atomic<std::uint64_t> reclaimed_{0};
  std::function<void(LookPoint)> look_hook_;
};

}  // namespace statebus::detail
