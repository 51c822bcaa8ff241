#pragma once
// The benchmarks' payloads of a given size, bytes and nothing else. Their type
// names are in their schemas' fingerprints: a name changed is another type.

#include <cstddef>

#include "statebus/base/describe.hpp"

/// Declares `struct Type { char bytes[Size]; }` as a message named `TypeName`.
#define STATEBUS_BENCH_BYTES(Type, Size, TypeName) \
  struct Type {                                    \
    char bytes[Size];                              \
  };                                               \
  static_assert(sizeof(Type) == (Size));           \
  STATEBUS_MESSAGE(Type, TypeName, bytes)

namespace statebus::bench {

STATEBUS_BENCH_BYTES(Msg8, 8, "bench/Msg8");
STATEBUS_BENCH_BYTES(Msg64, 64, "bench/Msg64");
STATEBUS_BENCH_BYTES(Msg4K, 4096, "bench/Msg4K");
STATEBUS_BENCH_BYTES(Msg1M, 1024 * 1024, "bench/Msg1M");
STATEBUS_BENCH_BYTES(Msg4M, 4 * 1024 * 1024, "bench/Msg4M");

/// The same sizes under the names peers_bench gives them.
namespace peers {

STATEBUS_BENCH_BYTES(Msg64, 64, "bench/peers/Msg64");
STATEBUS_BENCH_BYTES(Msg4K, 4096, "bench/peers/Msg4K");
STATEBUS_BENCH_BYTES(Msg1M, 1024 * 1024, "bench/peers/Msg1M");
STATEBUS_BENCH_BYTES(Msg4M, 4 * 1024 * 1024, "bench/peers/Msg4M");

}  // namespace peers
}  // namespace statebus::bench
