// goro::mutex against Go's sync.Mutex semantics (sync/mutex.go): mutual
// exclusion under contention, TryLock, Lockable, starvation mode, foreign
// threads.
#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

namespace {

using goro_test::procs;

using clock_type = std::chrono::steady_clock;

class MutexProcs : public ::testing::TestWithParam<unsigned> {};

INSTANTIATE_TEST_SUITE_P(Procs, MutexProcs, ::testing::Values(1u, 2u, 4u),
                         [](const auto& info) { return "procs" + std::to_string(info.param); });

TEST_P(MutexProcs, NoLostIncrementsUnderContention) {
  // A plain (non-atomic) counter and a check that nobody else is inside:
  // a broken mutex loses increments (and TSan reports the race).
  constexpr int goroutines = 16, per = 5000;
  long total = goro::run(
      [] {
        goro::mutex mu;
        long counter = 0;
        int inside = 0;
        goro::wait_group wg;
        wg.add(goroutines);
        for (int g = 0; g < goroutines; g++)
          goro::go([&, g] {
            for (int i = 0; i < per; i++) {
              mu.lock();
              EXPECT_EQ(++inside, 1);
              counter++;
              if ((i + g) % 64 == 0) goro::yield();  // hold it across a switch now and then
              --inside;
              mu.unlock();
            }
            wg.done();
          });
        wg.wait();
        return counter;
      },
      procs(GetParam()));
  EXPECT_EQ(total, static_cast<long>(goroutines) * per);
}

TEST(MutexTest, TryLockAndLockable) {
  goro::run([] {
    goro::mutex mu;
    EXPECT_TRUE(mu.try_lock());
    EXPECT_FALSE(mu.try_lock());
    mu.unlock();
    {
      std::lock_guard lk(mu);
      EXPECT_FALSE(mu.try_lock());
    }
    goro::mutex other;
    {
      std::scoped_lock both(mu, other);  // std::lock's deadlock avoidance uses try_lock
      EXPECT_FALSE(other.try_lock());
    }
    std::unique_lock lk(mu, std::try_to_lock);
    EXPECT_TRUE(lk.owns_lock());
  });
}

TEST(MutexTest, UnlockHandsOverToAParkedGoroutine) {
  goro::run(
      [] {
        goro::mutex mu;
        mu.lock();
        std::atomic<int> stage{0};
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] {
          stage = 1;
          mu.lock();  // parks: main holds it
          stage = 2;
          mu.unlock();
          wg.done();
        });
        while (stage.load() < 1) goro::yield();
        for (int i = 0; i < 10; i++) goro::yield();
        EXPECT_EQ(stage.load(), 1);
        mu.unlock();
        wg.wait();
        EXPECT_EQ(stage.load(), 2);
      },
      procs(1));
}

TEST(MutexTest, StarvingGoroutineGetsTheLockOnOneP) {
  // A hog holds the lock across a yield and takes it back right after each
  // unlock. On one P this is deterministic: the waiter runs only while the
  // hog is inside (yielding), finds it locked and sleeps again; the unlock
  // wakes it into runnext, but the hog re-locks before it runs. In normal
  // mode alone it would never get the lock. Starvation mode (the waiter has
  // waited > 1 ms, so unlock hands the lock to it) must let it in, 20 times.
  // After 10 s the hog stops yielding inside, only so that a broken mutex
  // fails the bound below instead of hanging the test.
  using namespace std::chrono;
  auto elapsed = goro::run(
      [] {
        goro::mutex mu;
        std::atomic<bool> stop{false};
        long hog_rounds = 0;
        goro::wait_group wg;
        wg.add(1);
        auto t0 = clock_type::now();
        goro::go([&] {
          while (!stop.load()) {
            mu.lock();
            bool hogging = clock_type::now() - t0 < seconds(10);
            if (hogging) goro::yield();
            mu.unlock();
            hog_rounds++;
            if (!hogging) goro::yield();
          }
          wg.done();
        });
        goro::yield();  // the hog takes the lock and yields back to us
        for (int i = 0; i < 20; i++) {
          mu.lock();
          mu.unlock();
          goro::yield();  // let the hog take it again
        }
        auto d = clock_type::now() - t0;
        stop = true;
        wg.wait();
        EXPECT_GT(hog_rounds, 20);  // the hog really was competing
        return d;
      },
      procs(1));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST(MutexTest, StarvingGoroutineStillGetsTheLockAcrossPs) {
  // Go's TestMutexFairness: one goroutine holds the lock nearly all the time
  // (critical sections of 100 us, released only for an instant), another
  // wants it 10 times. 10 s is a bound for a mutex that works at all.
  auto elapsed = goro::run(
      [] {
        goro::mutex mu;
        std::atomic<bool> stop{false}, hog_running{false};
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] {
          while (!stop.load()) {
            mu.lock();
            hog_running = true;
            auto t = clock_type::now();
            while (clock_type::now() - t < std::chrono::microseconds(100)) {
            }
            mu.unlock();
          }
          wg.done();
        });
        // Keep this P (no yield) until the other P has taken the hog from
        // our runnext and started it: from then on the two run in parallel.
        while (!hog_running.load()) {
        }
        auto t0 = clock_type::now();
        for (int i = 0; i < 10; i++) {
          mu.lock();
          mu.unlock();
        }
        auto d = clock_type::now() - t0;
        stop = true;
        wg.wait();
        return d;
      },
      procs(2));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST(MutexTest, ForeignThreadsAndGoroutinesShareAMutex) {
  // Threads outside the runtime block on a futex while a goroutine holds the
  // lock, and goroutines park while a thread holds it.
  constexpr int threads = 2, goroutines = 4, per = 5000;
  goro::mutex mu;
  long counter = 0;
  std::atomic<bool> running{false};
  std::atomic<int> threads_done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      while (!running) std::this_thread::yield();
      for (int i = 0; i < per; i++) {
        std::lock_guard lk(mu);
        counter++;
      }
      threads_done++;
    });
  goro::run(
      [&] {
        running = true;
        goro::wait_group wg;
        wg.add(goroutines);
        for (int g = 0; g < goroutines; g++)
          goro::go([&] {
            for (int i = 0; i < per; i++) {
              std::lock_guard lk(mu);
              counter++;
            }
            wg.done();
          });
        wg.wait();
        // Keep the runtime up until the threads are out of every goro call
        // (an unlock of theirs may still be readying a goroutine).
        while (threads_done.load() < threads) goro::yield();
      },
      goro_test::threads_wake_goroutines(procs(2)));
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, static_cast<long>(threads + goroutines) * per);
}

