// The deterministic simulation (GORO_SIM, spec/simulation.md): a run is a
// function of its seed, programs run to completion under many seeds with
// virtual time, and a planted check-then-act race is found by some seed and
// replayed exactly from it. Built only in the sim preset (label sim).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
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
  std::uint64_t replay;
  if (sim::env_seed(replay))
    GTEST_SKIP() << "compares seeds of its own; GORO_SIM_SEED overrides them";
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
                n, a.decisions, a.threads, a.hash, static_cast<double>(a.virtual_ns) / 1e6,
                c.decisions, c.hash);
    EXPECT_NE(a.hash, c.hash) << "procs " << n;
  }
}

// The seeds a sweep runs: [first, first + n), or only GORO_SIM_SEED when it
// is set (the replay of a printed seed).
std::vector<std::uint64_t> seeds(std::uint64_t first, std::uint64_t n) {
  std::uint64_t s;
  if (sim::env_seed(s)) return {s};
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 0; i < n; i++) v.push_back(first + i);
  return v;
}

TEST(Sim, PctSameSeedSameLog) {
  std::uint64_t replay;
  if (sim::env_seed(replay))
    GTEST_SKIP() << "compares seeds of its own; GORO_SIM_SEED overrides them";
  sim::session_stats a = run_seed(7, mixed, 3, sim::strategy::pct);
  sim::session_stats b = run_seed(7, mixed, 3, sim::strategy::pct);
  sim::session_stats c = run_seed(8, mixed, 3, sim::strategy::pct);
  EXPECT_GT(a.decisions, 500u);
  EXPECT_EQ(a.decisions, b.decisions);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_NE(a.hash, c.hash);
  EXPECT_GT(a.pct_bound, 0.0);
  std::printf("pct: %" PRIu64 " decisions, %u threads, depth 3: bound 1/(n*k^(d-1)) = %.3g\n",
              a.decisions, a.threads, a.pct_bound);
}

// Programs run to completion under many seeds, procs 1..4, both strategies
// (mixed() aborts, printing its seed, on a wrong result; the controller
// aborts, printing the seed, if every thread waits with no deadline).
TEST(Sim, ManySeedsComplete) {
  std::uint64_t total = 0;
  for (sim::strategy st : {sim::strategy::random, sim::strategy::pct})
    for (unsigned n = 1; n <= 4; n++)
      for (std::uint64_t seed : seeds(1000, 50)) {
        sim::session_stats r = run_seed(seed, mixed, n, st);
        ASSERT_GT(r.decisions, 100u) << "GORO_SIM_SEED=" << seed;
        total += r.decisions;
      }
  std::printf("400 runs, %" PRIu64 " scheduling decisions\n", total);
}

// Virtual time: ten seconds of sleeps and a timer take no wall time; the
// virtual clock moves by at least the sleep.
void long_sleeps() {
  goro::wait_group wg;
  for (int i = 0; i < 3; i++) {
    wg.add(1);
    goro::go([&wg, i] {
      goro::sleep_for(std::chrono::seconds(10 + i));
      wg.done();
    });
  }
  auto t = goro::after(std::chrono::seconds(5));
  (void)t.recv();
  wg.wait();
}

