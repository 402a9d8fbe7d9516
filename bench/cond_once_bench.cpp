// goro's side of the cond and once benchmarks (bench/go/cond_once.go is
// Go's): the cost of call() on a once that is already done, and a round
// trip between two goroutines taking turns through one mutex and cond.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "goro/goro.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double ns_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
}

goro::options procs_opts(unsigned procs) {
  goro::options o;
  o.procs = procs;
  return o;
}

// GOMAXPROCS 1: call() on a once that is done, 20,000,000 times after the
// first call ran f (Go's BenchmarkOnce, one goroutine); ns per call.
void once_done(benchmark::State& state) {
  constexpr int n = 20'000'000;
  double per = 0;
  bool ok = true;
  for (auto _ : state) {
    double ns = goro::run(
        [&] {
          goro::once once;
          int calls = 0;
          auto f = [&calls] { calls++; };
          once.call(f);
          auto t0 = clock_type::now();
          for (int i = 0; i < n; i++) {
            once.call(f);
            benchmark::ClobberMemory();  // keeps every call in the loop
          }
          double elapsed = ns_since(t0);
          ok = calls == 1;
          return elapsed;
        },
        procs_opts(1));
    per = ns / n;
    state.SetIterationTime(ns / 1e9);
  }
  if (!ok) {
    state.SkipWithError("once_done: f ran more than once");
    return;
  }
  state.counters["ns_per_op"] = per;
}
BENCHMARK(once_done)->Name("once_done/procs:1")->Iterations(1)->UseManualTime();

// GOMAXPROCS 2: two goroutines take turns through one mutex and cond (each
// waits until the shared turn is its own, flips it and signals the other),
// 100,000 round trips after 10,000 of warm-up; ns per round trip (two
// hand-offs). Like Go's BenchmarkCond1 (one waiter and one broadcaster).
double cond_round(int rounds) {
  goro::mutex m;
  goro::cond c(m);
  int turn = 0;
  goro::wait_group done;
  done.add(2);
  auto player = [&](int me) {
    for (int i = 0; i < rounds; i++) {
      m.lock();
      while (turn != me) c.wait();
      turn = 1 - me;
      c.signal();
      m.unlock();
    }
    done.done();
  };
  auto t0 = clock_type::now();
  goro::go(player, 0);
  goro::go(player, 1);
  done.wait();
  return ns_since(t0);
}

void cond_pingpong(benchmark::State& state) {
  constexpr int rounds = 100'000;
  double per = 0;
  for (auto _ : state) {
    double ns = goro::run(
        [] {
          cond_round(rounds / 10);  // warm-up
          return cond_round(rounds);
        },
        procs_opts(2));
    per = ns / rounds;
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["ns_per_op"] = per;
}
BENCHMARK(cond_pingpong)->Name("cond_pingpong/procs:2")->Iterations(1)->UseManualTime();

}  // namespace
