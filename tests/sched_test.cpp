// The scheduler end to end: spawning, yielding, parallelism, gomaxprocs,
// migration between Ms.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"

namespace {

using namespace std::chrono_literals;

using goro_test::procs;

TEST(SchedTest, MillionGoroutinesAllFinish) {
  for (unsigned np : {1u, 2u}) {
    std::atomic<int> ran{0};
    goro::run(
        [&] {
          goro::wait_group wg;
          constexpr int n = 1000000;
          wg.add(n);
          for (int i = 0; i < n; i++)
            goro::go([&] {
              ran.fetch_add(1, std::memory_order_relaxed);
              wg.done();
            });
          wg.wait();
          // done() precedes the goroutine's exit, so the last few may still
          // be finishing; they must all be gone soon after.
          auto deadline = std::chrono::steady_clock::now() + 10s;
          while (goro::num_goroutine() != 1 && std::chrono::steady_clock::now() < deadline)
            goro::yield();
          EXPECT_EQ(goro::num_goroutine(), 1u);
        },
        procs(np, false));
    EXPECT_EQ(ran.load(), 1000000) << "procs " << np;
  }
}

TEST(SchedTest, YieldIsRoundRobinOnOneP) {
  // Three goroutines on one P append their id and yield. After the first
  // lap, each yield must hand over to the next: the sequence is a rotation.
  std::vector<int> order;
  goro::run(
      [&] {
        goro::wait_group wg;
        wg.add(3);
        for (int id = 0; id < 3; id++)
          goro::go([&, id] {
            for (int k = 0; k < 1000; k++) {
              order.push_back(id);
              goro::yield();
            }
            wg.done();
          });
        wg.wait();
      },
      procs(1));
  ASSERT_EQ(order.size(), 3000u);
  int counts[3] = {0, 0, 0};
  for (int x : order) counts[x]++;
  EXPECT_EQ(counts[0], 1000);
  EXPECT_EQ(counts[1], 1000);
  EXPECT_EQ(counts[2], 1000);
  // No goroutine runs twice in a row while others are runnable.
  for (std::size_t i = 3; i + 3 < order.size(); i++)
    ASSERT_EQ(order[i], order[i + 3]) << "at " << i << ": not a fair rotation";
}

TEST(SchedTest, TwoPsRunInParallel) {
  // Each goroutine announces itself, then waits (without yielding) until it
  // sees the other. That only ends if both run at the same time on two Ms.
  // The deadline is generous: only a scheduler that never starts the second
  // M misses it.
  std::atomic<bool> a{false}, b{false};
  bool a_saw_b = false, b_saw_a = false;
  goro::run(
      [&] {
        goro::wait_group wg;
        wg.add(2);
        auto waiter = [&wg](std::atomic<bool>& mine, std::atomic<bool>& other, bool& saw) {
          mine.store(true);
          auto deadline = std::chrono::steady_clock::now() + 20s;
          while (!other.load() && std::chrono::steady_clock::now() < deadline) {
          }
          saw = other.load();
          wg.done();
        };
        goro::go(waiter, std::ref(a), std::ref(b), std::ref(a_saw_b));
        goro::go(waiter, std::ref(b), std::ref(a), std::ref(b_saw_a));
        wg.wait();
      },
      procs(2));
  EXPECT_TRUE(a_saw_b);
  EXPECT_TRUE(b_saw_a);
}

TEST(SchedTest, GomaxprocsChangedUnderLoadLosesNothing) {
  std::atomic<long> done_work{0};
  constexpr int workers = 64, steps = 2000;
  std::vector<unsigned> previous;
  goro::run(
      [&] {
        goro::wait_group wg;
        wg.add(workers);
        for (int i = 0; i < workers; i++)
          goro::go([&] {
            for (int k = 0; k < steps; k++) {
              done_work.fetch_add(1, std::memory_order_relaxed);
              if (k % 7 == 0) {
                // Spawn short-lived children too, so queues are never idle.
                wg.add(1);
                goro::go([&] { wg.done(); });
              }
              goro::yield();
            }
            wg.done();
          });
        for (unsigned n : {4u, 1u, 3u, 8u, 2u, 1u, 5u, 2u}) previous.push_back(goro::gomaxprocs(n));
        wg.wait();
        EXPECT_EQ(goro::gomaxprocs(), 2u);
      },
      procs(2));
  EXPECT_EQ(done_work.load(), long(workers) * steps);
  EXPECT_EQ(previous, (std::vector<unsigned>{2, 4, 1, 3, 8, 2, 1, 5}));
}

// Per-thread state read through a non-inlined accessor, as the design notes
// require for code that can be rescheduled.
thread_local long tl_tid = 0;
__attribute__((noinline)) long current_tl_tid() {
  asm volatile("" ::: "memory");
  if (tl_tid == 0) tl_tid = syscall(SYS_gettid);
  return tl_tid;
}

TEST(SchedTest, MigratingGoroutinesSeeTheirCurrentThread) {
  std::atomic<int> mismatches{0};
  std::atomic<int> migrated{0};
  goro::run(
      [&] {
        goro::wait_group wg;
        constexpr int n = 16;
        wg.add(n);
        for (int i = 0; i < n; i++)
          goro::go([&] {
            std::set<long> threads;
            for (int k = 0; k < 20000; k++) {
              long seen = current_tl_tid();
              if (seen != syscall(SYS_gettid)) mismatches++;
              threads.insert(seen);
              goro::yield();
            }
            if (threads.size() > 1) migrated++;
            wg.done();
          });
        wg.wait();
      },
      procs(2));
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(migrated.load(), 0) << "no goroutine ever moved between Ms; stealing never ran";
}

TEST(SchedTest, CatchBlocksThatYieldKeepTheirExceptionAcrossMigration) {
  // C++ keeps the "exceptions being handled" list and the uncaught count per
  // thread. A goroutine that parks inside a catch block (sending an error on
  // a channel, say) may resume on another M; the exception it is handling
  // must come along, and neither M's count may be disturbed. Without that,
  // `throw;` after a migration finds another thread's list (or none) and
  // std::terminate ends the test.
  std::atomic<int> rethrown_ok{0}, uncaught_seen{0}, migrated{0};
  goro::run(
      [&] {
        goro::wait_group wg;
        constexpr int n = 16;
        wg.add(n);
        for (int i = 0; i < n; i++)
          goro::go([&, i] {
            long tid0 = syscall(SYS_gettid);
            bool moved = false;
            try {
              throw std::runtime_error("e" + std::to_string(i));
            } catch (const std::runtime_error&) {
              // Yield until this goroutine has run on another M (stealing
              // moves it sooner or later), plus a few more switches.
              for (int k = 0; k < 200 || (!moved && k < 200000); k++) {
                goro::yield();
                if (syscall(SYS_gettid) != tid0) moved = true;
                if (std::uncaught_exceptions() != 0) uncaught_seen++;
              }
              try {
                throw;  // the exception this goroutine is handling
              } catch (const std::runtime_error& again) {
                if (std::string(again.what()) == "e" + std::to_string(i)) rethrown_ok++;
              }
            }
            if (moved) migrated++;
            wg.done();
          });
        wg.wait();
      },
      procs(2));
  EXPECT_EQ(rethrown_ok.load(), 16);
  EXPECT_EQ(uncaught_seen.load(), 0);
  EXPECT_GT(migrated.load(), 0) << "no goroutine moved between Ms: the test proved nothing";
}

TEST(SchedTest, WaitGroupParksAndWakesManyWaiters) {
  std::atomic<int> woke{0};
  goro::run(
      [&] {
        goro::wait_group gate, all;
        gate.add(1);
        all.add(100);
        for (int i = 0; i < 100; i++)
          goro::go([&] {
            gate.wait();
            woke++;
            all.done();
          });
        goro::yield();
        EXPECT_EQ(woke.load(), 0);
        gate.done();
        all.wait();
      },
      procs(2));
  EXPECT_EQ(woke.load(), 100);
}

TEST(SchedTest, NumGoroutineCountsLiveOnes) {
  goro::run(
      [&] {
        EXPECT_EQ(goro::num_goroutine(), 1u);
        goro::wait_group gate, started, finished;
        gate.add(1);
        started.add(10);
        finished.add(10);
        for (int i = 0; i < 10; i++)
          goro::go([&] {
            started.done();
            gate.wait();
            finished.done();
          });
        started.wait();
        EXPECT_EQ(goro::num_goroutine(), 11u);
        gate.done();
        // The wait groups live on main's frame: wait until no goroutine can
        // touch them any more (goroutines left running when main returns are
        // abandoned, and their objects must outlive them).
        finished.wait();
      },
      procs(2));
}

TEST(SchedTest, GoroutinesFedFromAForeignThread) {
  std::atomic<int> ran{0};
  goro::run(
      [&] {
        goro::wait_group wg;
        wg.add(1000);
        std::thread feeder([&] {
          EXPECT_FALSE(goro::in_goroutine());
          for (int i = 0; i < 1000; i++)
            goro::go([&] {
              EXPECT_TRUE(goro::in_goroutine());
              ran++;
              wg.done();
            });
        });
        wg.wait();
        feeder.join();
      },
      goro_test::threads_wake_goroutines(procs(2)));
  EXPECT_EQ(ran.load(), 1000);
}

TEST(SchedTest, ForeignThreadWaitsOnWaitGroup) {
  std::atomic<bool> thread_done{false};
  goro::run(
      [&] {
        goro::wait_group wg;
        wg.add(1);
        std::thread t([&] {
          wg.wait();  // blocks this thread, not a goroutine
          thread_done = true;
        });
        goro::go([&] { wg.done(); });
        t.join();
      },
      goro_test::threads_wake_goroutines(procs(2)));
  EXPECT_TRUE(thread_done.load());
}

}  // namespace
