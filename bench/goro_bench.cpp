// goro's side of the peer benchmarks (bench/go/main.go is Go's side; both
// are run and compared by ci/bench.sh). Each benchmark reports the figure
// compared with Go as the user counter the comparison reads (ns_per_op),
// measured the same way as the Go program: same sizes, same warm-up, same
// rounds. Names match the Go side exactly.
#include <benchmark/benchmark.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "goro/goro.hpp"
#include "sched/runq.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double ns_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Runs body(iterations) under the benchmark loop in batches, timing it with
// the steady clock, and reports ns per op (ops_per_iteration per iteration).
template <class Body>
void timed_loop(benchmark::State& state, double ops_per_iteration, Body body) {
  double total_ns = 0;
  std::int64_t iters = 0;
  for (auto _ : state) {
    auto t0 = clock_type::now();
    body();
    total_ns += ns_since(t0);
    iters++;
  }
  state.counters["ns_per_op"] = total_ns / (static_cast<double>(iters) * ops_per_iteration);
}

goro::options procs_opts(unsigned procs) {
  goro::options o;
  o.procs = procs;
  // Spawn-heavy workloads keep up to a million goroutines queued at once;
  // guarded stacks would stop near 32 thousand (vm.max_map_count).
  o.stack_guard = false;
  return o;
}

// Two goroutines on one P each yield n times; every yield hands the P to the
// other. Returns ns for the whole round (from the start gate to both done).
double yield_round(int n) {
  goro::wait_group ready, start, done;
  ready.add(2);
  start.add(1);
  done.add(2);
  auto worker = [&] {
    ready.done();
    start.wait();
    for (int i = 0; i < n; i++) goro::yield();
    done.done();
  };
  goro::go(worker);
  goro::go(worker);
  ready.wait();
  auto t0 = clock_type::now();
  start.done();
  done.wait();
  return ns_since(t0);
}

