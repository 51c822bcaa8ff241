#include "statebus/daemon/memory_config.hpp"

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
  EXPECT_LT(payload_bytes(MemoryConfig::compact()), 50ULL * 1000 * 1000);
  EXPECT_GT(payload_bytes(MemoryConfig::stock()), 140ULL * 1000 * 1000);
}

// A channel of 4 MiB samples needs four chunks at once (a publisher's loan
// and last sample, a subscriber's held sample and one queued); a process
// killed with a chunk in hand loses it for good. The largest pools outlast
// two such losses per channel.
TEST(MemoryConfig, CompactLargePoolsOutlastTwoLostChunksPerChannel) {
  std::uint32_t four_mebibyte = 0, one_mebibyte = 0;
  for (const MemoryPool& pool : MemoryConfig::compact().pools) {
    if (pool.payload_size == 4U * 1024U * 1024U) four_mebibyte = pool.count;
    if (pool.payload_size == 1024U * 1024U) one_mebibyte = pool.count;
  }
  EXPECT_GE(four_mebibyte, 4U + 2U);
  EXPECT_GE(one_mebibyte, 2U * (4U + 2U));
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
