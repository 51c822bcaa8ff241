// The baselines every IPC figure is measured against: round trips between
// two processes over a UNIX domain socket pair, a pair of pipes, a futex on
// shared memory, and a bare shared-memory spin on one word (the hardware
// floor). No bus involved; the follower is a fork of this process.
//
//   build/release/bench/baseline_bench [--benchmark_filter=...]
//
// Leader on CPU 0, follower on CPU 1 ("cross"), or both on CPU 0 ("same").
// Per round trip samples: p50/p99/p99.9/max in µs as counters.
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_main.hpp"

#include "follower.hpp"
#include "percentiles.hpp"

namespace {

using Clock = std::chrono::steady_clock;

enum class Kind { unix_socket, pipe, futex, spin };
enum class Pinning { cross, same };

constexpr int kWarmup = 1000;

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, data, n);
    if (r <= 0) return false;
    data += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

struct alignas(64) SharedWords {
  std::atomic<std::uint32_t> ping{0};
  char pad1[60];
  std::atomic<std::uint32_t> pong{0};
  char pad2[60];
};

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

// Waits until `word` differs from `seen`: spinning (spin) or on the futex.
std::uint32_t await_change(std::atomic<std::uint32_t>& word, std::uint32_t seen, Kind kind) {
  for (;;) {
    const std::uint32_t now = word.load(std::memory_order_acquire);
    if (now != seen) return now;
    if (kind == Kind::futex) futex_wait(word, seen);
  }
}

void round_trips(benchmark::State& state, Kind kind, Pinning pinning, std::size_t size) {
  statebus::bench::pin_to_cpu(statebus::bench::kLeaderCpu);
  const int follower_cpu = pinning == Pinning::cross ? statebus::bench::kFollowerCpu : statebus::bench::kLeaderCpu;
  const long total = kWarmup + static_cast<long>(state.max_iterations);
  int to_follower[2] = {-1, -1};
  int to_leader[2] = {-1, -1};
  if (kind == Kind::unix_socket) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return state.SkipWithError("socketpair failed");
    to_follower[0] = pair[1];  // follower reads and writes its end
    to_follower[1] = pair[0];
    to_leader[0] = pair[0];
    to_leader[1] = pair[1];
  } else if (kind == Kind::pipe) {
    if (::pipe(to_follower) != 0 || ::pipe(to_leader) != 0) return state.SkipWithError("pipe failed");
  }
  auto* words = static_cast<SharedWords*>(
      ::mmap(nullptr, sizeof(SharedWords), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (words == MAP_FAILED) return state.SkipWithError("mmap failed");
  new (words) SharedWords;
  std::vector<char> buffer(size, 'x');

  const pid_t pid = ::fork();
  if (pid < 0) return state.SkipWithError("fork failed");
  if (pid == 0) {
    statebus::bench::pin_to_cpu(follower_cpu);
    std::uint32_t seen = 0;
    for (long i = 0; i < total; ++i) {
      switch (kind) {
        case Kind::unix_socket:
        case Kind::pipe:
          if (!read_all(to_follower[0], buffer.data(), size) || !write_all(to_leader[1], buffer.data(), size)) _exit(1);
          break;
        case Kind::futex:
        case Kind::spin:
          seen = await_change(words->ping, seen, kind);
          words->pong.store(seen, std::memory_order_release);
          if (kind == Kind::futex) futex_wake(words->pong);
          break;
      }
    }
    _exit(0);
  }
  std::uint32_t counter = 0;
  auto one = [&] {
    const auto start = Clock::now();
    switch (kind) {
      case Kind::unix_socket:
      case Kind::pipe:
        write_all(to_follower[1], buffer.data(), size);
        read_all(to_leader[0], buffer.data(), size);
        break;
      case Kind::futex:
      case Kind::spin:
        ++counter;
        words->ping.store(counter, std::memory_order_release);
        if (kind == Kind::futex) futex_wake(words->ping);
        await_change(words->pong, counter - 1, kind);
        break;
    }
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  };
  for (int i = 0; i < kWarmup; ++i) one();
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    us.push_back(one());
    state.SetIterationTime(us.back() / 1e6);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int fd : {to_follower[0], to_follower[1], to_leader[0], to_leader[1]}) {
    if (fd >= 0) ::close(fd);
  }
  ::munmap(words, sizeof(SharedWords));
  statebus::bench::report_percentiles(state, us, "us_");
  state.counters["bytes"] = static_cast<double>(size);
}

void register_all() {
  struct K {
    Kind kind;
    const char* name;
    bool sized;
  };
  for (const K k : {K{Kind::unix_socket, "unix_socket", true}, K{Kind::pipe, "pipe", true},
                    K{Kind::futex, "futex", false}, K{Kind::spin, "shm_spin", false}}) {
    for (const Pinning p : {Pinning::cross, Pinning::same}) {
      if (k.kind == Kind::spin && p == Pinning::same) continue;  // a spin on one CPU waits for the scheduler
      std::vector<std::size_t> sizes = {8};
      if (k.sized) sizes = {8, 64, 4096, 65536, 1 << 20, 4 << 20};
      for (const std::size_t size : sizes) {
        const long iterations = size >= (1 << 20) ? 500 : 20000;
        const std::string name = std::string("baseline/") + k.name + "/" + std::to_string(size) + "B/" +
                                 (p == Pinning::cross ? "cross" : "same");
        benchmark::RegisterBenchmark(name.c_str(), round_trips, k.kind, p, size)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond)
            ->Iterations(iterations);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return statebus::bench::run_benchmarks(argc, argv);
}
