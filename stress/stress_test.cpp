// Stress suite (ctest label `stress`): the scheduler run hard, with more Ps
// than cores, many spawns, steals, wait_group parks, gomaxprocs changes,
// goroutines injected from foreign threads, channels, select, mutex,
// blocking calls, timers and asynchronous preemption. Every test checks
// exact counts (each goroutine ran exactly once, every hop of a token ring
// happened), so a lost or duplicated G fails it; a hang fails it through an
// explicit deadline where the test can detect one (SpinRendezvous,
// NeedspinningCounterexample, TimersAndAsyncPreemption) and through the
// ctest TIMEOUT elsewhere. In chaos builds, NeedspinningCounterexample
// replays TLC's lost-wakeup trace with fault-injection hooks and
// ChaosReplay checks that a chaos seed replays its decisions.
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
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/chaos.hpp"
#include "sched/proc.hpp"
#include "sysmon/sysmon.hpp"

namespace {

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

constexpr double stress_default_seconds = 2.0;

double budget_seconds() {
  static const double s = [] {
    const char* env = std::getenv("GORO_SOAK_SECONDS");
    double v = env && *env ? std::strtod(env, nullptr) : 0;
    return v > 0 ? v : stress_default_seconds;
  }();
  return s;
}

// The seed of tests that draw random inputs (TimersAndAsyncPreemption):
// GORO_STRESS_SEED (decimal or 0x hex) if set, else fresh. Printed when
// first used, and again with the chaos seed when a test fails.
std::uint64_t stress_seed() {
  static const std::uint64_t seed = [] {
    const char* env = std::getenv("GORO_STRESS_SEED");
    std::uint64_t v =
        env && *env ? std::strtoull(env, nullptr, 0)
                    : static_cast<std::uint64_t>(clk::now().time_since_epoch().count()) *
                          0x9E3779B97F4A7C15ull;
    std::printf("GORO_STRESS_SEED=%llu\n", (unsigned long long)v);
    return v;
  }();
  return seed;
}

// On a failure: the command that replays the test with the same seeds
// (spec/verification.md, "Replay", says what that reproduces).
struct replay_printer : testing::EmptyTestEventListener {
  void OnTestEnd(const testing::TestInfo& t) override {
    if (!t.result()->Failed()) return;
    std::string env;
#ifdef GORO_CHAOS
    env += "GORO_CHAOS_SEED=" + std::to_string(goro::detail::chaos_seed()) + " ";
#endif
    if (std::string(t.name()) == "TimersAndAsyncPreemptionUnderResize")
      env += "GORO_STRESS_SEED=" + std::to_string(stress_seed()) + " ";
    std::printf("replay: %sstress_test --gtest_filter=%s.%s\n", env.c_str(), t.test_suite_name(),
                t.name());
  }
};
const bool replay_printer_installed = [] {
  testing::UnitTest::GetInstance()->listeners().Append(new replay_printer);
  return true;
}();

// Loops body(round) until the time budget is spent (at least min_rounds).
template <class F>
int for_budget(F&& body, int min_rounds = 1) {
  auto end = clk::now() + std::chrono::duration<double>(budget_seconds());
  int round = 0;
  while (round < min_rounds || clk::now() < end) body(round++);
  return round;
}

goro::options procs(unsigned n, bool guard = true) {
  goro::options o;
  o.procs = n;
  o.stack_guard = guard;
  return o;
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

void spin_for(unsigned n) {
  for (unsigned i = 0; i < n; i++) asm volatile("" ::: "memory");
}

// 8 Ps on (typically) 2 cores: spawn trees 3 levels deep, each goroutine
// counted. Exercises runnext kick-outs, overflow to the global queue, steals
// and free-list reuse.
TEST(Stress, SpawnTreesMorePsThanCores) {
  std::atomic<std::int64_t> total{0};
  std::int64_t want = 0;
  int rounds = 0;
  goro::run(
      [&] {
        rounds = for_budget([&](int) {
          constexpr int fan = 24;
          goro::wait_group wg;
          wg.add(fan);
          for (int i = 0; i < fan; i++)
            goro::go([&] {
              total.fetch_add(1, std::memory_order_relaxed);
              goro::wait_group inner;
              inner.add(fan);
              for (int j = 0; j < fan; j++)
                goro::go([&] {
                  total.fetch_add(1, std::memory_order_relaxed);
                  goro::wait_group leaf;
                  leaf.add(4);
                  for (int k = 0; k < 4; k++)
                    goro::go([&] {
                      total.fetch_add(1, std::memory_order_relaxed);
                      leaf.done();
                    });
                  leaf.wait();
                  inner.done();
                });
              inner.wait();
              wg.done();
            });
          wg.wait();
          want += fan + fan * fan + fan * fan * 4;
          EXPECT_EQ(total.load(), want);
        });
      },
      procs(8, false));
  EXPECT_EQ(total.load(), want);
  std::printf("SpawnTrees: %d rounds, %lld goroutines\n", rounds, (long long)want);
}

// One producer floods its own P with tiny goroutines (each goes to runnext,
// kicking the previous one to the ring, which overflows to the global
// queue); 7 other Ps steal. Every goroutine must run exactly once.
TEST(Stress, StealFromOneProducerExactlyOnce) {
  constexpr int n = 20000;
  int rounds = 0;
  std::set<std::thread::id> threads_seen;
  std::mutex seen_mu;
  goro::run(
      [&] {
        rounds = for_budget([&](int) {
          auto hits = std::make_unique<std::atomic<int>[]>(n);
          goro::wait_group wg;
          wg.add(n);
          goro::go([&] {
            for (int i = 0; i < n; i++)
              goro::go([&, i] {
                hits[i].fetch_add(1, std::memory_order_relaxed);
                if (i % 1000 == 0) {
                  std::lock_guard lk(seen_mu);
                  threads_seen.insert(std::this_thread::get_id());
                }
                wg.done();
              });
          });
          wg.wait();
          int bad = 0;
          for (int i = 0; i < n; i++)
            if (hits[i].load() != 1 && bad++ < 5)
              ADD_FAILURE() << "goroutine " << i << " ran " << hits[i].load() << " times";
        });
      },
      procs(8, false));
  std::printf("StealFromOneProducer: %d rounds of %d, ran on %zu threads\n", rounds, n,
              threads_seen.size());
}

// A token goes round a ring of goroutines, each parked on its own
// wait_group until its predecessor calls done(): every hop is a park and a
// ready on another goroutine, often across Ps. A lost wakeup stops the token
// (ctest TIMEOUT); the hop count must be exact.
TEST(Stress, TokenRingOfWaitGroupParks) {
  int rounds = 0;
  std::int64_t hops_total = 0;
  goro::run(
      [&] {
        rounds = for_budget([&](int round) {
          // Short rings bring a goroutine's next wait right after its last
          // wake; long ones spread the token over every P.
          static constexpr int rings[] = {2, 3, 8, 64};
          const int ring = rings[round % 4];
          const int laps = 20 + round % 7;
          std::vector<std::unique_ptr<goro::wait_group>> wgs;
          for (int i = 0; i < ring; i++) {
            wgs.push_back(std::make_unique<goro::wait_group>());
            wgs.back()->add(1);
          }
          std::atomic<std::int64_t> hops{0};
          goro::wait_group finished;
          finished.add(ring);
          for (int i = 0; i < ring; i++)
            goro::go([&, i] {
              for (int lap = 0; lap < laps; lap++) {
                wgs[i]->wait();
                // Re-arm before passing the token on: the next done() on
                // ours comes only after the token has gone round.
                wgs[i]->add(1);
                hops.fetch_add(1, std::memory_order_relaxed);
                wgs[(i + 1) % ring]->done();
              }
              finished.done();
            });
          wgs[0]->done();  // the token enters at 0
          finished.wait();
          EXPECT_EQ(hops.load(), static_cast<std::int64_t>(ring) * laps);
          hops_total += hops.load();
          // The token ended back at 0 (laps * ring hops), so wgs[0] is at 0
          // and every other one is armed at 1.
        });
      },
      procs(4));
  std::printf("TokenRing: %d rounds, %lld hops\n", rounds, (long long)hops_total);
}

// A wait_group that ends its life as soon as wait() returns, as Go code does
// ("wg.Wait(); return"): the done() that reached zero must not touch it
// afterwards. The child runs on another P and the waiter arrives at wait()
// at a varying moment, so it often takes the fast path while done() is
// still running. A late access is a use-after-scope: ASan and TSan report
// it (this test's teeth are in the sanitizer builds; it found the bug that
// src/sync/wait_group.cpp's waiter count fixes).
TEST(Stress, WaitGroupDestroyedRightAfterWait) {
  std::int64_t iterations = 0;
  goro::run(
      [&] {
        xorshift r{0xabcdefu};
        for_budget([&](int) {
          for (int k = 0; k < 1000; k++) {
            {
              goro::wait_group wg;
              wg.add(1);
              goro::go([&wg] { wg.done(); });
              spin_for(static_cast<unsigned>(r.next() % 3000));
              wg.wait();
            }
            // Reuse the stack the wait_group occupied.
            volatile char scratch[128];
            for (int i = 0; i < 128; i++) scratch[i] = static_cast<char>(i);
            iterations++;
          }
        });
      },
      procs(2));
  std::printf("WaitGroupScope: %lld wait_groups\n", (long long)iterations);
}

// gomaxprocs changes under load: workers spawn, yield and park while one
// goroutine keeps resizing between 1 and 8 Ps. Nothing may be lost when Ps
// are destroyed with work queued (their queues go to the global queue).
TEST(Stress, GomaxprocsChurnUnderLoad) {
  int rounds = 0;
  int resizes = 0;
  goro::run(
      [&] {
        rounds = for_budget([&](int round) {
          constexpr int workers = 16, per = 200;
          std::atomic<int> ran{0};
          std::atomic<bool> stop{false};
          goro::wait_group churner_done;
          churner_done.add(1);
          goro::go([&, round] {
            xorshift r{0x9e37u + static_cast<std::uint64_t>(round)};
            while (!stop.load(std::memory_order_relaxed)) {
              goro::gomaxprocs(1 + static_cast<unsigned>(r.next() % 8));
              resizes++;
              goro::yield();
            }
            churner_done.done();
          });
          goro::wait_group wg;
          wg.add(workers);
          for (int w = 0; w < workers; w++)
            goro::go([&] {
              goro::wait_group mine;
              mine.add(per);
              for (int i = 0; i < per; i++)
                goro::go([&, i] {
                  if (i % 3 == 0) goro::yield();
                  ran.fetch_add(1, std::memory_order_relaxed);
                  mine.done();
                });
              mine.wait();
              wg.done();
            });
          wg.wait();
          stop.store(true);
          churner_done.wait();
          EXPECT_EQ(ran.load(), workers * per);
        });
      },
      procs(4));
  std::printf("GomaxprocsChurn: %d rounds, %d resizes\n", rounds, resizes);
  EXPECT_GT(resizes, 0);
}

// Foreign threads inject goroutines (the global queue through injectg) while
// goroutines spawn locally, and the foreign threads also block on a
// wait_group as thread waiters.
TEST(Stress, ForeignThreadsInjectAndWait) {
  int rounds = 0;
  goro::run(
      [&] {
        rounds = for_budget([&](int) {
          constexpr int feeders = 3, per = 400;
          std::atomic<int> ran{0};
          goro::wait_group all;
          all.add(feeders * per * 2);
          std::vector<std::thread> ts;
          for (int f = 0; f < feeders; f++)
            ts.emplace_back([&] {
              goro::wait_group mine;
              mine.add(per);
              for (int i = 0; i < per; i++)
                goro::go([&] {
                  ran.fetch_add(1, std::memory_order_relaxed);
                  goro::go([&] {  // a local spawn from an injected goroutine
                    ran.fetch_add(1, std::memory_order_relaxed);
                    all.done();
                  });
                  mine.done();
                  all.done();
                });
              mine.wait();  // a foreign thread waiter, woken by goroutines
            });
          all.wait();
          // Every injected goroutine called mine.done() before all.done(),
          // so the feeders are already leaving: joining blocks this M only
          // briefly.
          for (auto& t : ts) t.join();
          EXPECT_EQ(ran.load(), feeders * per * 2);
        });
      },
      [] {
        goro::options o = procs(4);
        // Main may wait while no goroutine runs, for a feeder's next go().
        o.detect_deadlock = false;
        return o;
      }());
  std::printf("ForeignThreads: %d rounds\n", rounds);
}

// The spinning protocol's no-lost-wakeup guarantee, end to end. The main
// goroutine spawns a child (into its own runnext) and then busy-waits,
// without yielding, until the child runs: only another M can run it, and
// only if the spawn's wakep or a spinning M's re-check finds it. Timing
// jitter sweeps the spawn across the other M's give-up window. With the
// re-check removed (GORO_MUTANT=no_spin_recheck) the child is eventually
// stranded forever; the correct runtime starts it within microseconds, so
// the 10 s deadline is only ever hit by a lost wakeup. Asynchronous
// preemption is off: sysmon would otherwise preempt the spinner after a time
// slice and its P would run the child, hiding the lost wakeup (as in Go,
// where sysmon also bounds the damage).
TEST(Stress, SpinRendezvousNoLostWakeup) {
  constexpr auto deadline = 10s;
  for (unsigned np : {2u, 3u}) {
    std::int64_t iterations = 0;
    bool stranded = false;
    goro::options o = procs(np);
    o.async_preempt = false;
    goro::run(
        [&] {
          xorshift r{0x1234567u + np};
          // Most of the budget at procs 2, where one other M is the only
          // one that can run the child.
          double share = np == 2 ? 0.75 : 0.25;
          auto end = clk::now() + std::chrono::duration<double>(budget_seconds() * share);
          while (clk::now() < end && !stranded) {
            for (int k = 0; k < 200 && !stranded; k++) {
              std::atomic<bool> started{false};
              goro::go([&] { started.store(true, std::memory_order_release); });
              auto give_up = clk::now() + deadline;
              unsigned polls = 0;
              while (!started.load(std::memory_order_acquire)) {
                if (++polls % 4096 == 0 && clk::now() > give_up) {
                  stranded = true;
                  break;
                }
              }
              iterations++;
              // Jitter (0 to ~15 us): the next spawn lands anywhere in the
              // other M's find-work / steal / give-up cycle.
              spin_for(static_cast<unsigned>(r.next() % 40000));
            }
          }
        },
        o);
    EXPECT_FALSE(stranded) << "lost wakeup: a runnable goroutine with an idle P was not started "
                           << "within " << deadline.count() << " s (procs " << np << ", after "
                           << iterations << " spawns)";
    std::printf("SpinRendezvous procs %u: %lld spawns\n", np, (long long)iterations);
    if (stranded) return;
  }
}

// TLC's counterexample for tla/mutants/PHandoff_no_needspinning.tla, driven
// on the real runtime (chaos builds: the hooks force the interleaving; other
// builds skip). The trace, with goro's names (G1 = main, procs 2):
//   1. G1 parks; its M (M1) finds no work, spins, steals nothing and is
//      about to drop its P (chaos_site::drop_p_spinning). Hook: hold M1
//      there while a foreign thread runs go(G2): injectg queues G2 on the
//      global queue and takes the idle P2 for a new M (M2).
//   2. Hook at startm's handoff: M2 is not woken until M1, in its locked
//      give-up, has taken G2 from the global queue and reached
//      resetspinning (still counted in nmspinning).
//   3. M2 wakes with P2 and finds nothing; with M1 still spinning it
//      decides not to spin (2 * nmspinning >= busy Ps) and is about to drop
//      P2 (chaos_site::drop_p). Hook: hold M2 there until step 4 is done.
//   4. M1 stops spinning; its ready_wake finds no idle P (M2 holds P2), so
//      wakep sets needspinning. M1 runs G2, which readies G1 into M1's
//      runnext; wakep fails again for the same reason. G2 then spins
//      without any call, waiting for G1 to run.
//   5. M2 drops P2. Correct runtime: it sees needspinning, spins instead,
//      and steals G1. Mutant no_needspinning: it parks, P2 goes idle, no M
//      spins, and G1 waits forever behind G2 (the lost wakeup; TLC's
//      NoLostWakeup).
// Each hook waits a bounded time, so an interleaving that does not follow
// the script (a leftover M of the previous round) aborts the round rather
// than hanging; the test counts the rounds that followed the whole script
// and requires some. The 10 s deadline for G1 is only ever missed by a lost
// wakeup: the correct runtime steals G1 within microseconds. Asynchronous
// preemption is off, or sysmon would preempt G2 after a time slice and its
// P would run G1 (as in Go, where sysmon also bounds the damage).
#ifdef GORO_CHAOS
namespace needspin {

using goro::detail::chaos_site;

enum phase : int { off, armed, queued, m1_at_reset, m2_held, done, aborted };

struct script {
  std::atomic<int> ph{off};
  std::atomic<const void*> m1{nullptr};
  std::atomic<bool> inject{false};   // step 1: the foreign thread may go
  std::atomic<bool> readied{false};  // step 4 done: G2 readied G1
  std::atomic<int> shaped{0};
  std::chrono::milliseconds hold{200};
};

thread_local bool is_injector = false;

// Waits until pred() or until the script is aborted or the hold expires
// (then aborts it). True if pred() came true.
template <class Pred>
bool hold_until(script& s, Pred pred) {
  auto give_up = clk::now() + s.hold;
  for (unsigned i = 0;; i++) {
    if (pred()) return true;
    if (s.ph.load() == aborted) return false;
    if (i % 64 == 0 && clk::now() > give_up) {
      s.ph.store(aborted);
      return false;
    }
    std::this_thread::yield();
  }
}

void hook(chaos_site site, const void* m, void* arg) {
  script& s = *static_cast<script*>(arg);
  int ph = s.ph.load();
  if (ph == off || ph == done || ph == aborted) return;
  switch (site) {
    case chaos_site::drop_p_spinning: {  // step 1
      const void* none = nullptr;
      if (ph != armed || !m || !s.m1.compare_exchange_strong(none, m)) return;
      s.inject.store(true);
      hold_until(s, [&] { return s.ph.load() >= queued; });
      return;
    }
    case chaos_site::startm_handoff: {  // step 2
      int want = armed;
      if (!is_injector || !s.ph.compare_exchange_strong(want, queued)) return;
      hold_until(s, [&] { return s.ph.load() >= m1_at_reset; });
      return;
    }
    case chaos_site::resetspinning: {  // step 3, M1's side
      int want = queued;
      if (m != s.m1.load() || !s.ph.compare_exchange_strong(want, m1_at_reset)) return;
      hold_until(s, [&] { return s.ph.load() >= m2_held; });
      return;
    }
    case chaos_site::drop_p: {  // step 3, M2's side
      int want = m1_at_reset;
      if (!m || m == s.m1.load() || !s.ph.compare_exchange_strong(want, m2_held)) return;
      if (hold_until(s, [&] { return s.readied.load(); })) {
        s.shaped.fetch_add(1);
        s.ph.store(done);
      }
      return;
    }
    default: return;
  }
}

}  // namespace needspin
#endif

TEST(Stress, NeedspinningCounterexampleNoLostWakeup) {
#ifndef GORO_CHAOS
  GTEST_SKIP() << "needs the chaos hooks (GORO_CHAOS=ON); ci/mutants.sh runs it";
#else
  using namespace needspin;
  constexpr auto deadline = 10s;
  script s;
  goro::detail::chaos_set_hook(hook, &s);
  struct unhook {
    ~unhook() { goro::detail::chaos_set_hook(nullptr, nullptr); }
  } unhook_at_exit;
  int rounds = 0;
  bool stranded = false;
  goro::options o = procs(2);
  o.async_preempt = false;
  o.detect_deadlock = false;  // G1 waits for a goroutine a foreign thread starts
  goro::run(
      [&] {
        auto end = clk::now() + std::chrono::duration<double>(budget_seconds());
        while (clk::now() < end && !stranded) {
          std::atomic<bool> g1_ran{false}, g2_exited{false};
          goro::wait_group g1_wait;
          g1_wait.add(1);
          s.m1.store(nullptr);
          s.inject.store(false);
          s.readied.store(false);
          s.ph.store(armed);
          std::thread injector([&] {
            is_injector = true;
            // Step 1 lets us go; if the round never gets there, inject
            // anyway so that G1 is readied.
            hold_until(s, [&] { return s.inject.load(); });
            goro::go([&] {  // G2
              g1_wait.done();  // readies G1 into this P's runnext
              s.readied.store(true);
              auto give_up = clk::now() + deadline;
              for (unsigned polls = 0; !g1_ran.load(std::memory_order_acquire);)
                if (++polls % 4096 == 0 && clk::now() > give_up) {
                  stranded = true;
                  break;
                }
              g2_exited.store(true);
            });
          });
          g1_wait.wait();  // G1 parks: step 1 starts at its M's give-up
          g1_ran.store(true, std::memory_order_release);
          injector.join();
          while (!g2_exited.load()) goro::yield();
          s.ph.store(off);
          rounds++;
        }
      },
      o);
  EXPECT_FALSE(stranded) << "lost wakeup: G1, readied into a P's runnext while every other P was "
                            "going idle and no M spun, was not run within "
                         << deadline.count() << " s (TLC's PHandoff_no_needspinning trace, after "
                         << s.shaped.load() << " rounds in its shape)";
  std::printf("NeedspinningCounterexample: %d rounds, %d in TLC's shape\n", rounds,
              s.shaped.load());
  // Not vacuous: the hooks did drive the runtime through the trace.
  EXPECT_GT(s.shaped.load(), 0) << "no round followed the counterexample's interleaving";
#endif
}

// Channels, select and mutex under load, with more Ps than cores: a
// pipeline of stages over channels of mixed capacities, a select-based
// merger, and a mutex-guarded plain counter. Every value is conserved
// (count and sum), the counter is exact.
TEST(Stress, ChannelPipelineAndMutexConserve) {
  int rounds = 0;
  goro::run(
      [&] {
        rounds = for_budget([&](int round) {
          constexpr int producers = 4, per = 500;
          goro::chan<std::uint64_t> a(0), b(round % 3 == 0 ? 0 : 16), out(4);
          goro::mutex mu;
          std::uint64_t guarded = 0;  // plain: only the mutex protects it
          goro::wait_group prod;
          prod.add(producers);
          for (int w = 0; w < producers; w++)
            goro::go([&, w]() {
              goro::chan<std::uint64_t>& ch = w % 2 ? a : b;
              for (int j = 0; j < per; j++) ch.send(static_cast<std::uint64_t>(w) * per + j);
              prod.done();
            });
          goro::go([&] {
            prod.wait();
            a.close();
            b.close();
          });
          // The merger: select over a and b until both are closed.
          goro::go([&] {
            goro::chan<std::uint64_t> ca = a, cb = b;
            bool oa = true, ob = true;
            // ca and cb are moved from below to make them nil channels (a
            // moved-from chan is one, goro/chan.hpp), then selected on again.
            // NOLINTBEGIN(bugprone-use-after-move)
            while (oa || ob) {
              goro::select(goro::on_recv(ca, [&](std::optional<std::uint64_t> v) {
                             if (v) out.send(*v + 1);
                             else oa = false;
                           }),
                           goro::on_recv(cb, [&](std::optional<std::uint64_t> v) {
                             if (v) out.send(*v + 1);
                             else ob = false;
                           }));
              if (!oa) {
                goro::chan<std::uint64_t> gone = std::move(ca);
              }
              if (!ob) {
                goro::chan<std::uint64_t> gone = std::move(cb);
              }
            }
            // NOLINTEND(bugprone-use-after-move)
            out.close();
          });
          std::atomic<std::uint64_t> sum{0}, count{0};
          goro::wait_group cons;
          cons.add(3);
          for (int c = 0; c < 3; c++)
            goro::go([&] {
              while (std::optional<std::uint64_t> v = out.recv()) {
                sum.fetch_add(*v, std::memory_order_relaxed);
                count.fetch_add(1, std::memory_order_relaxed);
                std::lock_guard lk(mu);
                guarded++;
              }
              cons.done();
            });
          cons.wait();
          const std::uint64_t n = producers * per;
          EXPECT_EQ(count.load(), n);
          EXPECT_EQ(sum.load(), n * (n - 1) / 2 + n);  // each value 0..n-1, plus 1
          std::lock_guard lk(mu);
          EXPECT_EQ(guarded, n);
        });
      },
      procs(6));
  std::printf("ChannelPipeline: %d rounds\n", rounds);
}

// Blocking calls (Go's entersyscall/exitsyscall): goroutines block their
// threads in calls, some handing their P off at once, while others compute.
// Every goroutine finishes exactly once and the computing ones keep running
// (a P parked in a long call is handed to another M).
TEST(Stress, BlockingCallsWhileOthersRun) {
  int rounds = 0;
  goro::run(
      [&] {
        rounds = for_budget([&](int round) {
          constexpr int blockers = 8, workers = 64;
          std::atomic<int> blocked{0}, worked{0};
          goro::wait_group wg;
          wg.add(blockers + workers);
          for (int i = 0; i < blockers; i++)
            goro::go([&, i] {
              auto call = [&] {
                std::this_thread::sleep_for(std::chrono::microseconds(100 + 50 * (i % 4)));
                blocked.fetch_add(1, std::memory_order_relaxed);
              };
              if ((i + round) % 2) goro::blocking_long(call);
              else goro::blocking(call);
              wg.done();
            });
          for (int i = 0; i < workers; i++)
            goro::go([&] {
              for (int k = 0; k < 4; k++) goro::yield();
              worked.fetch_add(1, std::memory_order_relaxed);
              wg.done();
            });
          wg.wait();
          EXPECT_EQ(blocked.load(), blockers);
          EXPECT_EQ(worked.load(), workers);
        });
      },
      procs(2));
  std::printf("BlockingCalls: %d rounds\n", rounds);
}

// Timers and asynchronous preemption under gomaxprocs churn. Per round:
//  - 2000 sleepers, 3 timed waits each, picked at random: sleep_for(d),
//    sleep_until(t0 + d), select over after(d) and a channel nobody sends
//    on (the timeout must win), select over after(d) and a channel a
//    kicker closes at a random moment (either may win), d from 0 to 2 ms,
//    or a blocking call (blocking or blocking_long) sleeping d / 8;
//  - a foreign thread sending 200 values to a goroutine (goready without a
//    P), all of which must arrive;
//  - 3 spinners running call-free bursts (integer and floating-point state
//    in registers) whose results are compared with a reference computed on
//    a plain thread: a preemption that lost a register shows up here;
//  - a churner resizing between 1 and 4 Ps every few hundred microseconds
//    (stop-the-world must preempt the spinners; under the auditor every
//    resize checks OneGPlace with hundreds of goroutines parked on timers
//    and channels).
// Checked: no wait returns early (steady_clock, the timers' clock), every
// after() channel receives exactly one value (in its select, or drained at
// the end with a generous 30 s bound; a second value would be left over),
// the value is not before t0 + d, every sleeper and spinner finishes, and
// the spinners' results are exact. Where asynchronous preemption is
// available (not under TSan) the spinners never call anything until told to
// stop, so only asynchronous preemption lets the sleepers, the churner and
// stop-the-world run at procs 1; the test then also requires that some
// happened. Elsewhere the spinners yield between bursts. Bounds only: no
// lateness is asserted.
namespace timers {

// A call-free burst: nothing in the loop but registers.
__attribute__((noinline)) std::uint64_t spin_burst(std::uint64_t x, unsigned n) {
  double f = 1.0;
  for (unsigned i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    f = f * 1.0000001 + static_cast<double>(x >> 40) * 1e-9;
    asm volatile("" : "+r"(x));
  }
  return x ^ static_cast<std::uint64_t>(f * 1e6);
}
constexpr unsigned burst_iters = 1u << 20;
constexpr int nseeds = 8;

}  // namespace timers

TEST(Stress, TimersAndAsyncPreemptionUnderResize) {
  using namespace timers;
  using tp = clk::time_point;
  const bool async = goro::detail::async_preempt_init();
  std::uint64_t reference[nseeds];
  std::thread([&] {  // not a goroutine: nothing preempts it
    for (int i = 0; i < nseeds; i++) reference[i] = spin_burst(0x1234u + i, burst_iters);
  }).join();
  const std::uint64_t seed = stress_seed();
  // A lost wake-up would hang the run: say so rather than wait for ctest.
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    auto give_up = clk::now() + std::chrono::duration<double>(budget_seconds() + 120);
    while (!finished.load() && clk::now() < give_up) std::this_thread::sleep_for(10ms);
    if (!finished.load()) {
      std::fprintf(stderr, "TimersAndAsyncPreemption: HANG: no progress for %g s (seed %llu)\n",
                   budget_seconds() + 120, (unsigned long long)seed);
      std::abort();
    }
  });
  std::int64_t waits = 0, early = 0, afters = 0, fired = 0, extra = 0, bad_spins = 0, bursts = 0;
  std::int64_t resizes = 0, rounds = 0;
  std::uint64_t preempts = 0;
  goro::options o = procs(4, false);
  o.time_slice = 1ms;
  o.detect_deadlock = false;  // a goroutine waits for the feeder thread
  goro::run(
      [&] {
        goro::detail::runtime* rt;
        {
          goro::detail::nopreempt np;
          rt = goro::detail::getm()->rt;
        }
        xorshift r{seed | 1};
        rounds = for_budget([&](int) {
          constexpr int sleepers = 2000, per = 3, spinners = 3;
          std::atomic<std::int64_t> n_waits{0}, n_early{0}, n_fired{0}, n_bad{0}, n_bursts{0};
          std::atomic<bool> stop{false};
          goro::chan<int> never(0), kick(0);
          std::vector<goro::chan<tp>> pending(sleepers * per, goro::chan<tp>(1));
          std::vector<char> used(sleepers * per, 0), got(sleepers * per, 0);
          goro::wait_group done, background;
          done.add(sleepers);
          background.add(spinners + 3);
          // A foreign thread feeds a goroutine over a channel: goready from
          // a thread without a P (injectg), also while the world is stopped.
          constexpr int feeds = 200;
          std::atomic<int> fed{0};
          goro::chan<int> feed(0);
          std::thread feeder([&, s = r.next()] {
            xorshift fr{s | 1};
            for (int k = 0; k < feeds; k++) {
              std::this_thread::sleep_for(std::chrono::microseconds(fr.next() % 50));
              feed.send(k);
            }
          });
          goro::go([&] {
            for (int k = 0; k < feeds; k++)
              if (feed.recv() == k) fed.fetch_add(1, std::memory_order_relaxed);
            background.done();
          });
          for (int k = 0; k < spinners; k++)
            goro::go([&, k] {
              std::int64_t local_bursts = 0;
              for (int i = 0; !stop.load(std::memory_order_relaxed); i++) {
                int which = (k + i) % nseeds;
                if (spin_burst(0x1234u + which, burst_iters) != reference[which])
                  n_bad.fetch_add(1, std::memory_order_relaxed);
                local_bursts++;
                if (!async) goro::yield();
              }
              n_bursts.fetch_add(local_bursts);
              background.done();
            });
          goro::go([&, s = r.next()] {  // churner
            xorshift cr{s | 1};
            while (!stop.load(std::memory_order_relaxed)) {
              goro::gomaxprocs(1 + static_cast<unsigned>(cr.next() % 4));
              resizes++;
              goro::sleep_for(std::chrono::microseconds(cr.next() % 500));
            }
            background.done();
          });
          goro::go([&, s = r.next()] {  // kicker
            goro::sleep_for(std::chrono::microseconds(s % 2000));
            kick.close();
            background.done();
          });
          for (int i = 0; i < sleepers; i++)
            goro::go([&, i, s = r.next()] {
              xorshift sr{s | 1};
              for (int j = 0; j < per; j++) {
                auto d = std::chrono::nanoseconds(sr.next() % 2'000'000);
                if (sr.next() % 8 == 0) d = std::chrono::nanoseconds(sr.next() % 1000);
                int slot = i * per + j;
                tp t0 = clk::now();
                bool ok_value = true;
                switch (sr.next() % 5) {
                  case 0: goro::sleep_for(d); break;
                  case 1: goro::sleep_until(t0 + d); break;
                  case 4: {
                    // A blocking call (the thread sleeps): an M in a call,
                    // with or without its P, whenever the world stops.
                    d /= 8;
                    auto call = [d] { std::this_thread::sleep_for(d); };
                    if (sr.next() % 2) goro::blocking(call);
                    else goro::blocking_long(call);
                    break;
                  }
                  case 2: {
                    pending[slot] = goro::after(d);
                    used[slot] = 1;
                    std::size_t c = goro::select(
                        goro::on_recv(pending[slot],
                                      [&](std::optional<tp> v) { ok_value = v && *v >= t0 + d; }),
                        goro::on_recv(never, [] {}));
                    if (c != 0) ok_value = false;
                    got[slot] = 1;
                    n_fired.fetch_add(1, std::memory_order_relaxed);
                    break;
                  }
                  default: {
                    pending[slot] = goro::after(d);
                    used[slot] = 1;
                    bool timed_out = false;
                    goro::select(goro::on_recv(pending[slot],
                                               [&](std::optional<tp> v) {
                                                 timed_out = true;
                                                 ok_value = v && *v >= t0 + d;
                                               }),
                                 goro::on_recv(kick, [] {}));
                    if (timed_out) {
                      got[slot] = 1;
                      n_fired.fetch_add(1, std::memory_order_relaxed);
                    } else {
                      d = std::chrono::nanoseconds(0);  // kicked: no lower bound
                    }
                    break;
                  }
                }
                tp t1 = clk::now();
                if (t1 - t0 < d || !ok_value) n_early.fetch_add(1, std::memory_order_relaxed);
                n_waits.fetch_add(1, std::memory_order_relaxed);
              }
              done.done();
            });
          done.wait();
          stop.store(true);
          background.wait();
          feeder.join();
          EXPECT_EQ(fed.load(), feeds);
          // Every after() timer fires exactly once: one that lost its select
          // to the kick still delivers its value (within a generous 30 s),
          // and afterwards no channel holds a second one.
          std::int64_t n_afters = 0, n_drained = 0, n_extra = 0;
          for (std::size_t k = 0; k < pending.size(); k++) {
            if (!used[k]) continue;
            n_afters++;
            if (got[k]) continue;
            auto limit = clk::now() + 30s;
            while (clk::now() < limit) {
              if (pending[k].try_recv()) {
                n_drained++;
                break;
              }
              goro::sleep_for(100us);
            }
          }
          for (std::size_t k = 0; k < pending.size(); k++)
            if (used[k] && pending[k].try_recv()) n_extra++;
          waits += n_waits.load();
          early += n_early.load();
          afters += n_afters;
          fired += n_fired.load() + n_drained;
          extra += n_extra;
          bad_spins += n_bad.load();
          bursts += n_bursts.load();
          EXPECT_EQ(n_waits.load(), sleepers * per);
        });
        preempts = rt->nasync_preempts.load();
      },
      o);
  finished.store(true);
  watchdog.join();
  std::printf("TimersAndAsyncPreemption: %lld rounds, %lld waits, %lld after() timers, %lld "
              "resizes, %lld spinner bursts, %llu async preemptions (seed %llu)\n",
              (long long)rounds, (long long)waits, (long long)afters, (long long)resizes,
              (long long)bursts, (unsigned long long)preempts, (unsigned long long)seed);
  EXPECT_EQ(early, 0) << "timed waits that returned before their duration (or a wrong value)";
  EXPECT_EQ(fired, afters) << "after() timers that never delivered their value";
  EXPECT_EQ(extra, 0) << "after() channels that received a second value";
  EXPECT_EQ(bad_spins, 0) << "spinner bursts whose result changed across preemption";
  EXPECT_GT(resizes, 0);
  EXPECT_GT(bursts, 0);
  if (async) EXPECT_GT(preempts, 0u) << "call-free spinners were never preempted asynchronously";
}

