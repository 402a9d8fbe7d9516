// goro::rw_mutex against Go's sync.RWMutex semantics (sync/rwmutex.go):
// parallel readers, the hammer of readers and writers, a waiting writer
// blocking new readers, std's lock wrappers, foreign threads, lifetime.
#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

namespace {

using goro_test::procs;

void parallel_readers(int readers, unsigned gomaxprocs) {
  goro::run(
      [readers] {
        goro::rw_mutex m;
        goro::chan<bool> clocked, cunlock, cdone;
        for (int i = 0; i < readers; i++)
          goro::go([&] {
            m.lock_shared();
            clocked.send(true);
            cunlock.recv();
            m.unlock_shared();
            cdone.send(true);
          });
        // Every reader holds it at once, or this never finishes.
        for (int i = 0; i < readers; i++) clocked.recv();
        for (int i = 0; i < readers; i++) cunlock.send(true);
        for (int i = 0; i < readers; i++) cdone.recv();
      },
      procs(gomaxprocs));
}

// Go: TestParallelReaders (src/sync/rwmutex_test.go)
TEST(RWMutexTest, ParallelReaders) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  parallel_readers(1, 4);
  parallel_readers(3, 4);
  parallel_readers(4, 2);
}

// Go's HammerRWMutex: activity counts readers inside plus 10000 per writer.
void hammer(unsigned gomaxprocs, int readers, int iterations) {
  goro::run(
      [readers, iterations] {
        std::atomic<int> activity{0};
        goro::rw_mutex rwm;
        goro::chan<bool> cdone;
        auto writer = [&] {
          for (int i = 0; i < iterations; i++) {
            rwm.lock();
            int n = activity.fetch_add(10000) + 10000;
            EXPECT_EQ(n, 10000) << "writer saw another inside";
            for (int k = 0; k < 100; k++) {  // Go: an empty loop of 100
              std::atomic_signal_fence(std::memory_order_seq_cst);
            }
            activity.fetch_sub(10000);
            rwm.unlock();
          }
          cdone.send(true);
        };
        auto reader = [&] {
          for (int i = 0; i < iterations; i++) {
            rwm.lock_shared();
            int n = activity.fetch_add(1) + 1;
            EXPECT_TRUE(n >= 1 && n < 10000) << "reader saw a writer inside: " << n;
            for (int k = 0; k < 100; k++) {  // Go: an empty loop of 100
              std::atomic_signal_fence(std::memory_order_seq_cst);
            }
            activity.fetch_sub(1);
            rwm.unlock_shared();
          }
          cdone.send(true);
        };
        goro::go(writer);
        int i = 0;
        for (; i < readers / 2; i++) goro::go(reader);
        goro::go(writer);
        for (; i < readers; i++) goro::go(reader);
        for (int k = 0; k < 2 + readers; k++) cdone.recv();
      },
      procs(gomaxprocs));
}

// Go: TestRWMutex (src/sync/rwmutex_test.go): the try_lock checks, then
// HammerRWMutex at Go's sizes with n = 5 (-short) scaled up a little.
TEST(RWMutexTest, RWMutex) {
  goro_test::watchdog wd(std::chrono::seconds(120));
  goro::rw_mutex m;
  m.lock();
  EXPECT_FALSE(m.try_lock()) << "try_lock succeeded with it locked";
  EXPECT_FALSE(m.try_lock_shared()) << "try_lock_shared succeeded with it locked";
  m.unlock();
  EXPECT_TRUE(m.try_lock()) << "try_lock failed with it unlocked";
  m.unlock();
  EXPECT_TRUE(m.try_lock_shared()) << "try_lock_shared failed with it unlocked";
  EXPECT_TRUE(m.try_lock_shared()) << "try_lock_shared failed with it read-locked";
  EXPECT_FALSE(m.try_lock()) << "try_lock succeeded with it read-locked";
  m.unlock_shared();
  m.unlock_shared();

  const int n = goro_test::under_sanitizer ? 100 : 1000;  // Go: 1000, -short 5
  for (unsigned p : {1u, 4u, 10u})
    for (int readers : {1, 3, 10}) hammer(p, readers, n);
  hammer(10, 5, n);
}