TEST(Sim, VirtualTimeSleepsAreInstant) {
  for (unsigned n : {1u, 2u, 4u})
    for (std::uint64_t seed : seeds(1, 5)) {
      auto t0 = std::chrono::steady_clock::now();
      sim::session_stats r = run_seed(seed, long_sleeps, n);
      double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_GE(r.virtual_ns, 12'000'000'000) << "GORO_SIM_SEED=" << seed;
      EXPECT_LT(wall, 5.0) << "GORO_SIM_SEED=" << seed;
    }
}

// Teeth: a planted check-then-act race. Each goroutine checks `ready`, logs
// through a buffered channel (a runtime lock round: a scheduling point),
// then sets it and counts an initialization. Two goroutines both
// initializing is the bug; some seed must find it, and that seed must
// replay it exactly.
std::atomic<int> inits{0};
void lazy_init_race() {
  inits.store(0, std::memory_order_relaxed);
  std::atomic<bool> ready{false};
  goro::chan<int> log(16);
  goro::wait_group wg;
  for (int i = 0; i < 2; i++) {
    wg.add(1);
    goro::go([&] {
      if (!ready.load(std::memory_order_relaxed)) {  // check ...
        log.send(1);
        ready.store(true, std::memory_order_relaxed);  // ... then act
        inits.fetch_add(1, std::memory_order_relaxed);
      }
      wg.done();
    });
  }
  wg.wait();
}

TEST(Sim, FindsAndReplaysCheckThenActRace) {
  constexpr std::uint64_t first = 1, range = 200;
  // A replay (GORO_SIM_SEED set) runs the one strategy GORO_SIM_STRATEGY
  // names (the controller applies it over ours).
  std::uint64_t replay;
  std::vector<sim::strategy> strategies{sim::strategy::random, sim::strategy::pct};
  if (sim::env_seed(replay)) strategies.resize(1);
  for (sim::strategy st : strategies) {
    std::uint64_t found = 0;
    sim::session_stats bad{};
    int tried = 0;
    for (std::uint64_t seed : seeds(first, range)) {
      tried++;
      sim::session_stats r = run_seed(seed, lazy_init_race, 2, st);
      if (inits.load() == 2) {
        found = seed;
        bad = r;
        break;
      }
    }
    const char* name = sim::last_stats().strat == sim::strategy::pct ? "pct" : "random";
    ASSERT_NE(found, 0u) << name << ": no seed in [" << first << ", " << first + range
                         << ") (or the GORO_SIM_SEED replayed) found the race";
    std::printf("%s: the race found by seed %" PRIu64 " (run %d): GORO_SIM_SEED=%" PRIu64
                " GORO_SIM_STRATEGY=%s replays it\n",
                name, found, tried, found, name);
    // Replay: the same schedule, hence the same failure, three times.
    for (int k = 0; k < 3; k++) {
      sim::session_stats r = run_seed(found, lazy_init_race, 2, st);
      EXPECT_EQ(inits.load(), 2) << name << " replay " << k;
      EXPECT_EQ(r.hash, bad.hash) << name << " replay " << k;
      EXPECT_EQ(r.decisions, bad.decisions) << name << " replay " << k;
    }
  }
}

// A forced schedule's text (GORO_SIM_SCHEDULE): "<thread> <steps>" lines,
// comments and blank lines; anything else is refused with its line.
TEST(Sim, ParseSchedule) {
  std::vector<sim::forced_step> s;
  std::string err;
  ASSERT_TRUE(sim::parse_schedule("# from TLC\n1 7\n\n  2 1  # a thief\n", s, err)) << err;
  EXPECT_EQ(s, (std::vector<sim::forced_step>{{1, 7}, {2, 1}}));
  for (const char* bad : {"1\n", "1 2 3\n", "x 2\n", "1 -2\n"}) {
    s.clear();
    EXPECT_FALSE(sim::parse_schedule(bad, s, err)) << bad;
    EXPECT_NE(err.find("line 1"), std::string::npos) << err;
  }
}

// A forced schedule decides the start of a run and the seed the rest: two
// seeds under one schedule log the same decisions while it is in force,
// and the run completes.
TEST(Sim, ForcedScheduleThenSeed) {
  if (std::getenv("GORO_SIM_SCHEDULE")) GTEST_SKIP() << "GORO_SIM_SCHEDULE overrides ours";
  std::vector<std::vector<sim::event>> logs;
  std::vector<sim::session_stats> stats;
  for (std::uint64_t seed : {5u, 6u}) {
    sim::options o;
    o.seed = seed;
    o.schedule = {{0, 40}};  // thread 0 (goro::run's) for its first 40 atomic steps
    sim::set_options(o);
    goro::run(mixed, procs(2));
    logs.push_back(sim::last_log());
    stats.push_back(sim::last_stats());
  }
  sim::set_options(sim::options{});
  for (auto& st : stats) {
    EXPECT_TRUE(st.schedule_done);
    EXPECT_EQ(st.forced, 40u);
  }
  // Every decision up to the schedule's end is the schedule's, whatever the seed.
  ASSERT_EQ(stats[0].schedule_decisions, stats[1].schedule_decisions);
  std::size_t n = stats[0].schedule_decisions;
  ASSERT_GE(n, 40u);
  ASSERT_GT(logs[0].size(), n);
  ASSERT_GT(logs[1].size(), n);
  for (std::size_t i = 0; i < n; i++) EXPECT_EQ(logs[0][i], logs[1][i]) << "decision " << i;
  EXPECT_NE(stats[0].hash, stats[1].hash);
}

}  // namespace