// Replay of chaos decisions (spec/verification.md, "Replay"). The test runs
// a small workload three times in child processes, with GORO_CHAOS_SEED set
// to A, A and B, each recording every chaos decision it takes as (stream,
// site, visit) -> decision. Same seed: every (M, site, visit) that both
// runs reached got the same decision, so each M's decision sequence at each
// site is the same as far as both runs went; and the runs share most of
// their keys (m0's stream is the same M in both; the other Ms' ids depend on
// creation order, and how far each stream gets depends on the OS). Seed B:
// the same keys get different decisions. Each recorded decision is also
// recomputed from (seed, key) with chaos_decide, the pure function a replay
// relies on.
#ifdef GORO_CHAOS
TEST(ChaosReplay, ChildWorkload) {
  // The child: GORO_CHAOS_SEED is in its environment; the trace goes to the
  // file named by GORO_CHAOS_REPLAY_OUT. Skipped when run on its own.
  const char* out = std::getenv("GORO_CHAOS_REPLAY_OUT");
  if (!out) GTEST_SKIP() << "a child of ChaosReplay.SameSeedReplaysTheSameDecisions";
  goro::detail::chaos_trace_enable(true);
  goro::run(
      [] {
        for (int round = 0; round < 100; round++) {
          goro::wait_group wg;
          wg.add(8);
          for (int i = 0; i < 8; i++)
            goro::go([&] {
              goro::yield();
              wg.done();
            });
          wg.wait();
        }
      },
      procs(2));
  goro::detail::chaos_trace_enable(false);
  std::FILE* f = std::fopen(out, "w");
  ASSERT_TRUE(f);
  std::fprintf(f, "seed %llu\n", (unsigned long long)goro::detail::chaos_seed());
  for (const auto& e : goro::detail::chaos_trace())
    std::fprintf(f, "%lld %u %llu %d %u\n", (long long)e.stream, e.site,
                 (unsigned long long)e.visit, static_cast<int>(e.d.action), e.d.amount);
  std::fclose(f);
}

