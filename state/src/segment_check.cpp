#include "segment_check.hpp"

#include <cstring>

namespace statebus::detail {

Error state_segment_damaged(const std::string& what) {
  return Error(Errc::corrupt_segment,
               "the state segment (/dev/shm/" + std::string(kStateSegmentName) + ") is damaged: " + what +
                   ". No statebus process writes that; restart `statebus daemon`, which makes a new one (the "
                   "cells' values are lost)");
}

Result<std::uint32_t> checked_count(const StateRegistry& registry) {
  const std::uint32_t count = registry.count.load(std::memory_order_acquire);
  if (count > kMaxCells) {
    return tl::make_unexpected(state_segment_damaged("its registry counts " + std::to_string(count) +
                                                     " cells, over the " + std::to_string(kMaxCells) + " it holds"));
  }
  return count;
}

Result<std::uint64_t> checked_arena_used(const StateRegistry& registry) {
  const std::uint64_t used = registry.arena_used;
  if (used > kArenaSize) {
    return tl::make_unexpected(state_segment_damaged("its registry says " + std::to_string(used) +
                                                     " bytes of the arena are used, over its " +
                                                     std::to_string(kArenaSize)));
  }
  return used;
}

Result<std::optional<CheckedCell>> checked_cell(StateSegmentData& data, std::uint32_t index) {
  const RegistryEntry& entry = data.registry.entries[index];
  if (entry.ready.load(std::memory_order_acquire) == 0) return std::optional<CheckedCell>();
  CheckedCell cell;
  cell.name.assign(entry.name, ::strnlen(entry.name, sizeof entry.name));
  cell.size = entry.size;
  cell.fingerprint = entry.fingerprint;
  const std::uint64_t cell_offset = entry.cell_offset;
  const std::uint64_t schema_offset = entry.schema_offset;
  const std::uint64_t schema_size = entry.schema_size;
  const std::string which = "cell " + std::to_string(index) + " ('" + cell.name + "')";
  auto bad = [&](const std::string& field, std::uint64_t value, const std::string& rule) {
    return tl::make_unexpected(
        state_segment_damaged(which + " has " + field + " " + std::to_string(value) + ", " + rule));
  };
  if (cell.name.empty() || cell.name.size() == sizeof entry.name) {
    return tl::make_unexpected(state_segment_damaged(which + " has no name of 1–" +
                                                     std::to_string(kMaxNameLength) + " characters"));
  }
  if (cell.size == 0 || cell.size > kMaxValueSize) {
    return bad("size", cell.size, "not 1 to " + std::to_string(kMaxValueSize) + " bytes");
  }
  const std::uint32_t words = words_for(cell.size);
  if (cell_offset % 64 != 0 || cell_offset > kArenaSize || CellHeader::footprint(words) > kArenaSize - cell_offset) {
    return bad("cell_offset", cell_offset,
               "which leaves no room for its " + std::to_string(CellHeader::footprint(words)) +
                   " bytes in the arena of " + std::to_string(kArenaSize) + " (or is not a multiple of 64)");
  }
  if (schema_offset > kArenaSize || schema_size > kArenaSize - schema_offset) {
    return bad("schema_offset", schema_offset,
               "which with schema_size " + std::to_string(schema_size) + " reaches past the arena of " +
                   std::to_string(kArenaSize) + " bytes");
  }
  cell.header = reinterpret_cast<CellHeader*>(data.arena + cell_offset);
  const std::uint32_t header_words = cell.header->words;
  if (header_words != words) {
    return bad("words", header_words, "not the " + std::to_string(words) + " its " + std::to_string(cell.size) +
                                          " bytes take");
  }
  cell.schema_json = std::string_view(reinterpret_cast<const char*>(data.arena + schema_offset), schema_size);
  return std::optional<CheckedCell>(std::move(cell));
}

}  // namespace statebus::detail