void yield_switch(benchmark::State& state, unsigned procs) {
  constexpr int n = 2'000'000;
  double per = 0;
  for (auto _ : state) {
    double ns = goro::run(
        [] {
          yield_round(n / 10);  // warm-up
          return yield_round(n);
        },
        procs_opts(procs));
    per = ns / (2.0 * n);
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["ns_per_op"] = per;
}

double spawn_join_round(int n) {
  goro::wait_group wg;
  auto t0 = clock_type::now();
  for (int i = 0; i < n; i++) {
    wg.add(1);
    goro::go([&wg] { wg.done(); });
  }
  wg.wait();
  return ns_since(t0);
}

// guard: default options' guarded stacks (MADV_GUARD_INSTALL, pooled) instead
// of procs_opts' unguarded ones; the _guarded rows have no Go peer.
// n: the goroutines per round (spawn_join_1M, and the scaling rows
// spawn_join_1k .. spawn_join_10M).
void spawn_join_n(benchmark::State& state, int n, unsigned procs, bool guard) {
  double per = 0;
  goro::options o = procs_opts(procs);
  o.stack_guard = guard;
  for (auto _ : state) {
    per = goro::run(
        [n] {
          spawn_join_round(n);  // warm-up
          std::vector<double> rounds;
          for (int r = 0; r < 5; r++) rounds.push_back(spawn_join_round(n) / n);
          return median(rounds);
        },
        o);
  }
  state.counters["ns_per_op"] = per;
}

// Two goroutines bounce an int over two unbuffered channels n times; ns for
// the n round trips (each a send and a receive in both directions), timed in
// the main goroutine as the Go side does.
double pingpong_round(int n) {
  goro::chan<int> ping, pong, done;
  goro::go([ping, pong, done, n]() mutable {
    for (int i = 0; i < n; i++) pong.send(*ping.recv());
    done.close();
  });
  auto t0 = clock_type::now();
  for (int i = 0; i < n; i++) {
    ping.send(i);
    benchmark::DoNotOptimize(pong.recv());
  }
  double ns = ns_since(t0);
  done.recv();
  return ns;
}

void chan_pingpong(benchmark::State& state, unsigned procs) {
  constexpr int n = 500'000;
  double per = 0;
  for (auto _ : state) {
    double ns = goro::run(
        [] {
          pingpong_round(n / 10);  // warm-up
          return pingpong_round(n);
        },
        procs_opts(procs));
    per = ns / n;
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["ns_per_op"] = per;
}

// skynet over channels: a leaf sends its number on its parent's channel; a
// parent starts 10 children on one unbuffered channel of its own, sums what
// they send and sends the sum up.
void skynet_node(goro::chan<long> out, long num, long size, long div) {
  if (size == 1) {
    out.send(num);
    return;
  }
  goro::chan<long> rc;
  long sub = size / div;
  for (long i = 0; i < div; i++) goro::go(skynet_node, rc, num + i * sub, sub, div);
  long sum = 0;
  for (long i = 0; i < div; i++) sum += *rc.recv();
  out.send(sum);
}

constexpr long skynet_leaves = 1'000'000;

void skynet(benchmark::State& state, unsigned procs) {
  constexpr long want = skynet_leaves * (skynet_leaves - 1) / 2;
  double ms = 0;
  long sum = 0;
  for (auto _ : state) {
    auto t0 = clock_type::now();
    sum = goro::run(
        [] {
          goro::chan<long> c;
          goro::go(skynet_node, c, 0L, skynet_leaves, 10L);
          return *c.recv();
        },
        procs_opts(procs));
    ms = ns_since(t0) / 1e6;
    state.SetIterationTime(ms / 1e3);
  }
  if (sum != want) {
    state.SkipWithError(("skynet: wrong sum " + std::to_string(sum)).c_str());
    return;
  }
  state.counters["ms"] = ms;
}

// Goroutines contend for one mutex around a counter increment; ns per
// lock+unlock pair over all of them, from the start gate to the last done.
double mutex_round(int goroutines, int n, bool& ok) {
  goro::mutex mu;
  long counter = 0;
  goro::wait_group ready, start, done;
  ready.add(goroutines);
  start.add(1);
  done.add(goroutines);
  for (int g = 0; g < goroutines; g++)
    goro::go([&] {
      ready.done();
      start.wait();
      for (int i = 0; i < n; i++) {
        mu.lock();
        counter++;
        mu.unlock();
      }
      done.done();
    });
  ready.wait();
  auto t0 = clock_type::now();
  start.done();
  done.wait();
  double ns = ns_since(t0);
  ok = ok && counter == static_cast<long>(goroutines) * n;
  return ns;
}

void mutex_contention(benchmark::State& state, unsigned procs) {
  constexpr int goroutines = 4, per_goroutine = 250'000;
  double per = 0;
  bool ok = true;
  for (auto _ : state) {
    double ns = goro::run(
        [&ok] {
          mutex_round(goroutines, per_goroutine / 10, ok);  // warm-up
          return mutex_round(goroutines, per_goroutine, ok);
        },
        procs_opts(procs));
    per = ns / (goroutines * per_goroutine);
    state.SetIterationTime(ns / 1e9);
  }
  if (!ok) {
    state.SkipWithError("mutex_contention: lost increments");
    return;
  }
  state.counters["ns_per_op"] = per;
}

// Timer throughput. timer_goroutines goroutines wait at a gate, then each
// does timer_sleeps timed waits, wait k of goroutine i lasting
// 1 + (i + 37k) % 100 microseconds, so about 10,000 timers are pending at
// any moment, due at scattered times. Reports elapsed / (goroutines *
// waits) from opening the gate to the last goroutine done: ns per timer
// fired, including the park and the wake-up. A warm-up round of a tenth of
// the waits first. The sleeps add up to far less than the elapsed time, so
// this measures the timer and scheduler work, not the durations.
constexpr int timer_goroutines = 10'000, timer_sleeps = 20;

std::chrono::nanoseconds timer_wait(int i, int k) {
  return std::chrono::microseconds(1 + (i + 37 * k) % 100);
}

template <class Wait>
double timer_round(int sleeps, Wait wait) {
  goro::wait_group ready, start, done;
  ready.add(timer_goroutines);
  start.add(1);
  done.add(timer_goroutines);
  for (int i = 0; i < timer_goroutines; i++)
    goro::go([&, i] {
      ready.done();
      start.wait();
      for (int k = 0; k < sleeps; k++) wait(timer_wait(i, k));
      done.done();
    });
  ready.wait();
  auto t0 = clock_type::now();
  start.done();
  done.wait();
  return ns_since(t0);
}

template <class Wait>
void timer_bench(benchmark::State& state, unsigned procs, Wait wait) {
  double per = 0;
  for (auto _ : state) {
    double ns = goro::run(
        [&] {
          timer_round(timer_sleeps / 10, wait);  // warm-up
          return timer_round(timer_sleeps, wait);
        },
        procs_opts(procs));
    per = ns / (static_cast<double>(timer_goroutines) * timer_sleeps);
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["ns_per_op"] = per;
}

// Each wait is goro::sleep_for (Go: time.Sleep).
void sleep_timers(benchmark::State& state, unsigned procs) {
  timer_bench(state, procs, [](std::chrono::nanoseconds d) { goro::sleep_for(d); });
}

// Each wait is a select between a channel nobody sends on and goro::after
// (Go: select { case <-never: case <-time.After(d): }), the usual timeout:
// a timer, a channel and a select park per wait.
void after_select(benchmark::State& state, unsigned procs) {
  goro::chan<int> never;
  timer_bench(state, procs, [never](std::chrono::nanoseconds d) {
    goro::select(goro::on_recv(never), goro::on_recv(goro::after(d)));
  });
}

// Go's runtime.NumCPU(): the CPUs this process may run on.
unsigned num_cpu() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? hw : 1;
}

// goro only (Go's run queue is not reachable from Go code): one runqput plus
// one runqget on an uncontended P, the cost inside every go/yield.
void runq_put_get(benchmark::State& state) {
  using namespace goro::detail;
  goro::options o;
  o.stack_guard = false;
  runtime rt(o, 1);
  p* pp = new p;
  rt.allp[0].store(pp);
  rt.gomaxprocs.store(1);
  g gs[64];
  std::size_t i = 0;
  timed_loop(state, 1000, [&] {
    for (int k = 0; k < 1000; k++) {
      runqput(rt, pp, &gs[i++ & 63], false);
      benchmark::DoNotOptimize(runqget(pp).gp);
    }
  });
}
BENCHMARK(runq_put_get)->Name("runq_put_get");

// goro only: the raw Boost.Context switch, at the two levels the runtime
// could be built on. goro uses fcontext (the faster here; see bench/README.md).
void raw_switch_fcontext(benchmark::State& state) {
  using namespace boost::context::detail;
  constexpr std::size_t size = 64 * 1024;
  auto mem = std::make_unique<char[]>(size);
  fcontext_t other = make_fcontext(mem.get() + size, size, [](transfer_t t) {
    for (;;) t = jump_fcontext(t.fctx, nullptr);
  });
  timed_loop(state, 2000, [&] {
    for (int k = 0; k < 1000; k++) {
      transfer_t t = jump_fcontext(other, nullptr);  // there and back: 2 switches
      other = t.fctx;
    }
  });
}
BENCHMARK(raw_switch_fcontext)->Name("raw_switch/fcontext");

void raw_switch_fiber(benchmark::State& state) {
  namespace ctx = boost::context;
  ctx::fiber other{[](ctx::fiber&& caller) {
    for (;;) caller = std::move(caller).resume();
    return std::move(caller);
  }};
  timed_loop(state, 2000, [&] {
    for (int k = 0; k < 1000; k++) other = std::move(other).resume();
  });
}
BENCHMARK(raw_switch_fiber)->Name("raw_switch/fiber");

void parked_mem(benchmark::State& state, int n, bool guard);  // below

}  // namespace

int main(int argc, char** argv) {
  // Registered by hand so the names are exactly the Go peer's.
  benchmark::RegisterBenchmark("yield_switch/procs:1", yield_switch, 1u)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  for (unsigned procs : {1u, 2u})
    for (bool guard : {false, true})
      benchmark::RegisterBenchmark(
          ((guard ? "spawn_join_1M_guarded/procs:" : "spawn_join_1M/procs:") +
           std::to_string(procs))
              .c_str(),
          spawn_join_n, 1'000'000, procs, guard)
          ->Iterations(1)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  // How cost grows (bench/README.md, "Scaling"): the Go peer's rows of the
  // same names; _guarded: default options' guarded stacks (no Go peer).
  const std::pair<const char*, int> sizes[] = {
      {"1k", 1'000}, {"10k", 10'000}, {"100k", 100'000}, {"10M", 10'000'000}};
  for (auto [tag, n] : sizes)
    for (bool guard : {false, true})
      benchmark::RegisterBenchmark(
          (std::string("spawn_join_") + tag + (guard ? "_guarded" : "") + "/procs:2").c_str(),
          spawn_join_n, n, 2u, guard)
          ->Iterations(1)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  // parked_mem is 100k goroutines; the scaling rows 1k, 10k and 1M. 10M
  // would need about 30 GiB on either side (Go's 2.9 KiB, goro's ~4 KiB each)
  // on these 24 GiB machines.
  const std::pair<const char*, int> parked[] = {
      {"", 100'000}, {"_1k", 1'000}, {"_10k", 10'000}, {"_1M", 1'000'000}};
  for (auto [tag, n] : parked)
    for (bool guard : {false, true})
      benchmark::RegisterBenchmark(
          (std::string("parked_mem") + tag + (guard ? "_guarded" : "")).c_str(), parked_mem, n,
          guard)
          ->Iterations(1)
          ->UseRealTime();
  for (unsigned procs : {1u, 2u})
    benchmark::RegisterBenchmark(("chan_pingpong/procs:" + std::to_string(procs)).c_str(),
                                 chan_pingpong, procs)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  // skynet at the Ps curve's procs (1 to 64 on these 2 cores: oversubscribed
  // Ps must not collapse throughput) and at NumCPU, as the Go peer.
  unsigned ncpu = num_cpu();
  std::vector<unsigned> skynet_procs = {1, 2, 4, 8, 16, 64};
  if (std::find(skynet_procs.begin(), skynet_procs.end(), ncpu) == skynet_procs.end())
    skynet_procs.push_back(ncpu);
  for (unsigned procs : skynet_procs)
    benchmark::RegisterBenchmark(("skynet/procs:" + std::to_string(procs)).c_str(), skynet, procs)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("mutex_contention/procs:2", mutex_contention, 2u)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  for (unsigned procs : {1u, 2u})
    benchmark::RegisterBenchmark(("sleep_timers/procs:" + std::to_string(procs)).c_str(),
                                 sleep_timers, procs)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("after_select/procs:2", after_select, 2u)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

namespace {

// Resident set size now, from /proc/self/statm (pages), in bytes.
long rss_bytes() {
  long pages_total = 0, pages_resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(f);
  }
  return pages_resident * sysconf(_SC_PAGESIZE);
}

// The process's page tables now (VmPTE in /proc/self/status), in bytes; RSS
// does not include them.
long pagetable_bytes() {
  long kb = 0;
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "VmPTE: %ld kB", &kb) == 1) break;
    std::fclose(f);
  }
  return kb * 1024;
}

// As Go's parked_mem: 100,000 goroutines each blocked receiving on a channel
// of its own; resident memory before and after, per goroutine (its stack,
// its g and its channel). The vector holding the channels is made resident
// before the baseline. Default Ps (2 here), unguarded pooled stacks (as
// before guarded ones pooled with MADV_GUARD_INSTALL; parked_mem_guarded
// measures those, which in the mprotect fallback would stop near 32
// thousand goroutines at vm.max_map_count), default stack size (256 KiB). The second figure, as
// Go's parked_mem_with_pagetables, adds the page tables (VmPTE), which RSS leaves out: each 4 KiB
// page-table page maps 2 MiB, 8 of our stacks. guard: as above (parked_mem_guarded, no Go peer).
void parked_mem(benchmark::State& state, int n, bool guard) {
  double per = 0, per_with_pt = 0;
  for (auto _ : state) {
    goro::options o;
    o.stack_guard = guard;
    per = goro::run(
        [&per_with_pt, n] {
          std::vector<std::optional<goro::chan<char>>> chans(n);  // resident: constructed
          long before = rss_bytes(), pt_before = pagetable_bytes();
          goro::wait_group started, exited;
          started.add(n);
          exited.add(n);
          for (int i = 0; i < n; i++) {
            goro::chan<char>& ch = chans[i].emplace();
            goro::go([&started, &exited, ch]() mutable {
              started.done();
              (void)ch.recv();
              exited.done();
            });
          }
          started.wait();
          goro::sleep_for(std::chrono::milliseconds(50));  // the last ones reach recv
          long after = rss_bytes(), pt_after = pagetable_bytes();
          for (auto& ch : chans) ch->close();
          exited.wait();
          per_with_pt = static_cast<double>(after - before + pt_after - pt_before) / n;
          return static_cast<double>(after - before) / n;
        },
        o);
  }
  state.counters["bytes_per_goroutine"] = per;
  state.counters["with_pagetables_bytes_per_goroutine"] = per_with_pt;
}

}  // namespace