TEST(MutexTest, GuardsAChannelFreeCriticalSectionAcrossMigrations) {
  // The lock is held across a yield and released on another M: ownership
  // belongs to the goroutine, not to the thread.
  goro::run(
      [] {
        goro::mutex mu;
        std::vector<int> log;
        goro::wait_group wg;
        wg.add(8);
        for (int g = 0; g < 8; g++)
          goro::go([&, g] {
            for (int i = 0; i < 200; i++) {
              mu.lock();
              log.push_back(g);
              goro::yield();
              log.push_back(g);
              mu.unlock();
            }
            wg.done();
          });
        wg.wait();
        ASSERT_EQ(log.size(), 8u * 200 * 2);
        for (std::size_t i = 0; i < log.size(); i += 2) EXPECT_EQ(log[i], log[i + 1]);
      },
      procs(2));
}

// [thread.mutex.class]: a mutex may be destroyed as soon as nobody holds it
// and nobody will lock it again, even while another thread's unlock() has
// not returned yet. Here the last of a mutex's users deletes it right after
// its own unlock; every other user's unlock may still be running. An unlock
// that touches the mutex after its releasing atomic (the old unlock_slow's
// CAS) writes freed memory: ASan reports a heap-use-after-free, a plain
// build corrupts the heap or a reused mutex.
TEST(MutexTest, DestroyedByItsLastUserWhileAnotherUnlockReturns) {
  constexpr int rounds = 4000, users = 3, per = 4;
  goro_test::watchdog wd(std::chrono::seconds(120));
  struct shared {
    goro::mutex mu;
    int left = users * per;  // guarded by mu
  };
  long deleted = goro::run(
      [] {
        std::atomic<long> deleted{0};
        goro::wait_group wg;
        for (int r = 0; r < rounds; r++) {
          auto* s = new shared;
          wg.add(users);
          for (int u = 0; u < users; u++)
            goro::go([s, &wg, &deleted] {
              for (int i = 0; i < per; i++) {
                s->mu.lock();
                bool last = --s->left == 0;
                // Hold it across a switch now and then, so that the others
                // go to sleep and unlock has someone to wake.
                if (i % 2 == 0) goro::yield();
                s->mu.unlock();
                if (last) {
                  delete s;
                  deleted.fetch_add(1, std::memory_order_relaxed);
                }
              }
              wg.done();
            });
          if (r % 64 == 63) wg.wait();  // bound the live goroutines
        }
        wg.wait();
        return deleted.load();
      },
      procs(4));
  EXPECT_EQ(deleted, rounds);
}

// The same with foreign threads among the users: an OS thread can be
// descheduled between any two instructions of unlock, which widens the window.
TEST(MutexTest, DestroyedByItsLastUserAmongThreadsAndGoroutines) {
  constexpr int rounds = 1500, per = 4;
  goro_test::watchdog wd(std::chrono::seconds(120));
  struct shared {
    goro::mutex mu;
    int left = 3 * per;  // guarded by mu
  };
  std::atomic<long> deleted{0};
  auto use = [&deleted](shared* s) {
    for (int i = 0; i < per; i++) {
      s->mu.lock();
      bool last = --s->left == 0;
      s->mu.unlock();
      if (last) {
        delete s;
        deleted.fetch_add(1, std::memory_order_relaxed);
      }
    }
  };
  goro::run(
      [&] {
        for (int r = 0; r < rounds; r++) {
          auto* s = new shared;
          goro::wait_group wg;
          wg.add(2);
          for (int u = 0; u < 2; u++)
            goro::go([s, &wg, &use] {
              use(s);
              wg.done();
            });
          std::thread t([s, &use] { use(s); });
          wg.wait();
          goro::blocking([&] { t.join(); });
        }
      },
      goro_test::threads_wake_goroutines(procs(2)));
  EXPECT_EQ(deleted.load(), rounds);
}

