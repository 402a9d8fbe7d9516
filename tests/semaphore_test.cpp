// goro::semaphore (x/sync's semaphore.Weighted): x/sync's tests
// (golang.org/x/sync/semaphore/semaphore_test.go) at their sizes, scaled
// down under sanitizers, then the C++ edges: FIFO order, bad weights,
// foreign threads, the happens-before of a release.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using goro::errc;
using goro_test::procs;

template <class F>
void run2(F f) {
  goro_test::watchdog wd(60s);
  goro::run(std::move(f), procs(2));
}

// x/sync's HammerWeighted: acquire n, sleep up to 1 ms, release n.
void hammer_weighted(goro::semaphore& sem, std::int64_t n, int loops, unsigned seed) {
  std::mt19937 r(seed);
  for (int i = 0; i < loops; i++) {
    EXPECT_FALSE(sem.acquire(goro::background(), n));
    goro::sleep_for(std::chrono::nanoseconds(r() % 1'000'000));
    sem.release(n);
  }
}

// Go: TestWeighted (x/sync/semaphore/semaphore_test.go); loops 10000/n
// there, with sleeps of up to 1 ms each: 200/n here (as -short would).
TEST(SemaphoreTest, Weighted) {
  run2([] {
    const int n = static_cast<int>(goro::gomaxprocs());
    const int loops = (goro_test::under_sanitizer ? 50 : 200) / n;
    goro::semaphore sem(n);
    goro::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; i++)
      goro::go([&, i] {
        hammer_weighted(sem, i, loops, static_cast<unsigned>(i));
        wg.done();
      });
    wg.wait();
  });
}

// Go: TestWeightedPanic (x/sync/semaphore/semaphore_test.go)
TEST(SemaphoreTest, WeightedPanic) {
  goro::semaphore w(1);
  EXPECT_THROW(w.release(1), std::logic_error);
  // Unchanged by the failed release: one token still free.
  EXPECT_TRUE(w.try_acquire(1));
  EXPECT_THROW(w.release(2), std::logic_error) << "released more than held";
  w.release(1);
}

// Go: TestWeightedNegativeSizePanic, TestWeightedZeroSize and
// TestWeightedNegativeWeightPanic (x/sync/semaphore/semaphore_test.go)
TEST(SemaphoreTest, WeightedBadArguments) {
  EXPECT_THROW(goro::semaphore(-1), std::invalid_argument);
  goro::semaphore z(0);
  EXPECT_TRUE(z.try_acquire(0));
  goro::semaphore w(1);
  EXPECT_THROW((void)w.acquire(goro::background(), -1), std::invalid_argument);
  EXPECT_THROW(w.acquire(-1), std::invalid_argument);
  EXPECT_THROW((void)w.try_acquire(-1), std::invalid_argument);
  EXPECT_THROW(w.release(-1), std::invalid_argument);
  // Ours: the plain acquire of more than the size could never return.
  EXPECT_THROW(w.acquire(2), std::invalid_argument);
}

// Go: TestWeightedTryAcquire (x/sync/semaphore/semaphore_test.go)
TEST(SemaphoreTest, WeightedTryAcquire) {
  goro::semaphore sem(2);
  std::vector<bool> tries;
  sem.acquire(1);
  tries.push_back(sem.try_acquire(1));
  tries.push_back(sem.try_acquire(1));
  sem.release(2);
  tries.push_back(sem.try_acquire(1));
  sem.acquire(1);
  tries.push_back(sem.try_acquire(1));
  EXPECT_EQ(tries, (std::vector<bool>{true, false, true, false}));
}

// Go: TestWeightedAcquire (x/sync/semaphore/semaphore_test.go)
TEST(SemaphoreTest, WeightedAcquire) {
  run2([] {
    goro::semaphore sem(2);
    auto try_acquire = [&](std::int64_t n) {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 10ms);
      bool ok = !sem.acquire(ctx, n);
      cancel();
      return ok;
    };
    std::vector<bool> tries;
    sem.acquire(1);
    tries.push_back(try_acquire(1));
    tries.push_back(try_acquire(1));
    sem.release(2);
    tries.push_back(try_acquire(1));
    sem.acquire(1);
    tries.push_back(try_acquire(1));
    EXPECT_EQ(tries, (std::vector<bool>{true, false, true, false}));
  });
}

