#include "statebus/bus/memory_config.hpp"

#include <gtest/gtest.h>

namespace statebus {
namespace {

std::uint64_t payload_bytes(const MemoryConfig& config) {
  std::uint64_t total = 0;
  for (const MemoryPool& pool : config.pools) total += std::uint64_t{pool.payload_size} * pool.count;
  return total;
}

TEST(MemoryConfig, CompactCarriesFourMebibytePayloads) {
  const MemoryConfig sut = MemoryConfig::compact();
  EXPECT_GE(sut.max_payload(), 4U * 1024U * 1024U);
  EXPECT_FALSE(sut.iceoryx_defaults);
}

TEST(MemoryConfig, CompactPoolsStayFarBelowStock) {
  // Pools, not management: the management segment is fixed by iceoryx's build.
  EXPECT_LT(payload_bytes(MemoryConfig::compact()), 34ULL * 1000 * 1000);
  EXPECT_GT(payload_bytes(MemoryConfig::stock()), 140ULL * 1000 * 1000);
}

TEST(MemoryConfig, StockLargestPayloadIsJustUnderItsFourMebibyteChunk) {
  const std::uint32_t sut = MemoryConfig::stock().max_payload();
  EXPECT_LT(sut, 4U * 1024U * 1024U);
  EXPECT_GT(sut, 4U * 1024U * 1024U - 256U);
}

TEST(MemoryConfig, MaxPayloadFollowsTheLargestPool) {
  MemoryConfig sut;
  sut.pools = {{1024, 10}, {64, 100}};
  EXPECT_GE(sut.max_payload(), 1024U);
  EXPECT_LT(sut.max_payload(), 1024U + 256U);
}

}  // namespace
}  // namespace statebus
