// goro::cond against Go's sync.Cond semantics (sync/cond.go): signal wakes
// the longest waiter, broadcast wakes all, a wake never reaches a later
// waiter; goroutines and foreign threads mixed; a cond outliving run.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

namespace {

using goro_test::procs;
using goro_test::under_sanitizer;
using namespace std::chrono_literals;

// Go: TestCondSignal (src/sync/cond_test.go)
TEST(CondTest, Signal) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        goro::mutex m;
        goro::cond c(m);
        int n = 2;
        goro::chan<bool> running(n), awake(n);
        goro::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; i++)
          goro::go([&] {
            m.lock();
            running.send(true);
            c.wait();
            awake.send(true);
            m.unlock();
            wg.done();
          });
        for (int i = 0; i < n; i++) running.recv();  // wait for everyone to run
        while (n > 0) {
          EXPECT_FALSE(awake.try_recv()) << "goroutine not asleep";
          m.lock();
          c.signal();
          m.unlock();
          awake.recv();  // deadlocks if no goroutine wakes up
          EXPECT_FALSE(awake.try_recv()) << "too many goroutines awake";
          n--;
        }
        c.signal();  // nobody waits: a no-op
        wg.wait();
      },
      procs(2));
}

// Go: TestCondSignalGenerations (src/sync/cond_test.go)
TEST(CondTest, SignalGenerations) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        goro::mutex m;
        goro::cond c(m);
        constexpr int n = 100;
        goro::chan<bool> running(n);
        goro::chan<int> awake(n);
        goro::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; i++) {
          goro::go([&, i] {
            m.lock();
            running.send(true);
            c.wait();
            awake.send(i);
            m.unlock();
            wg.done();
          });
          if (i > 0) {
            EXPECT_EQ(*awake.recv(), i - 1) << "wrong goroutine woke up";
          }
          running.recv();
          m.lock();
          c.signal();
          m.unlock();
        }
        EXPECT_EQ(*awake.recv(), n - 1);
        wg.wait();
      },
      procs(2));
}

// Go: TestCondBroadcast (src/sync/cond_test.go); 200 goroutines and rounds
// as Go (50 under a sanitizer).
TEST(CondTest, Broadcast) {
  goro_test::watchdog wd(120s);
  goro::run(
      [] {
        goro::mutex m;
        goro::cond c(m);
        const int n = under_sanitizer ? 50 : 200;
        goro::chan<int> running(n), awake(n);
        bool exit = false;
        goro::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; i++)
          goro::go([&, i] {
            m.lock();
            while (!exit) {
              running.send(i);
              c.wait();
              awake.send(i);
            }
            m.unlock();
            wg.done();
          });
        for (int round = 0; round < n; round++) {
          for (int i = 0; i < n; i++) running.recv();  // deadlocks unless n are running
          if (round == n - 1) {
            m.lock();
            exit = true;
            m.unlock();
          }
          EXPECT_FALSE(awake.try_recv()) << "goroutine not asleep";
          m.lock();
          c.broadcast();
          m.unlock();
          std::vector<bool> seen(n);
          for (int i = 0; i < n; i++) {
            int g = *awake.recv();
            ASSERT_FALSE(seen[g]) << "goroutine woke up twice";
            seen[g] = true;
          }
        }
        wg.wait();
        EXPECT_FALSE(running.try_recv()) << "goroutine did not exit";
        c.broadcast();
      },
      procs(2));
}

