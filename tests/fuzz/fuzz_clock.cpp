// libFuzzer: the clock segment's slot on arbitrary contents (any member of
// the bus's group may write it). load() either finds every field valid or
// names the damaged one and gives safe values; virtual time at any moment
// then stays within 0 and the end of time, with no overflow (UBSan).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "clock_core.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using namespace statebus::clockwork;
  std::uint64_t words[6] = {};
  std::memcpy(words, bytes, std::min(size, sizeof words));
  ClockSlot slot;
  slot.mode.store(words[0]);
  slot.rate_bits.store(words[1]);
  slot.anchor_real.store(static_cast<std::int64_t>(words[2]));
  slot.anchor_virtual.store(static_cast<std::int64_t>(words[3]));
  slot.resume_rate_bits.store(words[4]);
  const Params p = load(slot);
  if (p.damaged == nullptr && (!valid_rate(p.rate) || p.anchor_real < 0 || p.anchor_virtual < 0 ||
                               p.anchor_virtual > kEndOfTime)) {
    std::abort();  // a bad value passed as valid
  }
  // Real time is a monotonic clock's reading: never negative.
  const std::int64_t moments[] = {0, 1, p.anchor_real, static_cast<std::int64_t>(words[5] >> 1), INT64_MAX};
  for (std::int64_t real : moments) {
    const std::int64_t t = virtual_at(p, real);
    if (t < 0 || t > kEndOfTime) std::abort();  // outside the clock's range
  }
  return 0;
}