// Go: TestWeightedDoesntBlockIfTooBig (x/sync/semaphore/semaphore_test.go)
TEST(SemaphoreTest, WeightedDoesntBlockIfTooBig) {
  run2([] {
    constexpr int n = 2;
    goro::semaphore sem(n);
    auto [big_ctx, cancel_big] = goro::with_cancel(goro::background());
    goro::wait_group big;
    big.add(1);
    goro::go([&, c = big_ctx] {
      EXPECT_EQ(sem.acquire(c, n + 1), errc::canceled);
      big.done();
    });
    {
      goro::errgroup g;
      for (int i = n * 3; i > 0; i--)
        g.go([&sem, ctx = g.ctx()]() -> std::error_code {
          std::error_code err = sem.acquire(ctx, 1);
          if (!err) {
            goro::sleep_for(1ms);
            sem.release(1);
          }
          return err;
        });
      EXPECT_NO_THROW(g.wait()) << "acquire(1) failed with acquire(" << n + 1 << ") pending";
    }
    cancel_big();
    big.wait();
  });
}

// Go: TestLargeAcquireDoesntStarve (x/sync/semaphore/semaphore_test.go):
// it hangs (the watchdog fires) if the large acquire starves.
TEST(SemaphoreTest, LargeAcquireDoesntStarve) {
  run2([] {
    const std::int64_t n = goro::gomaxprocs();
    goro::semaphore sem(n);
    std::atomic<bool> running{true};
    goro::wait_group wg;
    wg.add(n);
    for (std::int64_t i = n; i > 0; i--) {
      sem.acquire(1);
      goro::go([&] {
        while (running.load()) {
          goro::sleep_for(1ms);
          sem.release(1);
          sem.acquire(1);
        }
        sem.release(1);
        wg.done();
      });
    }
    sem.acquire(n);
    running = false;
    sem.release(n);
    wg.wait();
  });
}

// Go: TestAllocCancelDoesntStarve (x/sync/semaphore/semaphore_test.go)
TEST(SemaphoreTest, AllocCancelDoesntStarve) {
  run2([] {
    goro::semaphore sem(10);
    // Block off a portion of the semaphore so that acquire(10) can
    // eventually succeed.
    sem.acquire(1);
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::wait_group wg;
    wg.add(1);
    goro::go([&, c = ctx] {
      (void)sem.acquire(c, 10);
      wg.done();
    });
    // Wait until the acquire(10) blocks.
    while (sem.try_acquire(1)) {
      sem.release(1);
      goro::yield();
    }
    // Now take one token while the acquire(10) is being unblocked: both
    // must return, in either order.
    wg.add(1);
    goro::go([&wg, cancel = cancel] {
      cancel();
      wg.done();
    });
    EXPECT_FALSE(sem.acquire(goro::background(), 1)) << "acquire(1) failed unexpectedly";
    sem.release(1);
    wg.wait();
  });
}

// Go: TestWeightedAcquireCanceled (x/sync/semaphore/semaphore_test.go,
// go.dev/issue/63615)
TEST(SemaphoreTest, WeightedAcquireCanceled) {
  run2([] {
    for (int round = 0; round < (goro_test::under_sanitizer ? 20 : 100); round++) {
      goro::semaphore sem(2);
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      sem.acquire(1);
      goro::chan<std::monostate> ch;
      goro::go([&, cancel = cancel]() mutable {
        // Synchronize with the acquire(2) below.
        while (sem.try_acquire(1)) sem.release(1);
        // Now cancel ctx, and then release the token.
        cancel();
        sem.release(1);
        ch.close();
      });
      // ctx is done before enough tokens are free: the acquire must fail.
      EXPECT_EQ(sem.acquire(ctx, 2), errc::canceled);
      // Two tokens are free once the goroutine released ours.
      (void)ch.recv();
      ASSERT_TRUE(sem.try_acquire(2)) << "try_acquire after a cancelled acquire failed";
      sem.release(2);
      // A done ctx fails even when no wait would be needed.
      EXPECT_EQ(sem.acquire(ctx, 1), errc::canceled);
    }
  });
}