// Go: TestRace (src/sync/cond_test.go)
TEST(CondTest, Race) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        goro::mutex m;
        goro::cond c(m);
        int x = 0;
        goro::chan<bool> done;
        goro::go([&] {
          m.lock();
          x = 1;
          c.wait();
          EXPECT_EQ(x, 2);
          x = 3;
          c.signal();
          m.unlock();
          done.send(true);
        });
        goro::go([&] {
          m.lock();
          for (;;) {
            if (x == 1) {
              x = 2;
              c.signal();
              break;
            }
            m.unlock();
            goro::yield();
            m.lock();
          }
          m.unlock();
          done.send(true);
        });
        goro::go([&] {
          m.lock();
          for (;;) {
            if (x == 2) {
              c.wait();
              EXPECT_EQ(x, 3);
              break;
            }
            if (x == 3) break;
            m.unlock();
            goro::yield();
            m.lock();
          }
          m.unlock();
          done.send(true);
        });
        done.recv();
        done.recv();
        done.recv();
      },
      procs(2));
}

// Go: TestCondSignalStealing (src/sync/cond_test.go): a broadcast racing a
// new waiter must still wake the waiter that was already there. 1000
// iterations as Go (200 under a sanitizer). Unlike Go, each iteration waits
// for its goroutines, since its mutex and cond live in its frame.
TEST(CondTest, SignalStealing) {
  goro_test::watchdog wd(120s);
  goro::run(
      [] {
        const int iters = under_sanitizer ? 200 : 1000;
        for (int it = 0; it < iters; it++) {
          goro::mutex m;
          goro::cond c(m);
          goro::wait_group wg;
          wg.add(3);
          goro::chan<bool> ch;
          goro::go([&] {  // the first waiter
            m.lock();
            ch.send(true);
            c.wait();
            m.unlock();
            ch.send(true);
            wg.done();
          });
          ch.recv();
          m.lock();  // the waiter is inside wait(): it held m until then
          m.unlock();
          bool done = false;
          goro::go([&] {
            c.broadcast();
            wg.done();
          });
          goro::go([&] {  // the second waiter, racing the broadcast
            m.lock();
            while (!done) c.wait();
            m.unlock();
            wg.done();
          });
          ch.recv();  // the first waiter was woken
          m.lock();
          done = true;
          m.unlock();
          c.broadcast();  // releases the second waiter if it missed the first
          wg.wait();
        }
      },
      procs(2));
}

// Go: TestCondCopy (src/sync/cond_test.go). Go's copy checker panics when a
// copied Cond is used; in C++ copying and moving do not compile.
TEST(CondTest, Copy) {
  static_assert(!std::is_copy_constructible_v<goro::cond>);
  static_assert(!std::is_copy_assignable_v<goro::cond>);
  static_assert(!std::is_move_constructible_v<goro::cond>);
  static_assert(!std::is_move_assignable_v<goro::cond>);
  static_assert(!std::is_default_constructible_v<goro::cond>);      // needs its mutex
  static_assert(!std::is_convertible_v<goro::mutex&, goro::cond>);  // explicit
}

// A signal with nobody waiting is lost, and a wait that begins after a
// signal is not woken by it; a signal at procs 1 wakes exactly one waiter,
// the oldest, then the next signal the next. Goroutines are given every
// chance to run (yield until the others have run) before the check.
TEST(CondTest, EarlierSignalsDoNotWakeLaterWaiters) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        goro::mutex m;
        goro::cond c(m);
        c.signal();
        c.broadcast();
        goro::chan<int> awake(3);
        goro::wait_group wg;
        wg.add(3);
        for (int i = 0; i < 3; i++) {
          m.lock();  // the previous waiter is inside wait() once we get m
          goro::go([&, i] {
            m.lock();
            c.wait();
            awake.send(i);
            m.unlock();
            wg.done();
          });
          m.unlock();
          for (int k = 0; k < 10; k++) goro::yield();  // procs 1: let it run into wait()
        }
        for (int k = 0; k < 10; k++) goro::yield();
        EXPECT_FALSE(awake.try_recv()) << "a signal sent before the wait woke it";
        for (int i = 0; i < 3; i++) {
          c.signal();
          EXPECT_EQ(*awake.recv(), i);  // FIFO
          for (int k = 0; k < 10; k++) goro::yield();
          EXPECT_FALSE(awake.try_recv()) << "one signal woke two waiters";
        }
        wg.wait();
      },
      procs(1));
}