// Go: TestRLocker (src/sync/rwmutex_test.go). Go's RLocker() adapts RLock to
// a Locker; in C++ std::shared_lock is that adapter, so the test uses it.
TEST(RWMutexTest, RLockerAsSharedLock) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::run(
      [] {
        goro::rw_mutex wl;
        goro::chan<bool> wlocked(1), rlocked(1);
        constexpr int n = 10;
        goro::go([&] {
          for (int i = 0; i < n; i++) {
            std::shared_lock r1(wl);
            std::shared_lock r2(wl);
            rlocked.send(true);
            r1.release();  // main unlocks both
            r2.release();
            wl.lock();
            wlocked.send(true);
          }
        });
        for (int i = 0; i < n; i++) {
          rlocked.recv();
          wl.unlock_shared();
          EXPECT_FALSE(wlocked.try_recv().has_value()) << "shared_lock did not read-lock it";
          wl.unlock_shared();
          wlocked.recv();
          EXPECT_FALSE(rlocked.try_recv().has_value())
              << "shared_lock did not respect the write lock";
          wl.unlock();
        }
      },
      procs(2));
}

// Ours: a waiting writer blocks new readers (Go's writer preference), and
// its unlock lets the readers that queued behind it in. Deterministic: a
// reader holds it, a writer waits, try_lock_shared fails and a new reader
// parks; the order is writer, then the late reader.
TEST(RWMutexTest, WaitingWriterBlocksNewReaders) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::run(
      [] {
        goro::rw_mutex m;
        std::atomic<int> stage{0};
        std::vector<int> order;  // guarded by m (written by the writer and the late reader)
        m.lock_shared();
        goro::wait_group wg;
        wg.add(2);
        goro::go([&] {
          stage = 1;
          m.lock();  // waits for main's read lock
          order.push_back(1);
          m.unlock();
          wg.done();
        });
        while (stage.load() < 1) goro::yield();
        for (int i = 0; i < 20; i++) goro::yield();  // the writer is pending now
        EXPECT_FALSE(m.try_lock_shared()) << "a new reader got in past a waiting writer";
        EXPECT_FALSE(m.try_lock());
        goro::go([&] {
          stage = 2;
          m.lock_shared();  // parks behind the pending writer
          order.push_back(2);
          m.unlock_shared();
          wg.done();
        });
        while (stage.load() < 2) goro::yield();
        for (int i = 0; i < 20; i++) goro::yield();
        m.unlock_shared();  // the writer goes, then the reader
        wg.wait();
        ASSERT_EQ(order.size(), 2u);
        EXPECT_EQ(order[0], 1);
        EXPECT_EQ(order[1], 2);
        EXPECT_TRUE(m.try_lock());
        m.unlock();
      },
      procs(1));
}

// Ours: the std wrappers (Lockable, SharedLockable).
TEST(RWMutexTest, StdLockWrappers) {
  goro::run([] {
    goro::rw_mutex m;
    {
      std::unique_lock lk(m);
      EXPECT_FALSE(m.try_lock_shared());
    }
    {
      std::shared_lock a(m), b(m, std::try_to_lock);
      EXPECT_TRUE(b.owns_lock());
      std::unique_lock w(m, std::try_to_lock);
      EXPECT_FALSE(w.owns_lock());
    }
    goro::rw_mutex other;
    {
      std::scoped_lock both(m, other);  // std::lock: try_lock
      EXPECT_FALSE(other.try_lock());
      EXPECT_FALSE(m.try_lock_shared());
    }
    std::unique_lock lk(m, std::try_to_lock);
    EXPECT_TRUE(lk.owns_lock());
  });
}

// Ours: threads outside the runtime mix with goroutines, as readers and
// writers; the writers' plain counter is also read by the readers, so a
// missing happens-before edge is a race TSan reports.
TEST(RWMutexTest, ForeignThreadsAndGoroutines) {
  goro_test::watchdog wd(std::chrono::seconds(120));
  const int per = goro_test::under_sanitizer ? 2000 : 20000;
  constexpr int threads = 2, goroutines = 4;
  goro::rw_mutex m;
  long counter = 0;  // written under lock(), read under lock_shared()
  std::atomic<int> inside_writers{0};
  std::atomic<bool> running{false};
  std::atomic<int> threads_done{0};
  auto body = [&](int id) {
    long seen = 0;
    for (int i = 0; i < per; i++) {
      if ((i + id) % 8 == 0) {
        std::unique_lock lk(m);
        EXPECT_EQ(inside_writers.fetch_add(1), 0);
        counter++;
        inside_writers.fetch_sub(1);
      } else {
        std::shared_lock lk(m);
        EXPECT_EQ(inside_writers.load(), 0);
        EXPECT_GE(counter, seen);
        seen = counter;
      }
    }
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&, t] {
      while (!running) std::this_thread::yield();
      body(100 + t);
      threads_done++;
    });
  goro::run(
      [&] {
        running = true;
        goro::wait_group wg;
        wg.add(goroutines);
        for (int g = 0; g < goroutines; g++)
          goro::go([&, g] {
            body(g);
            wg.done();
          });
        wg.wait();
        // Keep the runtime up until the threads are out of every goro call.
        while (threads_done.load() < threads) goro::yield();
      },
      goro_test::threads_wake_goroutines(procs(2)));
  for (auto& t : ts) t.join();
  long writes = 0;
  for (int id : {0, 1, 2, 3, 100, 101})
    for (int i = 0; i < per; i++) writes += (i + id) % 8 == 0;
  EXPECT_EQ(counter, writes);
}