// Ours: waiters are served strictly in arrival order, and a large waiter
// at the head holds back small ones behind it. One P: each new goroutine
// runs (and queues) while main yields, before main starts the next.
TEST(SemaphoreTest, FifoOrder) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        goro::semaphore sem(3);
        sem.acquire(3);
        std::vector<int> order;
        goro::wait_group wg;
        const std::int64_t weights[] = {2, 1, 3, 1};
        for (int i = 0; i < 4; i++) {
          wg.add(1);
          goro::go([&, i] {
            sem.acquire(weights[i]);
            order.push_back(i);  // one P, and the semaphore orders them
            sem.release(weights[i]);
            wg.done();
          });
          for (int k = 0; k < 3; k++) goro::yield();
        }
        EXPECT_FALSE(sem.try_acquire(0)) << "waiters are queued: even 0 must wait its turn";
        sem.release(3);
        wg.wait();
        // 0 (2) and 1 (1) fit together, 2 (3) needs all three, then 3.
        ASSERT_EQ(order.size(), 4u);
        EXPECT_TRUE((order == std::vector<int>{0, 1, 2, 3}) ||
                    (order == std::vector<int>{1, 0, 2, 3}))
            << order[0] << order[1] << order[2] << order[3];
        EXPECT_EQ(order[2], 2) << "waiter 3 overtook the larger waiter 2";
      },
      procs(1));
}

// Ours: a release happens before the acquire it satisfies (TSan checks the
// plain int), from a goroutine to a foreign thread and back.
TEST(SemaphoreTest, ReleaseHappensBeforeAcquire) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        goro::semaphore to_thread(1), to_main(1);
        to_thread.acquire(1);
        to_main.acquire(1);
        int data = 0;
        std::thread t([&] {
          to_thread.acquire(1);  // the foreign thread blocks until main's release
          EXPECT_EQ(data, 1);
          data = 2;
          to_main.release(1);
        });
        data = 1;
        to_thread.release(1);
        to_main.acquire(1);  // parks until the thread's release
        EXPECT_EQ(data, 2);
        goro::blocking([&] { t.join(); });
      },
      goro_test::threads_wake_goroutines(procs(2)));
}

// Ours: a waiter whose context times out leaves the queue, and the waiter
// behind it is then served.
TEST(SemaphoreTest, TimedOutHeadLetsOthersThrough) {
  run2([] {
    goro::semaphore sem(2);
    sem.acquire(1);
    goro::wait_group wg;
    wg.add(2);
    goro::go([&] {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 5ms);
      EXPECT_EQ(sem.acquire(ctx, 2), errc::deadline_exceeded);
      cancel();
      wg.done();
    });
    goro::sleep_for(1ms);
    goro::go([&] {
      sem.acquire(1);  // queued behind the 2 until it times out
      sem.release(1);
      wg.done();
    });
    wg.wait();
    sem.release(1);
    EXPECT_TRUE(sem.try_acquire(2));
  });
}

// Objects outlive the runtime (design.md): goroutines abandoned while
// waiting in acquire, with and without a context, leave no record that
// could take tokens released after run or hold the queue's head. At procs
// 1 each waiter runs (and queues) at main's yield, before main returns.
TEST(SemaphoreTest, AbandonedWaitersTakeNoTokensAfterRun) {
  goro::semaphore sem(3);
  goro::run(
      [&] {
        sem.acquire(3);
        goro::go([&] {
          sem.acquire(2);
          ADD_FAILURE() << "an abandoned waiter was granted";
        });
        goro::go([&] {
          (void)sem.acquire(goro::background(), 1);
          ADD_FAILURE() << "an abandoned waiter was granted";
        });
        goro::yield();
        EXPECT_FALSE(sem.try_acquire(1));  // both queued, nothing free
      },
      procs(1));
  sem.release(3);
  // Without the pruning the first ghost would now hold 2 of the 3 tokens.
  EXPECT_TRUE(sem.try_acquire(3));
  sem.release(3);
  goro::run(
      [&] {
        sem.acquire(3);
        sem.release(3);
      },
      procs(2));
}

}  // namespace
