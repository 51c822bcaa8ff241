// State cells: what load() and store() cost in one process, next to one
// std::atomic<std::uint64_t>; and a round trip between two processes through
// two cells, next to a bare shared-memory spin ping-pong (the hardware
// floor) and two bare seqlock ping-pongs: the cell's torn-read-free protocol
// on its own (the same four writes into one line, without the cell's lock,
// writer identity or wake-up), and the same with a writer lock word taken
// and released around them (one compare-exchange, one exchange: the least a
// store that serialises writers costs). All interleaved in the same run,
// same pinning (leader on CPU 0, follower on CPU 1).
//
//   build/release/bench/state_bench [--benchmark_filter=...] [--benchmark_min_time=...]
//
// Runs in a private mount namespace with its own daemon (whose state segment
// holds the cells); the follower is this executable started again with
// --follower. Every benchmark runs for --benchmark_min_time: the round trip
// counts the time of its cell round trips only.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include "bench_bus.hpp"
#include "follower.hpp"
#include "percentiles.hpp"
#include "statebus/daemon/daemon.hpp"
#include "statebus/state/cell.hpp"
#include "statebus/testing/child_process.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Value16 {
  std::uint64_t seq;
  std::uint64_t payload;
};
STATEBUS_MESSAGE(Value16, "bench/Value16", seq, payload);
struct Value1K {
  std::uint64_t seq;
  std::uint64_t payload[127];
};
STATEBUS_MESSAGE(Value1K, "bench/Value1K", seq, payload);
static_assert(sizeof(Value16) == 16 && sizeof(Value1K) == 1024);

template <class T>
T value_of(std::uint64_t seq) {
  T value{};
  value.seq = seq;
  return value;
}

// ---- one process, uncontended ----------------------------------------------

alignas(64) std::atomic<std::uint64_t> g_plain{0};

void plain_atomic_load(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(g_plain.load(std::memory_order_acquire));
}

void plain_atomic_store(benchmark::State& state) {
  std::uint64_t seq = 0;
  for (auto _ : state) g_plain.store(++seq, std::memory_order_release);
}

template <class T>
void cell_load(benchmark::State& state, const char* name) {
  auto cell = statebus::Cell<T>::open_or_create(name, value_of<T>(1));
  if (!cell) {
    state.SkipWithError(cell.error().message().c_str());
    return;
  }
  for (auto _ : state) {
    T value = cell->load();
    benchmark::DoNotOptimize(value);
  }
  state.counters["bytes"] = sizeof(T);
}

template <class T>
void cell_store(benchmark::State& state, const char* name) {
  auto cell = statebus::Cell<T>::open_or_create(name, value_of<T>(1));
  if (!cell) {
    state.SkipWithError(cell.error().message().c_str());
    return;
  }
  T value = value_of<T>(cell->version());
  for (auto _ : state) {
    ++value.seq;
    cell->store(value);
  }
  state.counters["bytes"] = sizeof(T);
}

// ---- round trips between two processes ---------------------------------------
//
// The leader sends n (ping), the follower answers with n (pong), both
// spinning. Cells: "bench/ping" and "bench/pong", polled with version() and
// read with load_versioned() when it moves. Spin: two words in a MAP_SHARED
// segment both processes map.

constexpr int kWarmup = 1000;
constexpr std::uint64_t kStop = 1ULL << 63;  // set in the last value of a run: the follower answers, then returns
constexpr auto kGiveUp = 10s;                // a spin with no answer for this long: the other side is gone

inline void relax() noexcept {}  // a tight spin: no pause, so the floor is the bare cache-line transfer

// Bounds a spin without reading the clock on every poll: every 64 Ki polls.
class SpinLimit {
 public:
  bool expired() {
    if ((++polls_ & 0xFFFFU) != 0) return false;
    const auto now = Clock::now();
    if (polls_ == 0x10000U) since_ = now;
    return now - since_ > kGiveUp;
  }

 private:
  std::uint64_t polls_ = 0;
  Clock::time_point since_;
};

// A bare seqlock of 16 bytes laid out as a cell (state/src/layout.hpp):
// line 0 for readers (version, one sequence per copy, two inline copies),
// line 1 for the writers' lock word.
struct SeqlockLine {
  std::atomic<std::uint64_t> version{0};
  std::atomic<std::uint64_t> seq[2]{};
  std::atomic<std::uint64_t> copies[2][2]{};
  alignas(64) std::atomic<std::uint64_t> lock{0};
};

