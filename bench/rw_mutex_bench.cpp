// goro's side of the rw_mutex benchmark (bench/go/rw_mutex.go is Go's):
// rwmutex_read_mostly, after Go's BenchmarkRWMutexWrite100
// (sync/rwmutex_test.go): one goroutine per P loops over ops; each op takes
// the lock shared around a little local work, and every 100th op takes it
// exclusively instead. ns per op over all goroutines, as RunParallel.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

#include "goro/goro.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

constexpr int rw_ops = 1'000'000;  // per goroutine
constexpr int rw_write_every = 100;
constexpr int rw_local_work = 10;  // LCG steps inside the read lock (Go's side: the same)

// One round: `goroutines` goroutines start together from a gate; returns the
// elapsed ns from the gate to the last one's finish.
double rw_round(goro::rw_mutex& rwm, int goroutines, int ops, std::uint64_t& sink) {
  goro::wait_group ready, start, done;
  ready.add(goroutines);
  start.add(1);
  done.add(goroutines);
  std::uint64_t sinks[64] = {};
  for (int g = 0; g < goroutines; g++)
    goro::go([&, g] {
      std::uint64_t foo = static_cast<std::uint64_t>(g) + 1;
      ready.done();
      start.wait();
      for (int i = 1; i <= ops; i++) {
        if (i % rw_write_every == 0) {
          rwm.lock();
          rwm.unlock();
        } else {
          rwm.lock_shared();
          for (int k = 0; k < rw_local_work; k++)
            foo = foo * 6364136223846793005ULL + 1442695040888963407ULL;
          rwm.unlock_shared();
        }
      }
      sinks[g] = foo;
      done.done();
    });
  ready.wait();
  auto t0 = clock_type::now();
  start.done();
  done.wait();
  double ns = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
  for (int g = 0; g < goroutines; g++) sink += sinks[g];
  return ns;
}

void rwmutex_read_mostly(benchmark::State& state, unsigned procs) {
  double per = 0;
  std::uint64_t sink = 0;
  for (auto _ : state) {
    goro::options o;
    o.procs = procs;
    double ns = goro::run(
        [&] {
          goro::rw_mutex rwm;
          rw_round(rwm, static_cast<int>(procs), rw_ops / 10, sink);  // warm-up
          return rw_round(rwm, static_cast<int>(procs), rw_ops, sink);
        },
        o);
    per = ns / (static_cast<double>(procs) * rw_ops);
    state.SetIterationTime(ns / 1e9);
  }
  benchmark::DoNotOptimize(sink);
  state.counters["ns_per_op"] = per;
}

const auto* registered = benchmark::RegisterBenchmark("rwmutex_read_mostly/procs:2",
                                                      rwmutex_read_mostly, 2u) -> Iterations(1)
                             -> UseManualTime() -> Unit(benchmark::kMillisecond);

}  // namespace
