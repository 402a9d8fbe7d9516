// goro's side of the sysmon benchmarks (bench/go/sysmon.go and the
// sleep_lateness workload in bench/go/main.go are Go's): how late a sleeper
// wakes behind a call-free spinner (asynchronous preemption), how long a P
// sits idle behind a goroutine that enters a long blocking call (handoff),
// and what a blocking() call around a trivial system call costs.
#include <benchmark/benchmark.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "goro/goro.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

goro::options one_p() {
  goro::options o;
  o.procs = 1;
  return o;
}

// As Go's: the spinner's inner loop increments a global 2^20 times between
// looks at the stop flag, with no call anywhere in it.
volatile std::uint64_t spin_counter = 0;
std::atomic<bool> spin_stop{false};

void spin() {
  while (!spin_stop.load(std::memory_order_relaxed))
    for (int i = 0; i < (1 << 20); i++) spin_counter = spin_counter + 1;
}

// GOMAXPROCS 1: a spinner holds the only P while a sleeper sleeps 1 ms 200
// times; reports the worst lateness (ms) and the median (median_ms).
void sleep_lateness(benchmark::State& state) {
  constexpr int sleeps = 200;
  std::vector<double> late;
  for (auto _ : state) {
    late.clear();
    spin_stop = false;
    goro::run(
        [&] {
          goro::wait_group wg;
          wg.add(2);
          goro::go([&] {
            spin();
            wg.done();
          });
          goro::go([&] {
            for (int i = 0; i < sleeps; i++) {
              auto t0 = clock_type::now();
              goro::sleep_for(std::chrono::milliseconds(1));
              late.push_back(ms_between(t0, clock_type::now()) - 1.0);
            }
            spin_stop = true;
            wg.done();
          });
          wg.wait();
        },
        one_p());
  }
  std::sort(late.begin(), late.end());
  state.counters["ms"] = late.back();
  state.counters["median_ms"] = late[late.size() / 2];
}
BENCHMARK(sleep_lateness)->Name("sleep_lateness/procs:1")->Iterations(1)->UseRealTime();

// GOMAXPROCS 1: a goroutine starts a second one (queued behind it) and then
// blocks reading a pipe; the time from just before the read to the moment
// the second goroutine runs is how long the P sat idle behind the call. The
// second goroutine writes the byte that ends the read. 200 rounds after 20
// of warm-up; reports the median in ns per handoff.
void handoff_latency(benchmark::State& state) {
  constexpr int rounds = 200, warmup = 20;
  std::vector<double> lat;
  for (auto _ : state) {
    lat.clear();
    int fd[2];
    if (pipe(fd) != 0) {
      state.SkipWithError("pipe failed");
      return;
    }
    goro::run(
        [&] {
          for (int i = 0; i < warmup + rounds; i++) {
            goro::chan<clock_type::time_point> ran(1);
            goro::go([&] {
              ran.send(clock_type::now());
              char c = 1;
              (void)!write(fd[1], &c, 1);
            });
            char c;
            auto t0 = clock_type::now();
            goro::blocking([&] { return read(fd[0], &c, 1); });
            auto t1 = *ran.recv();
            if (i >= warmup)
              lat.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
          }
        },
        one_p());
    close(fd[0]);
    close(fd[1]);
  }
  std::sort(lat.begin(), lat.end());
  state.counters["ns_per_op"] = lat[lat.size() / 2];
}
BENCHMARK(handoff_latency)->Name("handoff_latency/procs:1")->Iterations(1)->UseRealTime();

// A blocking() call around getppid, the cheapest system call: the price of
// entersyscall + exitsyscall (fast path) plus the call, as Go's
// syscall.Syscall(SYS_GETPPID). 1,000,000 calls after 100,000 of warm-up.
void blocking_call(benchmark::State& state) {
  constexpr int n = 1'000'000;
  double per = 0;
  for (auto _ : state) {
    per = goro::run(
        [] {
          for (int i = 0; i < n / 10; i++) goro::blocking([] { return syscall(SYS_getppid); });
          auto t0 = clock_type::now();
          for (int i = 0; i < n; i++) goro::blocking([] { return syscall(SYS_getppid); });
          return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / n;
        },
        one_p());
  }
  state.counters["ns_per_op"] = per;
}
BENCHMARK(blocking_call)->Name("blocking_call/procs:1")->Iterations(1)->UseRealTime();

}  // namespace