namespace replay {

struct key {
  std::int64_t stream;
  std::uint32_t site;
  std::uint64_t visit;
  auto operator<=>(const key&) const = default;
};

struct trace {
  std::uint64_t seed = 0;
  std::map<key, goro::detail::chaos_decision> d;
};

trace run_child(std::uint64_t seed, const std::string& path) {
  std::string seed_env = "GORO_CHAOS_SEED=" + std::to_string(seed);
  std::string out_env = "GORO_CHAOS_REPLAY_OUT=" + path;
  std::vector<std::string> env_s;
  for (char** e = environ; *e; e++)
    if (std::strncmp(*e, "GORO_CHAOS_SEED=", 16) != 0 &&
        std::strncmp(*e, "GORO_CHAOS_REPLAY_OUT=", 22) != 0)
      env_s.emplace_back(*e);
  env_s.push_back(seed_env);
  env_s.push_back(out_env);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe", filter = "--gtest_filter=ChaosReplay.ChildWorkload";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  std::string log = path + ".log";
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  trace t;
  int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0) << "posix_spawn";
  if (rc != 0) return t;
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child failed; see " << log;
  std::FILE* f = std::fopen(path.c_str(), "r");
  EXPECT_TRUE(f) << path;
  if (!f) return t;
  unsigned long long sd = 0;
  if (std::fscanf(f, "seed %llu\n", &sd) != 1) ADD_FAILURE() << "no seed line in " << path;
  t.seed = sd;
  long long stream;
  unsigned site, amount;
  unsigned long long visit;
  int action;
  while (std::fscanf(f, "%lld %u %llu %d %u\n", &stream, &site, &visit, &action, &amount) == 5)
    t.d[{stream, site, visit}] = {static_cast<goro::detail::chaos_action>(action), amount};
  std::fclose(f);
  std::remove(path.c_str());
  std::remove(log.c_str());
  return t;
}

}  // namespace replay
#endif

