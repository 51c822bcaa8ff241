// libFuzzer: the state segment's readers on arbitrary registry and arena
// contents (any member of the bus's group may write the segment). Every
// entry is either refused as `corrupt_segment` or checked so that reading
// its header, both copies of its value and its schema stays inside the
// segment: ASan reports any byte read outside it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "layout.hpp"
#include "segment_check.hpp"

namespace {

using namespace statebus::detail;

StateSegmentData& segment() {
  // Heap, exactly the segment's size: a read past its end is ASan's to see.
  static auto* data = static_cast<StateSegmentData*>(
      ::operator new(sizeof(StateSegmentData), std::align_val_t{alignof(StateSegmentData)}));
  return *data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  StateSegmentData& data = segment();
  // The input is the registry and then the arena's first bytes; the rest is zero.
  static std::size_t dirty = sizeof(StateSegmentData);
  std::memset(static_cast<void*>(&data), 0, dirty);
  const std::size_t used = std::min(size, sizeof(StateSegmentData));
  std::memcpy(static_cast<void*>(&data), bytes, used);
  dirty = std::max(used, sizeof(StateRegistry));

  std::uint64_t sum = 0;
  if (auto arena_used = checked_arena_used(data.registry)) sum += *arena_used;
  auto count = checked_count(data.registry);
  if (!count) return 0;
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto cell = checked_cell(data, i);
    if (!cell || !*cell) continue;
    const CheckedCell& c = **cell;
    const std::uint32_t words = words_for(c.size);
    sum += c.header->pair.version.load(std::memory_order_relaxed) + c.header->pair.seq[0].load() +
           c.header->pair.seq[1].load();
    for (std::uint64_t copy = 0; copy < 2; ++copy) {
      const std::atomic<std::uint64_t>* value = c.header->copy(copy, words);
      for (std::uint32_t w = 0; w < words; ++w) sum += value[w].load(std::memory_order_relaxed);
    }
    for (char ch : c.schema_json) sum += static_cast<unsigned char>(ch);
    sum += c.name.size();
  }
  // Keeps the reads: the compiler may not drop what the sum depends on.
  volatile std::uint64_t sink = sum;
  (void)sink;
  return 0;
}