// Ours: an rw_mutex created before run, used inside and after it, and used
// with no runtime at all (a thread blocks on the futex).
TEST(RWMutexTest, OutlivesRun) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::rw_mutex m;
  int data = 0;
  m.lock();
  data = 1;
  m.unlock();
  goro::run([&] {
    m.lock_shared();
    EXPECT_EQ(data, 1);
    m.unlock_shared();
    m.lock();
    data = 2;
    m.unlock();
  });
  m.lock_shared();
  std::thread t([&] {
    m.lock();  // blocks until main's read lock is gone
    data = 3;
    m.unlock();
  });
  m.unlock_shared();
  t.join();
  std::shared_lock lk(m);
  EXPECT_EQ(data, 3);
}

// Ours: goroutines still parked on an rw_mutex when main returns are
// abandoned (spec/scheduler.md, "Lifetime"); the rw_mutex, which outlives
// run, must keep none of their counts. Here a pending writer waits for this
// thread's read lock, a reader waits behind that writer, and a second
// writer waits for w_. After run, this thread's unlock_shared is the last
// departure: it finds no writer to wake and unlocks for the abandoned one,
// and the rw_mutex is free again (a count kept for the abandoned reader
// would hang the lock() below).
TEST(RWMutexTest, AbandonedWaitersLeaveNothingBehind) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::rw_mutex m;
  m.lock_shared();
  std::atomic<int> started{0};
  goro::run(
      [&] {
        goro::go([&] {
          started++;
          m.lock();  // pending: waits for our read lock
        });
        goro::go([&] {
          started++;
          m.lock_shared();  // waits behind the pending writer
        });
        goro::go([&] {
          started++;
          m.lock();  // waits for w_
        });
        while (started.load() < 3) goro::yield();
        for (int i = 0; i < 20; i++) goro::yield();  // all three park (one P)
        EXPECT_FALSE(m.try_lock_shared());
      },
      procs(1));
  m.unlock_shared();
  EXPECT_TRUE(m.try_lock());
  m.unlock();
  m.lock();
  m.unlock();
  {
    std::shared_lock a(m);
    std::shared_lock b(m);
  }
  std::thread t([&] { std::unique_lock lk(m); });
  t.join();
  EXPECT_TRUE(m.try_lock_shared());
  m.unlock_shared();
}

// Ours: the last user destroys the rw_mutex right after its own unlock,
// while another user's unlock may still be running ([thread.sharedmutex]).
// An unlock touching *this after its releasing RMW (Go's order: w.Unlock
// after the readers were let in) writes freed memory: ASan reports it.
TEST(RWMutexTest, DestroyedByItsLastUserWhileAnotherUnlockReturns) {
  goro_test::watchdog wd(std::chrono::seconds(120));
  int rounds = goro_test::under_sanitizer ? 2000 : 20000;
  constexpr int users = 3, per = 4;
  struct shared {
    goro::rw_mutex mu;
    std::atomic<int> left{users * per};
  };
  long deleted = goro::run(
      [rounds] {
        std::atomic<long> deleted{0};
        goro::wait_group wg;
        for (int r = 0; r < rounds; r++) {
          auto* s = new shared;
          wg.add(users);
          for (int u = 0; u < users; u++)
            goro::go([s, u, &wg, &deleted] {
              for (int i = 0; i < per; i++) {
                bool write = (i + u) % 2 == 0;
                if (write) s->mu.lock();
                else s->mu.lock_shared();
                if (i % 2 == 0) goro::yield();  // so that others sleep on it
                bool last = s->left.fetch_sub(1) == 1;
                if (write) s->mu.unlock();
                else s->mu.unlock_shared();
                if (last) {
                  delete s;
                  deleted.fetch_add(1, std::memory_order_relaxed);
                }
              }
              wg.done();
            });
          if (r % 64 == 63) wg.wait();
        }
        wg.wait();
        return deleted.load();
      },
      procs(4));
  EXPECT_EQ(deleted, rounds);
}