// The window in the old unlock (between the releasing fetch_sub and
// unlock_slow's CAS) is a few instructions wide; here signals stretch it. A
// foreign thread holds the mutex while a goroutine goes to sleep on it, then
// unlocks under a hail of signals whose handler busy-waits. A second
// goroutine takes the mutex the moment it is released, and its unlock wakes
// the sleeper, which is the last user and deletes the mutex. An unlock
// stalled after its release must not touch the mutex when it resumes
// (ASan: heap-use-after-free on the old code).
namespace interrupted {
std::atomic<long> handled{0};
long ns_since(const timespec& t0) {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0.tv_sec) * 1'000'000'000L + (t.tv_nsec - t0.tv_nsec);
}
void stall(int) {
  // async-signal-safe: clock_gettime and a lock-free atomic.
  timespec t0{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (ns_since(t0) < 15'000) {
  }
  handled.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace interrupted

TEST(MutexTest, DestroyedWhileAnInterruptedUnlockResumes) {
  constexpr int rounds = 1500;
  goro_test::watchdog wd(std::chrono::seconds(200));
  struct shared {
    goro::mutex mu;
    int left = 3;  // guarded by mu: one use each by the thread and two goroutines
  };
  struct sigaction sa {
  }, old{};
  sa.sa_handler = interrupted::stall;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  std::atomic<shared*> slot{nullptr};
  std::atomic<int> held{-1}, sleeping{-1}, thread_rounds{0};
  std::atomic<bool> armed{false}, stop{false};
  std::atomic<long> deleted{0};
  // The rest of one use: the last user deletes.
  auto finish = [&deleted](shared* s) {
    bool last = --s->left == 0;
    s->mu.unlock();
    if (last) {
      delete s;
      deleted.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread user([&] {
    for (int r = 0; r < rounds; r++) {
      shared* s;
      while (!(s = slot.exchange(nullptr, std::memory_order_acquire))) std::this_thread::yield();
      s->mu.lock();
      held.store(r, std::memory_order_release);
      while (sleeping.load(std::memory_order_acquire) != r) std::this_thread::yield();
      // Hold it a while, so that the goroutine falls asleep on it, with the
      // signals already coming; then unlock while they keep coming.
      armed.store(true, std::memory_order_release);
      timespec t0{};
      clock_gettime(CLOCK_MONOTONIC, &t0);
      while (interrupted::ns_since(t0) < 30'000) {
      }
      finish(s);
      armed.store(false, std::memory_order_release);
      thread_rounds.fetch_add(1, std::memory_order_release);
    }
  });
  std::thread interrupter([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (!armed.load(std::memory_order_acquire)) continue;
      pthread_kill(user.native_handle(), SIGUSR2);
      timespec t0{};
      clock_gettime(CLOCK_MONOTONIC, &t0);
      while (interrupted::ns_since(t0) < 1'000) {
      }
    }
  });
  goro::run(
      [&] {
        for (int r = 0; r < rounds; r++) {
          auto* s = new shared;
          goro::wait_group wg;
          wg.add(2);
          goro::go([&, s, r] {  // the sleeper
            while (held.load(std::memory_order_acquire) != r) goro::yield();
            sleeping.store(r, std::memory_order_release);
            s->mu.lock();
            finish(s);
            wg.done();
          });
          goro::go([&, s, r] {  // takes it the moment it is released
            while (held.load(std::memory_order_acquire) != r) goro::yield();
            // Spin only while the thread is about to unlock (armed, which
            // ends with its unlock): a spinner inside the runtime's try_lock
            // cannot be preempted, and the sleeper may share its P.
            while (!s->mu.try_lock())
              if (!armed.load(std::memory_order_acquire)) goro::yield();
            finish(s);
            wg.done();
          });
          slot.store(s, std::memory_order_release);
          wg.wait();
          while (thread_rounds.load(std::memory_order_acquire) <= r) goro::yield();
        }
      },
      goro_test::threads_wake_goroutines(procs(2)));
  stop.store(true);
  interrupter.join();
  user.join();
  sigaction(SIGUSR2, &old, nullptr);
  EXPECT_EQ(deleted.load(), rounds);
  EXPECT_GT(interrupted::handled.load(), 0);
}

// The same pattern for wait_group (Go's "wg.Wait(); return"): the waiter
// deletes it as soon as wait returns, while the done() that released it
// may still be returning. The audit found no access after the release:
// this guards it (ASan).
TEST(WaitGroupLifetime, DestroyedAsSoonAsWaitReturns) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::run(
      [] {
        for (int r = 0; r < 3000; r++) {
          auto* wg = new goro::wait_group;
          wg->add(2);
          for (int i = 0; i < 2; i++) goro::go([wg] { wg->done(); });
          wg->wait();
          delete wg;
        }
      },
      procs(2));
}

}  // namespace