// Foreign threads and goroutines wait on and signal the same cond: a
// bounded queue (two conds over one mutex) with producers and consumers of
// both kinds. Every item is consumed exactly once; a lost wake-up hangs.
TEST(CondTest, ForeignThreadsAndGoroutinesMixed) {
  goro_test::watchdog wd(60s);
  constexpr int threads = 2, goroutines = 2;  // of each role
  const int per = under_sanitizer ? 300 : 3000;
  constexpr std::size_t cap = 4;
  goro::mutex m;
  goro::cond not_empty(m), not_full(m);
  std::deque<int> q;
  std::vector<long> got(2 * (threads + goroutines), 0);
  std::atomic<bool> running{false};
  std::atomic<int> threads_done{0};
  auto produce = [&](int who) {
    for (int i = 0; i < per; i++) {
      std::unique_lock lk(m);
      while (q.size() == cap) not_full.wait();
      q.push_back(who);
      not_empty.signal();
    }
  };
  auto consume = [&](int who) {
    for (int i = 0; i < per; i++) {
      std::unique_lock lk(m);
      while (q.empty()) not_empty.wait();
      q.pop_front();
      got[who]++;
      not_full.signal();
    }
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      while (!running) std::this_thread::yield();
      produce(t);
      threads_done++;
    });
    ts.emplace_back([&, t] {
      while (!running) std::this_thread::yield();
      consume(t);
      threads_done++;
    });
  }
  goro::run(
      [&] {
        running = true;
        goro::wait_group wg;
        wg.add(2 * goroutines);
        for (int g = 0; g < goroutines; g++) {
          goro::go([&, g] {
            produce(threads + g);
            wg.done();
          });
          goro::go([&, g] {
            consume(threads + g);
            wg.done();
          });
        }
        wg.wait();
        // Keep the runtime up until the threads are out of every goro call
        // (a signal of theirs may still be readying a goroutine).
        while (threads_done.load() < 2 * threads) goro::yield();
      },
      goro_test::threads_wake_goroutines(procs(2)));
  for (auto& t : ts) t.join();
  EXPECT_TRUE(q.empty());
  long total = 0;
  for (long g : got) total += g;
  EXPECT_EQ(total, static_cast<long>(threads + goroutines) * per);
  for (int c = 0; c < threads + goroutines; c++) EXPECT_EQ(got[c], per) << "consumer " << c;
}

// Signal order across kinds: goroutine and thread waiters alternate, and
// each signal wakes the oldest, whatever its kind (TestCondSignalGenerations
// with every other waiter a foreign thread).
TEST(CondTest, SignalGenerationsMixedWithThreads) {
  goro_test::watchdog wd(60s);
  constexpr int n = 20;
  goro::mutex m;
  goro::cond c(m);
  std::vector<int> order;
  std::vector<std::thread> ts;
  goro::run(
      [&] {
        goro::chan<bool> running(n);
        goro::chan<int> awake(n);
        goro::wait_group wg;
        wg.add(n / 2);
        for (int i = 0; i < n; i++) {
          auto waiter = [&, i] {
            m.lock();
            running.send(true);
            c.wait();
            awake.send(i);
            m.unlock();
          };
          if (i % 2) ts.emplace_back(waiter);
          else
            goro::go([&, waiter] {
              waiter();
              wg.done();
            });
          if (i > 0) order.push_back(*awake.recv());
          running.recv();
          m.lock();  // the waiter is inside wait() once we get m
          c.signal();
          m.unlock();
        }
        order.push_back(*awake.recv());
        wg.wait();
        for (auto& t : ts) t.join();
      },
      goro_test::threads_wake_goroutines(procs(2)));
  ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; i++) EXPECT_EQ(order[i], i);
}