// Ours: the window Go's order would open (unlock letting readers in before
// it unlocks w, so w.Unlock touches an rw_mutex a reader let in may have
// destroyed) is a few instructions wide; signals stretch it, as in
// mutex_test's DestroyedWhileAnInterruptedUnlockResumes. A foreign thread
// write-locks, then unlocks under a hail of signals whose handler
// busy-waits; a goroutine takes a read lock the moment it is released, and
// as the last user deletes the rw_mutex. An unlock stalled after its
// release must not touch it when it resumes (ASan: heap-use-after-free
// with Go's order, rw_mutex_orders::unlock_w_first false).
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

TEST(RWMutexTest, DestroyedWhileAnInterruptedUnlockResumes) {
  // With Go's order, ASan reports the use after free in about 1 run of 3.
  const int rounds = 300;
  goro_test::watchdog wd(std::chrono::seconds(120));
  struct shared {
    goro::rw_mutex mu;
    std::atomic<int> left{2};  // the thread's write and the goroutine's read
  };
  struct sigaction sa {
  }, old{};
  sa.sa_handler = interrupted::stall;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  std::atomic<shared*> slot{nullptr};
  std::atomic<int> held{-1}, thread_rounds{0};
  std::atomic<bool> armed{false}, stop{false};
  std::atomic<long> deleted{0};
  std::thread user([&] {
    for (int r = 0; r < rounds; r++) {
      shared* s;
      while (!(s = slot.exchange(nullptr, std::memory_order_acquire))) std::this_thread::yield();
      s->mu.lock();
      held.store(r, std::memory_order_release);
      // Hold it until the signals are coming (yielding, so that the
      // interrupter, which yields while disarmed, gets a core); then unlock
      // while they keep coming.
      long h0 = interrupted::handled.load(std::memory_order_relaxed);
      armed.store(true, std::memory_order_release);
      while (interrupted::handled.load(std::memory_order_relaxed) == h0) std::this_thread::yield();
      bool last = s->left.fetch_sub(1) == 1;
      s->mu.unlock();
      if (last) {
        delete s;
        deleted.fetch_add(1, std::memory_order_relaxed);
      }
      armed.store(false, std::memory_order_release);
      thread_rounds.fetch_add(1, std::memory_order_release);
    }
  });
  std::thread interrupter([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (!armed.load(std::memory_order_acquire)) {
        std::this_thread::yield();  // leave the core to the others meanwhile
        continue;
      }
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
          wg.add(1);
          goro::go([&, s, r] {
            while (held.load(std::memory_order_acquire) != r) goro::yield();
            // The moment the write lock is released (never blocks: a
            // spinner in the runtime's try_lock_shared is not preempted).
            while (!s->mu.try_lock_shared())
              if (!armed.load(std::memory_order_acquire)) goro::yield();
            bool last = s->left.fetch_sub(1) == 1;
            s->mu.unlock_shared();
            if (last) {
              delete s;
              deleted.fetch_add(1, std::memory_order_relaxed);
            }
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

// Ours: goroutines parked on an rw_mutex count for deadlock detection under
// Go's wait reasons (sync.RWMutex.RLock, sync.RWMutex.Lock). Main holds a
// read lock and waits for nothing that will come; a writer waits for main,
// a reader waits behind the writer.
TEST(RWMutexTest, DeadlockNamesTheWaitReasons) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::rw_mutex m;
  goro::chan<int> never;
  try {
    goro::run(
        [&] {
          m.lock_shared();
          goro::go([&] { m.lock(); });
          goro::go([&] {
            for (int i = 0; i < 10; i++) goro::yield();  // after the writer
            m.lock_shared();
          });
          never.recv();
        },
        procs(1));
    FAIL() << "run returned; want goro::deadlock";
  } catch (const goro::deadlock& e) {
    EXPECT_EQ(e.parked.at("sync.RWMutex.Lock"), 1u);
    EXPECT_EQ(e.parked.at("sync.RWMutex.RLock"), 1u);
  }
}

// Ours, Go's TestRWDoubleUnlock kind of misuse: unlock of an rw_mutex that
// is not locked ends the process with a message (Go: fatal error "sync:
// Unlock of unlocked RWMutex"), as goro::mutex does.
TEST(RWMutexDeathTest, UnlockOfUnlocked) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        goro::rw_mutex m;
        m.unlock();
      },
      "unlock of an rw_mutex not locked for writing");
  EXPECT_DEATH(
      {
        goro::rw_mutex m;
        m.unlock_shared();
      },
      "unlock_shared of an rw_mutex not locked for reading");
  EXPECT_DEATH(
      {
        goro::rw_mutex m;
        m.lock_shared();
        m.unlock_shared();
        m.unlock_shared();
      },
      "unlock_shared of an rw_mutex not locked for reading");
}

}  // namespace