// The words of the spin and seqlock ping-pongs, 128 bytes apart: separate
// cache lines that the adjacent-line prefetcher does not pair either.
struct SpinLines {
  alignas(128) std::atomic<std::uint64_t> ping{0};
  alignas(128) std::atomic<std::uint64_t> pong{0};
  alignas(128) SeqlockLine ping_lock;
  alignas(128) SeqlockLine pong_lock;
  alignas(128) SeqlockLine ping_locked;
  alignas(128) SeqlockLine pong_locked;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// Maps the segment `name` (creating it if `create`); nullptr on failure. Kept
// mapped until the process ends.
SpinLines* map_spin_lines(const std::string& name, bool create) {
  const int fd = ::shm_open(name.c_str(), create ? O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC : O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return nullptr;
  if (create && ::ftruncate(fd, sizeof(SpinLines)) != 0) {
    ::close(fd);
    return nullptr;
  }
  void* base = ::mmap(nullptr, sizeof(SpinLines), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return nullptr;
  return create ? new (base) SpinLines() : static_cast<SpinLines*>(base);
}

// Polls `side` until it reads `n`; false once the other side is gone.
template <class Side>
bool await_value(Side& side, std::uint64_t n) {
  for (SpinLimit limit;;) {
    std::uint64_t got = 0;
    if (side.poll(got) && got == n) return true;
    if (limit.expired()) return false;
    relax();
  }
}

// One end of the cell ping-pong: stores into `out`, polls `in`.
struct CellSide {
  statebus::Cell<Value16> out;
  statebus::Cell<Value16> in;
  std::uint64_t in_seen;  // the version of `in` last read

  void send(std::uint64_t n) const { out.store(Value16{n, ~n}); }
  // A value newer than the last one read, if `in` moved.
  bool poll(std::uint64_t& n) {
    if (in.version() == in_seen) return false;
    const auto [value, version] = in.load_versioned();
    in_seen = version;
    n = value.seq;
    return true;
  }
  bool await(std::uint64_t n) { return await_value(*this, n); }
};

// One end of the spin ping-pong: stores into `out`, polls `in`.
struct SpinSide {
  std::atomic<std::uint64_t>* out;
  std::atomic<std::uint64_t>* in;
  std::uint64_t in_seen;

  void send(std::uint64_t n) const { out->store(n, std::memory_order_release); }
  bool poll(std::uint64_t& n) {
    const std::uint64_t value = in->load(std::memory_order_acquire);
    if (value == in_seen) return false;
    in_seen = n = value;
    return true;
  }
  bool await(std::uint64_t n) const {
    for (SpinLimit limit;;) {
      if (in->load(std::memory_order_acquire) == n) return true;
      if (limit.expired()) return false;
      relax();
    }
  }
};

// One end of a seqlock ping-pong: the four writes of a cell's store
// (sequence odd, value, sequence even, version), with the writer lock word
// taken around them if `locked`, and its reader's checks.
struct SeqlockSide {
  SeqlockLine* out;
  SeqlockLine* in;
  std::uint64_t in_seen;
  bool locked;

  void send(std::uint64_t n) const {
    if (locked) {
      for (std::uint64_t free = 0; !out->lock.compare_exchange_weak(free, 1, std::memory_order_acquire); free = 0) {
      }
    }
    const std::uint64_t next = out->version.load(std::memory_order_relaxed) + 1;
    std::atomic<std::uint64_t>& seq = out->seq[next & 1U];
    seq.store(2 * next - 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    out->copies[next & 1U][0].store(n, std::memory_order_relaxed);
    out->copies[next & 1U][1].store(~n, std::memory_order_relaxed);
    seq.store(2 * next, std::memory_order_release);
    out->version.store(next, std::memory_order_release);
    if (locked) out->lock.exchange(0, std::memory_order_release);
  }
  bool poll(std::uint64_t& n) {
    const std::uint64_t version = in->version.load(std::memory_order_acquire);
    if (version == in_seen) return false;
    for (;;) {
      const std::uint64_t v = in->version.load(std::memory_order_acquire);
      const std::atomic<std::uint64_t>& seq = in->seq[v & 1U];
      const std::uint64_t before = seq.load(std::memory_order_acquire);
      if ((before & 1U) == 0) {
        const std::uint64_t value = in->copies[v & 1U][0].load(std::memory_order_relaxed);
        benchmark::DoNotOptimize(in->copies[v & 1U][1].load(std::memory_order_relaxed));
        std::atomic_thread_fence(std::memory_order_acquire);
        if (seq.load(std::memory_order_relaxed) == before) {
          in_seen = before / 2;
          n = value;
          return true;
        }
      }
    }
  }
  bool await(std::uint64_t n) { return await_value(*this, n); }
};

std::optional<CellSide> open_cells(const char* send, const char* receive) {
  auto out = statebus::Cell<Value16>::open_or_create(send);
  auto in = statebus::Cell<Value16>::open_or_create(receive);
  if (!out || !in) {
    std::fprintf(stderr, "state_bench: %s\n", (!out ? out : in).error().message().c_str());
    return std::nullopt;
  }
  const std::uint64_t seen = in->version();
  return CellSide{std::move(*out), std::move(*in), seen};
}

// ---- follower: answers on all four until each says stop -----------------------

// Like pingpong_bench's poll mode: one thread spinning over all four, so all
// see the same CPU and the same polling loop.
void follow_round_trip(const std::string& spin_name) {
  auto cell = open_cells("bench/pong", "bench/ping");
  SpinLines* lines = map_spin_lines(spin_name, false);
  std::printf("ready\n");
  std::fflush(stdout);
  if (!cell || lines == nullptr) return;
  SpinSide spin{&lines->pong, &lines->ping, lines->ping.load()};
  SeqlockSide seqlock{&lines->pong_lock, &lines->ping_lock, lines->ping_lock.version.load(), false};
  SeqlockSide locked{&lines->pong_locked, &lines->ping_locked, lines->ping_locked.version.load(), true};
  bool cell_done = false;
  bool spin_done = false;
  bool seqlock_done = false;
  bool locked_done = false;
  SpinLimit idle;
  while (!cell_done || !spin_done || !seqlock_done || !locked_done) {
    std::uint64_t n = 0;
    if (cell->poll(n)) {
      cell->send(n);
      cell_done = (n & kStop) != 0;
      idle = SpinLimit{};
    } else if (spin.poll(n)) {
      spin.send(n);
      spin_done = (n & kStop) != 0;
      idle = SpinLimit{};
    } else if (seqlock.poll(n)) {
      seqlock.send(n);
      seqlock_done = (n & kStop) != 0;
      idle = SpinLimit{};
    } else if (locked.poll(n)) {
      locked.send(n);
      locked_done = (n & kStop) != 0;
      idle = SpinLimit{};
    } else if (idle.expired()) {
      std::fprintf(stderr, "follower: no ping for %lld s, giving up\n", static_cast<long long>(kGiveUp.count()));
      return;
    } else {
      relax();
    }
  }
}

int follower() {
  statebus::bench::pin_to_cpu(statebus::bench::kFollowerCpu);
  // Commands on stdin: "round_trip <spin segment>".
  std::string command;
  std::string spin_name;
  while (std::cin >> command >> spin_name) {
    if (command == "round_trip") follow_round_trip(spin_name);
  }
  return 0;
}

// ---- leader ---------------------------------------------------------------

statebus::testkit::ChildProcess* g_follower = nullptr;
std::string g_spin_name;
SpinLines* g_spin = nullptr;
std::uint64_t g_next = 1;  // the next value sent: grows across runs, so each is new to the follower

// One round trip in ns; negative if the follower did not answer.
template <class Side>
double round_trip_ns(Side& side, std::uint64_t n) {
  const auto start = Clock::now();
  side.send(n);
  if (!side.await(n)) return -1.0;
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

// All four in one benchmark: each iteration one cell, one spin, one seqlock
// and one locked seqlock round trip, their order rotating, so that the
// machine's drift over a run hits all alike. The reported time is the cell
// round trip's.
void cell_round_trip(benchmark::State& state) {
  auto cell = open_cells("bench/ping", "bench/pong");
  if (!cell || g_spin == nullptr) {
    state.SkipWithError("cannot open the cells or the spin segment");
    return;
  }
  g_follower->write("round_trip " + g_spin_name + "\n");
  if (g_follower->read_line(10s) != "ready") {
    state.SkipWithError("the follower is not ready");
    return;
  }
  SpinSide spin{&g_spin->ping, &g_spin->pong, g_spin->pong.load()};
  SeqlockSide seqlock{&g_spin->ping_lock, &g_spin->pong_lock, g_spin->pong_lock.version.load(), false};
  SeqlockSide locked{&g_spin->ping_locked, &g_spin->pong_locked, g_spin->pong_locked.version.load(), true};
  constexpr int kKinds = 4;
  // One round trip of kind k (0 cell, 1 spin, 2 seqlock, 3 locked seqlock) in ns; negative if unanswered.
  const auto one = [&](int k, std::uint64_t n) {
    switch (k) {
      case 0: return round_trip_ns(*cell, n);
      case 1: return round_trip_ns(spin, n);
      case 2: return round_trip_ns(seqlock, n);
      default: return round_trip_ns(locked, n);
    }
  };
  for (int i = 0; i < kWarmup; ++i) {
    for (int k = 0; k < kKinds; ++k) {
      if (one(k, g_next++) < 0) {
        state.SkipWithError("the follower does not answer");
        return;
      }
    }
  }
  std::vector<double> ns[kKinds];
  for (auto& v : ns) v.reserve(static_cast<std::size_t>(state.max_iterations));
  int first = 0;
  for (auto _ : state) {
    double rt[kKinds] = {};
    for (int i = 0; i < kKinds; ++i) {
      const int k = (first + i) % kKinds;
      rt[k] = one(k, g_next++);
    }
    first = (first + 1) % kKinds;
    if (std::any_of(std::begin(rt), std::end(rt), [](double t) { return t < 0; })) {
      state.SkipWithError("the follower stopped answering");
      return;
    }
    for (int k = 0; k < kKinds; ++k) ns[k].push_back(rt[k]);
    state.SetIterationTime(rt[0] / 1e9);
  }
  for (int k = 0; k < kKinds; ++k) {
    if (one(k, g_next++ | kStop) < 0) {
      state.SkipWithError("the follower did not stop");
      return;
    }
  }
  statebus::bench::report_percentiles(state, ns[0], "cell_ns_");
  statebus::bench::report_percentiles(state, ns[1], "spin_ns_");
  statebus::bench::report_percentiles(state, ns[2], "seqlock_ns_");
  statebus::bench::report_percentiles(state, ns[3], "locked_seqlock_ns_");
  const auto ratio = [&](int a, int b, double q) {
    const double base = statebus::bench::percentile(ns[b], q);
    return base > 0 ? statebus::bench::percentile(ns[a], q) / base : 0.0;
  };
  state.counters["ratio_p50"] = ratio(0, 1, 0.5);
  state.counters["ratio_p99"] = ratio(0, 1, 0.99);
  state.counters["seqlock_ratio_p50"] = ratio(2, 1, 0.5);  // the protocol's own cost over the spin
  state.counters["locked_seqlock_ratio_p50"] = ratio(3, 1, 0.5);  // with a writer lock: a multi-writer store's least
  state.counters["cell_over_locked_seqlock_p50"] = ratio(0, 3, 0.5);  // what the cell adds to that
}

}  // namespace

int main(int argc, char** argv) {
  if (statebus::bench::is_follower(argc, argv)) return follower();

  // Its cells would stay in a live bus's registry: never on a live bus.
  if (!statebus::bench::start_bus("state_bench", statebus::bench::LiveDaemon::refuse)) return 1;
  g_spin_name = "/statebus-bench-spin-" + std::to_string(::getpid());
  g_spin = map_spin_lines(g_spin_name, true);
  if (g_spin == nullptr) {
    std::fprintf(stderr, "state_bench: cannot create the shared memory segment %s\n", g_spin_name.c_str());
    return 1;
  }
  auto follower_process = statebus::bench::spawn_follower();
  if (!follower_process) {
    std::fprintf(stderr, "state_bench: %s\n", follower_process.error().message().c_str());
    ::shm_unlink(g_spin_name.c_str());
    return 1;
  }
  g_follower = &*follower_process;
  statebus::bench::pin_to_cpu(statebus::bench::kLeaderCpu);

  benchmark::RegisterBenchmark("BM_PlainAtomicLoad", plain_atomic_load);
  benchmark::RegisterBenchmark("BM_CellLoad/16B", cell_load<Value16>, "bench/load16");
  benchmark::RegisterBenchmark("BM_CellLoad/1KiB", cell_load<Value1K>, "bench/load1k");
  benchmark::RegisterBenchmark("BM_PlainAtomicStore", plain_atomic_store);
  benchmark::RegisterBenchmark("BM_CellStore/16B", cell_store<Value16>, "bench/store16");
  benchmark::RegisterBenchmark("BM_CellStore/1KiB", cell_store<Value1K>, "bench/store1k");
  benchmark::RegisterBenchmark("BM_CellRoundTrip/16B", cell_round_trip)->UseManualTime()->Unit(benchmark::kNanosecond);
  const int status = statebus::bench::run_benchmarks(argc, argv);
  follower_process->close_stdin();
  follower_process->wait(10s);
  ::shm_unlink(g_spin_name.c_str());
  return status;
}
