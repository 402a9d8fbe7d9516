// Stress suite (ctest label `stress`): the scheduler run hard, with more Ps
// than cores, many spawns, steals, wait_group parks, gomaxprocs changes,
// goroutines injected from foreign threads, channels, select, mutex and
// blocking calls. Every test checks exact counts
// (each goroutine ran exactly once, every hop of a token ring happened), so
// a lost or duplicated G fails it; a hang fails it through an explicit
// deadline where the test can detect one (SpinRendezvous) and through the
// ctest TIMEOUT elsewhere.
//
// Built and run in the release, tsan, asan and chaos (GORO_CHAOS=ON)
// configurations; under TSan and ASan every report fails the run
// (halt_on_error is set in stress/CMakeLists.txt).
//
// Time: each test loops rounds for GORO_SOAK_SECONDS seconds if set, else
// for stress_default_seconds (short, for CI). For a soak:
//   GORO_SOAK_SECONDS=3600 ctest -L stress --timeout 100000
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <mutex>
#include <thread>
#include <vector>

#include "goro/goro.hpp"

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
              for (int j = 0; j < per; j++) ch.send(static_cast<std::uint64_t>(w * per + j));
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

}  // namespace