TEST(ChaosReplay, SameSeedReplaysTheSameDecisions) {
#ifndef GORO_CHAOS
  GTEST_SKIP() << "needs GORO_CHAOS=ON";
#else
  using namespace replay;
  const std::uint64_t a = 0x5eed0001, b = 0x5eed0002;
  std::string base = "/tmp/goro-chaos-replay." + std::to_string(getpid());
  trace t1 = run_child(a, base + ".1"), t2 = run_child(a, base + ".2"), t3 = run_child(b, base + ".3");
  ASSERT_EQ(t1.seed, a) << "GORO_CHAOS_SEED was not used";
  ASSERT_EQ(t2.seed, a);
  ASSERT_EQ(t3.seed, b);
  // Every decision is the pure function of (seed, key) that a replay uses.
  for (const trace* t : {&t1, &t2, &t3})
    for (const auto& [k, d] : t->d)
      ASSERT_EQ(d, goro::detail::chaos_decide(t->seed, k.stream, k.site, k.visit))
          << "stream " << k.stream << " site " << k.site << " visit " << k.visit;
  std::size_t common12 = 0, differ12 = 0, common13 = 0, differ13 = 0, acting = 0;
  for (const auto& [k, d] : t1.d) {
    if (auto it = t2.d.find(k); it != t2.d.end()) {
      common12++;
      if (!(it->second == d)) differ12++;
      if (d.action != goro::detail::chaos_action::none) acting++;
    }
    if (auto it = t3.d.find(k); it != t3.d.end()) {
      common13++;
      if (!(it->second == d)) differ13++;
    }
  }
  std::printf("ChaosReplay: %zu, %zu and %zu decisions; %zu keys in both seed-A runs (%zu of them "
              "act: yield, sleep or spin), %zu differ; seed B differs on %zu of %zu\n",
              t1.d.size(), t2.d.size(), t3.d.size(), common12, acting, differ12, differ13,
              common13);
  EXPECT_EQ(differ12, 0u) << "the same seed gave different decisions at the same (M, site, visit)";
  // Not vacuous: the runs share a good part of their keys, many of those
  // decisions do something, and another seed changes them.
  EXPECT_GT(common12, std::min(t1.d.size(), t2.d.size()) / 4);
  EXPECT_GT(acting, 100u);
  EXPECT_GT(differ13, 0u);
#endif
}