// A cond (and its mutex) created before run and used in two runs and after
// them. The first run ends with a goroutine still waiting: it is abandoned
// and must be taken off the cond, or a later signal would choose it (a
// dead waiter) and the thread waiting after the run would never wake.
TEST(CondTest, OutlivesRun) {
  goro_test::watchdog wd(60s);
  goro::mutex m;
  goro::cond c(m);
  int state = 0;
  goro::run(
      [&] {
        goro::chan<bool> in;
        goro::go([&] {
          m.lock();
          in.send(true);
          c.wait();  // never woken: abandoned when main returns
          m.unlock();
        });
        in.recv();
        m.lock();  // the goroutine is inside wait()
        state = 1;
        m.unlock();
      },
      procs(2));
  // After the run: two foreign threads use the cond.
  {
    std::thread waiter([&] {
      std::unique_lock lk(m);
      state = 2;
      while (state != 3) c.wait();
    });
    for (;;) {
      std::unique_lock lk(m);
      if (state == 2) {
        state = 3;
        c.signal();  // the thread is the only waiter left
        break;
      }
      lk.unlock();
      std::this_thread::yield();
    }
    waiter.join();
  }
  // A second run: goroutines wait and are broadcast to.
  goro::run(
      [&] {
        goro::wait_group wg;
        constexpr int n = 4;
        wg.add(n);
        int in = 0;
        for (int i = 0; i < n; i++)
          goro::go([&] {
            std::unique_lock lk(m);
            in++;
            while (state != 4) c.wait();
            wg.done();
          });
        for (;;) {
          std::unique_lock lk(m);
          if (in == n) {
            state = 4;
            c.broadcast();
            break;
          }
          lk.unlock();
          goro::yield();
        }
        wg.wait();
      },
      procs(2));
  EXPECT_EQ(state, 4);
}

// Waiters ordered by wait()'s happens-before: data written under the mutex
// before signal() is seen by the woken waiter, and data the signaller
// wrote without the mutex before signal() too (signal happens before the
// wait it wakes returns).
TEST(CondTest, SignalHappensBeforeWakeWithoutTheMutex) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        constexpr int rounds = 200;
        for (int r = 0; r < rounds; r++) {
          goro::mutex m;
          goro::cond c(m);
          int plain = 0;  // written by the signaller outside the mutex
          bool waiting = false;
          goro::chan<bool> done;
          goro::go([&] {
            m.lock();
            waiting = true;
            c.wait();
            EXPECT_EQ(plain, r + 1);
            m.unlock();
            done.send(true);
          });
          for (;;) {
            std::unique_lock lk(m);
            if (waiting) break;
            lk.unlock();
            goro::yield();
          }
          plain = r + 1;
          c.signal();  // without the mutex
          done.recv();
        }
      },
      procs(2));
}

// Waiting with nobody left to signal is a deadlock Go reports as
// "all goroutines are asleep"; checkdead names the cond's wait reason.
TEST(CondTest, WaitNobodySignalsIsADeadlock) {
  goro_test::watchdog wd(60s);
  goro::mutex m;  // outlive the run: the abandoned waiters are taken off
  goro::cond c(m);
  try {
    goro::run(
        [&] {
          for (int i = 0; i < 2; i++)
            goro::go([&] {
              m.lock();
              c.wait();
            });
          m.lock();
          c.wait();
        },
        procs(2));
    FAIL() << "run returned; want goro::deadlock";
  } catch (const goro::deadlock& e) {
    EXPECT_EQ(e.parked.at("sync.Cond.Wait"), 3u);
  }
  // All three were taken off the cond: a signal now wakes nobody, and a
  // thread's wait is woken by the next one.
  c.signal();
  bool flag = false;
  std::thread t([&] {
    std::unique_lock lk(m);
    flag = true;
    while (flag) c.wait();
  });
  for (;;) {
    std::unique_lock lk(m);
    if (flag) {
      flag = false;
      c.signal();
      break;
    }
    lk.unlock();
    std::this_thread::yield();
  }
  t.join();
}

}  // namespace
