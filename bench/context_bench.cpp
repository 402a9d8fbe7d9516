// goro's side of the context and semaphore benchmarks (bench/go/context.go
// is Go's): an uncontended weighted-semaphore acquire/release pair, and how
// long cancelling a parent takes to release 10,000 goroutines parked in a
// select on its child's done().
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "goro/goro.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

goro::options with_procs(unsigned n) {
  goro::options o;
  o.procs = n;
  return o;
}

// GOMAXPROCS 1: acquire(1) / release(1) on a semaphore of 1 with nobody
// else; 2,000,000 pairs after 200,000 of warm-up; ns per pair.
void semaphore_acquire_release(benchmark::State& state) {
  constexpr int n = 2'000'000;
  double per = 0;
  for (auto _ : state) {
    per = goro::run(
        [] {
          goro::semaphore sem(1);
          for (int i = 0; i < n / 10; i++) {
            sem.acquire(1);
            sem.release(1);
          }
          auto t0 = clock_type::now();
          for (int i = 0; i < n; i++) {
            sem.acquire(1);
            sem.release(1);
          }
          return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / n;
        },
        with_procs(1));
  }
  state.counters["ns_per_op"] = per;
}
BENCHMARK(semaphore_acquire_release)
    ->Name("semaphore_acquire_release/procs:1")
    ->Iterations(1)
    ->UseRealTime();

// GOMAXPROCS 2: 10,000 goroutines parked in a select on a child context's
// done() and a channel nobody sends on; the time from the parent's cancel()
// until the last of them has returned (a wait_group), in ms. Five rounds,
// the median.
void context_cancel_10k(benchmark::State& state) {
  constexpr int n = 10'000;
  constexpr int rounds = 5;
  std::vector<double> ms;
  for (auto _ : state) {
    ms.clear();
    goro::run(
        [&] {
          for (int r = 0; r < rounds; r++) {
            auto [parent, cancel] = goro::with_cancel(goro::background());
            auto [child, stop] = goro::with_cancel(parent);
            goro::chan<int> never;
            goro::wait_group wg;
            std::atomic<int> started{0};
            wg.add(n);
            for (int i = 0; i < n; i++)
              goro::go([&, done = child.done()] {
                started.fetch_add(1, std::memory_order_relaxed);
                goro::select(goro::on_recv(done), goro::on_recv(never));
                wg.done();
              });
            // All started, then time to park.
            while (started.load(std::memory_order_relaxed) < n) goro::yield();
            goro::sleep_for(std::chrono::milliseconds(10));
            auto t0 = clock_type::now();
            cancel();
            wg.wait();
            ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
            stop();
          }
        },
        with_procs(2));
  }
  std::sort(ms.begin(), ms.end());
  state.counters["ms"] = ms[ms.size() / 2];
}
BENCHMARK(context_cancel_10k)->Name("context_cancel_10k/procs:2")->Iterations(1)->UseRealTime();

}  // namespace