// Runtime lifecycle under churn: many short runs back to back, each with
// more Ps than cores and goroutines still queued or parked when main
// returns (abandoned, as in Go).
TEST(Stress, RunRestartWithAbandonedGoroutines) {
  int rounds = for_budget([&](int round) {
    std::atomic<int> ran{0};
    goro::run(
        [&] {
          goro::wait_group wg;
          wg.add(50);
          for (int i = 0; i < 50; i++)
            goro::go([&] {
              ran.fetch_add(1, std::memory_order_relaxed);
              wg.done();
            });
          wg.wait();
          // Left behind: a few runnable goroutines, none touching our frame.
          for (int i = 0; i < round % 5; i++) goro::go([] { goro::yield(); });
        },
        procs(6, false));
    EXPECT_EQ(ran.load(), 50);
  });
  std::printf("RunRestart: %d runs\n", rounds);
}

// Counted volume (issue 10): a mixed workload (spawn trees with yields,
// channel ping-pong, a contended mutex, blocking calls, timers, a foreign
// thread feeding a goroutine) run until the runtime's own scheduling event
// counters (sched_stats) have counted GORO_SOAK_EVENTS events (default:
// soak_default_events). After every round, with only main left, the counts
// must balance against what the workload did and against each other:
//  - goroutines: created == exited + 1 (main), created == the go() calls
//    made + 1, exited == the goroutine bodies that finished, and the live
//    count equals num_goroutine();
//  - parks == readies: nothing is parked now, so every park was resumed by
//    exactly one ready (foreign-thread readies included, counted without P);
//  - syscalls == the blocking() calls made (each enters a syscall once);
//  - schedules >= created + readies: every G made runnable ran;
//  - handoffs >= retakes (each retake hands its P off).
// And over the test, at 4 Ps, some Gs were stolen. A counter that is lost,
// doubled or never bumped breaks one of these.
// Soak: GORO_SOAK_EVENTS=1000000000 stress_test
//   --gtest_filter=Stress.CountedSchedulingEventsConserve (spec/verification.md).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t soak_default_events = 200'000;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr std::uint64_t soak_default_events = 200'000;
#else
constexpr std::uint64_t soak_default_events = 1'000'000;
#endif
#else
constexpr std::uint64_t soak_default_events = 1'000'000;
#endif

