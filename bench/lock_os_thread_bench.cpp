// goro's side of the lock_os_thread benchmark (bench/go/lock_os_thread.go is
// Go's): the cost of a park/ready round trip when one side is locked to its
// thread, so that every hand-over between the two goroutines is a hand-over
// of a P between two threads (stoplockedm, startlockedm) instead of a switch
// on one. chan_pingpong (goro_bench.cpp) is the same workload unlocked.
#include <benchmark/benchmark.h>

#include <chrono>

#include "goro/goro.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

// As chan_pingpong's round, with the echoing goroutine locked to its thread.
double locked_pingpong_round(int n) {
  goro::chan<int> ping, pong, done;
  goro::go([ping, pong, done, n]() mutable {
    goro::lock_os_thread();
    for (int i = 0; i < n; i++) pong.send(*ping.recv());
    goro::unlock_os_thread();
    done.close();
  });
  auto t0 = clock_type::now();
  for (int i = 0; i < n; i++) {
    ping.send(i);
    benchmark::DoNotOptimize(pong.recv());
  }
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
  done.recv();
  return ns;
}

// GOMAXPROCS 2: a locked goroutine and an unlocked one (main) ping-pong on
// unbuffered channels; ns per round trip.
void locked_pingpong(benchmark::State& state) {
  constexpr int n = 20'000;
  double per = 0;
  for (auto _ : state) {
    goro::options o;
    o.procs = 2;
    double ns = goro::run(
        [] {
          locked_pingpong_round(n / 10);  // warm-up
          return locked_pingpong_round(n);
        },
        o);
    per = ns / n;
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["ns_per_op"] = per;
}
BENCHMARK(locked_pingpong)->Name("locked_pingpong/procs:2")->Iterations(1)->UseManualTime();

}  // namespace
