// Stress: the run queues under load. Spawn trees and a single flooding
// producer on more Ps than cores (runnext kick-outs, overflow to the global
// queue, steals), a token ring of wait_group parks, a wait_group destroyed
// as soon as wait() returns, gomaxprocs churn with work queued on the Ps it
// destroys, and goroutines injected from foreign threads. Suite overview:
// stress_support.hpp.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "stress_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace goro_stress;

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
          constexpr int fan = sized(24, 8);
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
  constexpr int n = sized(20000, 1000);
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
            [[maybe_unused]] volatile char scratch[128];
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

}  // namespace
