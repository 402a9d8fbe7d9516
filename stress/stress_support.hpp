// Stress suite (ctest label `stress`, one executable stress_test): the
// scheduler run hard, with more Ps than cores, many spawns, steals,
// wait_group parks, gomaxprocs changes, goroutines injected from foreign
// threads, channels, select, mutex, blocking calls, timers and asynchronous
// preemption. Every test checks exact counts (each goroutine ran exactly
// once, every hop of a token ring happened), so a lost or duplicated G fails
// it; a hang fails it through an explicit deadline where the test can detect
// one (SpinRendezvous, NeedspinningCounterexample, TimersAndAsyncPreemption)
// and through the ctest TIMEOUT elsewhere. In chaos builds,
// NeedspinningCounterexample replays TLC's lost-wakeup trace with
// fault-injection hooks and ChaosReplay checks that a chaos seed replays its
// decisions.
//
// The tests, by concern, in the order gtest and ctest -N list them:
//   stress_runq.cpp          spawn trees, steals, wait_group parks, resize, injection
//   stress_spinning.cpp      spinning Ms and wakeups (SpinRendezvous, the
//                            needspinning counterexample)
//   stress_chan_syscall.cpp  channels, select and mutex; blocking calls and handoff
//   stress_timers.cpp        timers and asynchronous preemption under resize
//   stress_runtime.cpp       run() restarts; counted scheduling events
//   stress_replay.cpp        chaos seed replay (ChaosReplay)
//
// Built and run in the release, tsan, asan and chaos (GORO_CHAOS=ON)
// configurations; under TSan and ASan every report fails the run
// (halt_on_error is set in stress/CMakeLists.txt).
//
// Time: each test loops rounds for GORO_SOAK_SECONDS seconds if set, else
// for stress_default_seconds (short, for CI). For a soak:
//   GORO_SOAK_SECONDS=3600 ctest -L stress --timeout 100000
// CountedSchedulingEventsConserve is bounded by the runtime's own event
// counts instead: GORO_SOAK_EVENTS=N (ci/soak.sh).
//
// Seeds: a failing test prints "replay: GORO_CHAOS_SEED=... GORO_STRESS_SEED=...
// stress_test --gtest_filter=..." (spec/verification.md, "Replay": what
// that reproduces and what it cannot).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "base/build_config.hpp"
#include "test_options.hpp"

namespace goro_stress {

using clk = std::chrono::steady_clock;
using goro_test::procs;

constexpr double stress_default_seconds = 2.0;

// Each test's time budget: GORO_SOAK_SECONDS if set, else
// stress_default_seconds.
double budget_seconds();

// The seed of tests that draw random inputs (TimersAndAsyncPreemption):
// GORO_STRESS_SEED (decimal or 0x hex) if set, else fresh. Printed when
// first used, and again with the chaos seed when a test fails.
std::uint64_t stress_seed();

// Under the simulation (GORO_SIM, spec/simulation.md) a test's length is a
// number of rounds, not seconds: a wall-clock budget would make how many
// rounds run, and so the session's schedule, depend on the machine's speed,
// and a printed seed would not replay. GORO_SIM_ROUNDS=N if set, else
// sim_default_rounds; the seeds come from GORO_SIM_SEED_BASE (one per
// goro::run) and ctest repeats the binary (stress/CMakeLists.txt).
constexpr int sim_default_rounds = 2;
int sim_rounds();
// "GORO_SIM_SEED=... [GORO_SIM_STRATEGY=...] ": the failing session's replay.
std::string sim_replay_env();

// A test's size: n, or sim_n under the simulation, where every atomic step
// is a scheduling decision and a session of n = 20000 goroutines would take
// minutes; sim_n keeps what the test exercises (overflow to the global queue,
// steals, parks) at a size that many seeds can afford.
constexpr int sized(int n, int sim_n) { return goro::detail::sim ? sim_n : n; }

// Loops body(round) until the time budget is spent (at least min_rounds);
// in the simulation, max(min_rounds, sim_rounds()) rounds.
template <class F>
int for_budget(F&& body, int min_rounds = 1) {
  if constexpr (goro::detail::sim) {
    int n = std::max(min_rounds, sim_rounds());
    for (int round = 0; round < n; round++) body(round);
    return n;
  }
  auto end = clk::now() + std::chrono::duration<double>(budget_seconds());
  int round = 0;
  while (round < min_rounds || clk::now() < end) body(round++);
  return round;
}

// A small deterministic PRNG for timing jitter (no shared state).
struct xorshift {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

inline void spin_for(unsigned n) {
  for (unsigned i = 0; i < n; i++) asm volatile("" ::: "memory");
}

}  // namespace goro_stress
