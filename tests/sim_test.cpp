// The deterministic simulation (GORO_SIM, spec/simulation.md): a run is a
// function of its seed, programs run to completion under many seeds with
// virtual time, and a planted check-then-act race is found by some seed and
// replayed exactly from it. Built only in the sim preset (label sim).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "goro/goro.hpp"
#include "sim/controller.hpp"
#include "test_options.hpp"

namespace {

namespace sim = goro::detail::simulator;
using goro_test::procs;

static_assert(goro::detail::sim, "sim_test is built only with GORO_SIM (the sim preset)");

sim::session_stats run_seed(std::uint64_t seed, void (*body)(), unsigned nprocs,
                            sim::strategy st = sim::strategy::random) {
  sim::options o;
  o.seed = seed;
  o.strat = st;
  sim::set_options(o);
  goro::run(body, procs(nprocs));
  return sim::last_stats();
}

// A mixed program: spawns, an unbuffered and a buffered channel, a
// wait_group, a mutex, and short sleeps.
void mixed() {
  constexpr int workers = 4, items = 30;
  goro::chan<int> work;
  goro::chan<int> results(8);
  goro::wait_group wg;
  goro::mutex mu;
  long sum = 0;
  for (int w = 0; w < workers; w++) {
    wg.add(1);
    goro::go([&, w] {
      while (auto v = work.recv()) {
        if (*v % 7 == w) goro::sleep_for(std::chrono::microseconds(50));
        mu.lock();
        sum += *v;
        mu.unlock();
        results.send(*v);
      }
      wg.done();
    });
  }
  goro::go([&] {
    for (int i = 1; i <= items; i++) work.send(i);
    work.close();
  });
  long got = 0;
  for (int i = 0; i < items; i++) got += *results.recv();
  wg.wait();
  if (got != items * (items + 1) / 2 || sum != got) {
    std::fprintf(stderr, "mixed: got %ld sum %ld; GORO_SIM_SEED=%" PRIu64 "\n", got, sum,
                 sim::current_seed());
    std::abort();
  }
}

TEST(Sim, SameSeedSameLog) {
  for (unsigned n : {1u, 2u, 4u}) {
    sim::session_stats a = run_seed(42, mixed, n);
    std::vector<sim::event> la = sim::last_log();
    sim::session_stats b = run_seed(42, mixed, n);
    std::vector<sim::event> lb = sim::last_log();
    EXPECT_GT(a.decisions, 500u) << "procs " << n;
    EXPECT_EQ(a.decisions, b.decisions) << "procs " << n;
    EXPECT_EQ(a.hash, b.hash) << "procs " << n;
    EXPECT_EQ(la == lb, true) << "procs " << n;
    EXPECT_EQ(a.virtual_ns, b.virtual_ns) << "procs " << n;
    sim::session_stats c = run_seed(43, mixed, n);
    std::printf("procs %u: seed 42: %" PRIu64 " decisions, %u threads, hash %016" PRIx64
                ", %.3f ms virtual; seed 43: %" PRIu64 " decisions, hash %016" PRIx64 "\n",
                n, a.decisions, a.threads, a.hash, a.virtual_ns / 1e6, c.decisions, c.hash);
    EXPECT_NE(a.hash, c.hash) << "procs " << n;
  }
}

}  // namespace
