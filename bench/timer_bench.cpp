// goro's side of the timer benchmarks (bench/go/timer.go is Go's): many
// tickers delivering at once, and the cost of a reset plus a stop.
#include <benchmark/benchmark.h>

#include <chrono>

#include "goro/goro.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

goro::options procs_n(unsigned n) {
  goro::options o;
  o.procs = n;
  return o;
}

// GOMAXPROCS 2: 1,000 goroutines, each with a ticker of its own (1 ms),
// receive 10 ticks each and stop it. Reports the elapsed ms from the start
// of the first goroutine to the end of the last (the ticks alone take 10 ms;
// the rest is timer, channel and scheduler work), after a warm-up round.
constexpr int fanout_goroutines = 1000, fanout_ticks = 10;

double fanout_round() {
  goro::wait_group done;
  done.add(fanout_goroutines);
  auto t0 = clock_type::now();
  for (int i = 0; i < fanout_goroutines; i++)
    goro::go([&] {
      goro::ticker tk = goro::new_ticker(std::chrono::milliseconds(1));
      auto c = tk.c();
      for (int k = 0; k < fanout_ticks; k++) c.recv();
      tk.stop();
      done.done();
    });
  done.wait();
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

void ticker_fanout(benchmark::State& state) {
  double ms = 0;
  for (auto _ : state) {
    ms = goro::run(
        [] {
          fanout_round();  // warm-up
          return fanout_round();
        },
        procs_n(2));
  }
  state.counters["ms"] = ms;
}
BENCHMARK(ticker_fanout)->Name("ticker_fanout/procs:2")->Iterations(1)->UseRealTime();

// GOMAXPROCS 1: one timer (1 h), reset to 1 h and stopped 1,000,000 times
// after 100,000 of warm-up; ns per reset + stop pair.
void timer_reset_stop(benchmark::State& state) {
  constexpr int n = 1'000'000;
  double per = 0;
  for (auto _ : state) {
    per = goro::run(
        [] {
          goro::timer t = goro::new_timer(std::chrono::hours(1));
          for (int i = 0; i < n / 10; i++) {
            benchmark::DoNotOptimize(t.reset(std::chrono::hours(1)));
            benchmark::DoNotOptimize(t.stop());
          }
          auto t0 = clock_type::now();
          for (int i = 0; i < n; i++) {
            benchmark::DoNotOptimize(t.reset(std::chrono::hours(1)));
            benchmark::DoNotOptimize(t.stop());
          }
          return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / n;
        },
        procs_n(1));
  }
  state.counters["ns_per_op"] = per;
}
BENCHMARK(timer_reset_stop)->Name("timer_reset_stop/procs:1")->Iterations(1)->UseRealTime();

}  // namespace