std::uint64_t soak_events() {
  const char* env = std::getenv("GORO_SOAK_EVENTS");
  std::uint64_t v = env && *env ? std::strtoull(env, nullptr, 0) : 0;
  return v ? v : soak_default_events;
}

TEST(Stress, CountedSchedulingEventsConserve) {
  const std::uint64_t target = soak_events();
  std::atomic<std::uint64_t> spawned{0}, finished{0}, blocking_calls{0}, long_calls{0};
  goro::detail::sched_stats end{};
  std::uint64_t rounds = 0;
  auto t0 = clk::now();
  goro::run(
      [&] {
        auto go_counted = [&](auto f) {
          spawned.fetch_add(1, std::memory_order_relaxed);
          goro::go([&finished, f]() mutable {
            f();
            finished.fetch_add(1, std::memory_order_relaxed);
          });
        };
        goro::detail::sched_stats st{};
        while (st.events() < target) {
          goro::wait_group wg;
          // Spawn trees with yields: creates, exits, schedules, steals.
          constexpr int fan = 32, leaves = 8;
          wg.add(fan);
          for (int i = 0; i < fan; i++)
            go_counted([&] {
              goro::wait_group inner;
              inner.add(leaves);
              for (int j = 0; j < leaves; j++)
                go_counted([&] {
                  goro::yield();
                  goro::yield();
                  inner.done();
                });
              inner.wait();
              wg.done();
            });
          // Ping-pong over unbuffered channels: a park and a ready per hop.
          constexpr int hops = 200;
          goro::chan<int> ping(0), pong(0);
          wg.add(2);
          go_counted([&] {
            for (int k = 0; k < hops; k++) {
              ping.send(k);
              pong.recv();
            }
            wg.done();
          });
          go_counted([&] {
            for (int k = 0; k < hops; k++) pong.send(*ping.recv());
            wg.done();
          });
          // A contended mutex, held across a yield.
          goro::mutex mu;
          int guarded = 0;
          constexpr int lockers = 8, locks = 50;
          wg.add(lockers);
          for (int i = 0; i < lockers; i++)
            go_counted([&] {
              for (int k = 0; k < locks; k++) {
                mu.lock();
                guarded++;
                goro::yield();
                mu.unlock();
              }
              wg.done();
            });
          // Blocking calls (every 5th one a blocking_long, which hands its
          // P off at once), timers, and a spinner that outlasts its time
          // slice (preempted by sysmon: at preempt_point, or by signal).
          constexpr int blockers = 2, calls = 10, sleepers = 4;
          wg.add(blockers + sleepers + 1);
          for (int i = 0; i < blockers; i++)
            go_counted([&] {
              for (int k = 0; k < calls; k++) {
                blocking_calls.fetch_add(1, std::memory_order_relaxed);
                if (k % 5 == 0) {
                  long_calls.fetch_add(1, std::memory_order_relaxed);
                  goro::blocking_long([] { spin_for(200); });
                } else {
                  goro::blocking([] { spin_for(200); });
                }
              }
              wg.done();
            });
          go_counted([&] {
            auto until = clk::now() + 1ms;
            while (clk::now() < until) {
              spin_for(100);
              goro::preempt_point();
            }
            wg.done();
          });
          for (int i = 0; i < sleepers; i++)
            go_counted([&] {
              goro::sleep_for(20us);
              wg.done();
            });
          // A foreign thread feeding a goroutine (readies without a P);
          // default deadlock detection, since it lives while main waits.
          goro::chan<int> feed(0);
          constexpr int fed = 20;
          wg.add(1);
          go_counted([&] {
            int sum = 0;
            for (int k = 0; k < fed; k++) sum += *feed.recv();
            EXPECT_EQ(sum, fed * (fed - 1) / 2);
            wg.done();
          });
          std::thread feeder([feed]() mutable {
            for (int k = 0; k < fed; k++) feed.send(k);
          });
          wg.wait();
          blocking_calls.fetch_add(1, std::memory_order_relaxed);
          goro::blocking([&] { feeder.join(); });
          EXPECT_EQ(guarded, lockers * locks);
          // Quiescence: the last goroutines may still be exiting.
          while (goro::num_goroutine() != 1) goro::yield();
          ASSERT_TRUE(goro::detail::read_sched_stats(st));
          rounds++;
          const std::uint64_t sp = spawned.load(), fin = finished.load();
          ASSERT_EQ(st.goroutines_created, sp + 1) << "round " << rounds;
          ASSERT_EQ(st.goroutines_exited, fin) << "round " << rounds;
          ASSERT_EQ(st.goroutines_created, st.goroutines_exited + 1) << "round " << rounds;
          ASSERT_EQ(st.goroutines, static_cast<std::int64_t>(goro::num_goroutine()));
          ASSERT_EQ(st.parks, st.readies) << "round " << rounds;
          // Every entersyscall is a blocking() call of ours, or one sysmon
          // had the SIGURG handler make for a G whose thread it found asleep
          // in the kernel (chaos's delays sleep the thread, so it may).
          ASSERT_EQ(st.syscalls, blocking_calls.load() + st.kernel_detaches) << "round " << rounds;
          ASSERT_GE(st.schedules, st.goroutines_created + st.readies) << "round " << rounds;
          ASSERT_GE(st.handoffs, st.retakes + long_calls.load()) << "round " << rounds;
        }
        end = st;
      },
      [] {
        goro::options o = procs(4, false);
        o.time_slice = 100us;
        return o;
      }());
  double secs = std::chrono::duration<double>(clk::now() - t0).count();
  EXPECT_GE(end.events(), target);
  EXPECT_GT(end.steals, 0u);
  // A 1 ms spinner per round with a 100 µs slice: a generous margin.
  EXPECT_GT(end.preempts_cooperative + end.preempts_async, 0u);
  std::printf(
      "CountedSchedulingEvents: %llu events in %llu rounds, %.2f s (%.3g events/s): "
      "created %llu exited %llu schedules %llu steals %llu parks %llu readies %llu "
      "syscalls %llu (kernel detaches %llu) handoffs %llu (retakes %llu) preempts %llu+%llu "
      "async\n",
      (unsigned long long)end.events(), (unsigned long long)rounds, secs,
      static_cast<double>(end.events()) / secs,
      (unsigned long long)end.goroutines_created, (unsigned long long)end.goroutines_exited,
      (unsigned long long)end.schedules, (unsigned long long)end.steals,
      (unsigned long long)end.parks, (unsigned long long)end.readies,
      (unsigned long long)end.syscalls, (unsigned long long)end.kernel_detaches,
      (unsigned long long)end.handoffs, (unsigned long long)end.retakes, (unsigned long long)end.preempts_cooperative,
      (unsigned long long)end.preempts_async);
}

}  // namespace
