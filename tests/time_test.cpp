// goro::after (Go's time.After) on the per-P timers: alone, as a select
// timeout, from a foreign thread, and left pending when the runtime ends.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"
#include "time/timer.hpp"
#include "watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

using goro_test::procs;

TEST(TimeTest, AfterDeliversOnceAndNeverEarly) {
  goro::run(
      [] {
        auto t0 = clock_type::now();
        auto ch = goro::after(15ms);
        EXPECT_EQ(ch.capacity(), 1u);
        std::optional<clock_type::time_point> at = ch.recv();
        ASSERT_TRUE(at.has_value());
        EXPECT_GE(*at - t0, 15ms) << "the timer fired early";
        EXPECT_GE(clock_type::now() - t0, 15ms);
        // Exactly one value: nothing more arrives.
        goro::sleep_for(5ms);
        EXPECT_FALSE(ch.try_recv().has_value());
      },
      procs(2));
}

TEST(TimeTest, AfterIsASelectTimeout) {
  goro::run(
      [] {
        goro::chan<int> never;  // nobody sends
        auto t0 = clock_type::now();
        int got = -1;
        std::size_t which = goro::select(
            goro::on_recv(never, [&](std::optional<int> v) { got = v.value_or(-2); }),
            goro::on_recv(goro::after(20ms)));
        EXPECT_EQ(which, 1u) << "the timeout case should have run";
        EXPECT_EQ(got, -1);
        EXPECT_GE(clock_type::now() - t0, 20ms);
        // And a ready case beats a later timeout.
        goro::chan<int> ready(1);
        ready.send(7);
        which = goro::select(goro::on_recv(ready, [&](std::optional<int> v) { got = *v; }),
                             goro::on_recv(goro::after(10s)));
        EXPECT_EQ(which, 0u);
        EXPECT_EQ(got, 7);
      },
      procs(1));
}

TEST(TimeTest, ManyAftersFireInDeadlineOrder) {
  goro::run(
      [] {
        constexpr int n = 10;
        std::vector<goro::chan<clock_type::time_point>> chans;
        for (int i = n - 1; i >= 0; i--) chans.push_back(goro::after((i + 1) * 15ms));
        // chans[k] has deadline (n-k)*15ms: later indexes fire first.
        std::vector<clock_type::time_point> at(n);
        for (int k = 0; k < n; k++) at[k] = *chans[k].recv();
        for (int k = 0; k + 1 < n; k++) EXPECT_GT(at[k], at[k + 1]) << k;
      },
      procs(2));
}

TEST(TimeTest, AfterFromAForeignThread) {
  goro::run(
      [] {
        std::optional<clock_type::time_point> got;
        auto t0 = clock_type::now();
        std::thread t([&] { got = goro::after(10ms).recv(); });  // blocks the thread
        t.join();
        ASSERT_TRUE(got.has_value());
        EXPECT_GE(*got - t0, 10ms);
      },
      procs(2));
  EXPECT_THROW(goro::after(1ms), std::logic_error);  // no runtime now
}

TEST(TimeTest, PendingAftersAreFreedWithTheRuntime) {
  // Timers nobody waits for, still pending when main returns: the runtime
  // frees them when it goes (ASan's leak check would report otherwise).
  for (int i = 0; i < 5; i++)
    goro::run(
        [] {
          for (int k = 0; k < 100; k++) (void)goro::after(1h);
        },
        procs(2));
}

TEST(TimeTest, MainMayReturnWhileGoroutinesSleepOnGuardedStacks) {
  // The sleepers' timers live on their stacks. Tearing the runtime down
  // must not read them after the (guarded, hence unmapped) stacks are gone:
  // this crashed with SIGSEGV when ~runtime freed stacks before timers.
  for (bool guard : {true, false}) {
    goro::options o = procs(2);
    o.stack_guard = guard;
    goro::run(
        [] {
          for (int k = 0; k < 50; k++) goro::go([] { goro::sleep_for(1h); });
          goro::sleep_for(5ms);  // let them park
        },
        o);
  }
}

// Issue 10: durations and deadlines at the extremes saturate. `now + d`
// used to wrap, so the longest sleep returned at once.
TEST(TimeTest, SleepForTheLongestDurationNeverReturns) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  static std::atomic<int> woke{0};
  woke = 0;
  goro::run(
      [] {
        goro::go([] {
          goro::sleep_for(std::chrono::nanoseconds::max());
          woke++;
        });
        goro::go([] {
          // seconds::max() is far beyond what nanoseconds hold: the
          // conversion must saturate, not wrap.
          goro::sleep_for(std::chrono::seconds::max());
          woke++;
        });
        goro::go([] {
          goro::sleep_until(clock_type::time_point::max());
          woke++;
        });
        goro::go([] {
          goro::sleep_until(std::chrono::time_point<clock_type, std::chrono::hours>::max());
          woke++;
        });
        goro::sleep_for(50ms);
        EXPECT_EQ(woke.load(), 0) << "a sleep of the longest duration returned";
      },
      procs(2));
  EXPECT_EQ(woke.load(), 0);
}

TEST(TimeTest, NonPositiveAndPastSleepsReturnAtOnce) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::run(
      [] {
        auto t0 = clock_type::now();
        goro::sleep_for(0ns);
        goro::sleep_for(-1s);
        goro::sleep_for(std::chrono::nanoseconds::min());
        goro::sleep_for(std::chrono::seconds::min());
        goro::sleep_until(clock_type::time_point::min());
        goro::sleep_until(t0 - 1h);
        goro::sleep_until(std::chrono::time_point<clock_type, std::chrono::hours>::min());
        EXPECT_LT(clock_type::now() - t0, 5s);
      },
      procs(1));
}

TEST(TimeTest, AfterTheLongestDurationDoesNotFire) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::run(
      [] {
        auto never = goro::after(std::chrono::nanoseconds::max());
        auto never2 = goro::after(std::chrono::hours::max());
        goro::sleep_for(50ms);
        EXPECT_FALSE(never.try_recv().has_value()) << "after(nanoseconds::max()) fired";
        EXPECT_FALSE(never2.try_recv().has_value()) << "after(hours::max()) fired";
        // A negative duration fires at once (Go: time.After(-1s)).
        auto t0 = clock_type::now();
        auto past = goro::after(-1s);
        EXPECT_TRUE(past.recv().has_value());
        auto past2 = goro::after(std::chrono::nanoseconds::min());
        EXPECT_TRUE(past2.recv().has_value());
        EXPECT_LT(clock_type::now() - t0, 5s);
      },
      procs(2));
}

// Issue 11: closing the channel after() returned made the timer's send
// throw closed_channel inside the scheduler (std::terminate).
TEST(TimeTest, ClosingTheChannelOfAfterIsHarmless) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  int got = goro::run(
      [] {
        auto ch = goro::after(1ms);
        ch.close();
        auto ch2 = goro::after(2ms);
        goro::sleep_for(10ms);  // both timers fire meanwhile
        ch2.close();            // after the value arrived: still buffered, then closed
        EXPECT_TRUE(ch2.recv().has_value());
        EXPECT_FALSE(ch.recv().has_value());  // closed and empty
        return 7;
      },
      procs(1));
  EXPECT_EQ(got, 7);
}

// A goroutine sleeping forever holds a timer at the end of time: the one M
// left with nothing to do blocks in epoll for (INT64_MAX - now) ns, a
// timeout the kernel must accept, and, as in Go (checkdead returns while
// any P has a timer), the others are not reported deadlocked meanwhile.
// Here main is woken by a foreign thread.
TEST(TimeTest, ASleepForeverIsAPendingTimerNotADeadlock) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::chan<int> c(0);
  int got = goro::run(
      [c]() mutable {
        goro::go([] { goro::sleep_for(std::chrono::nanoseconds::max()); });
        goro::sleep_for(5ms);  // let it park
        std::thread t([c]() mutable {
          std::this_thread::sleep_for(50ms);
          c.send(7);
        });
        int v = *c.recv();
        goro::blocking([&] { t.join(); });
        return v;
      },
      procs(1));
  EXPECT_EQ(got, 7);
}

// timer_mod / timer_del (the socket deadline timers' in-place changes) keep
// the 4-ary heap ordered and every timer's index right: random pushes,
// modifications and deletions, then every pending timer fires in order.
std::vector<std::int64_t> heap_fired;
void record_fire(goro::detail::timer* t) { heap_fired.push_back(t->when); }

TEST(TimeTest, TimerHeapStaysOrderedUnderModifyAndDelete) {
  using namespace goro::detail;
  std::mt19937 rng(12345);
  for (int round = 0; round < 500; round++) {
    timer_heap h;
    std::vector<timer> ts(1 + rng() % 40);
    for (auto& t : ts) t.fire = record_fire;
    std::vector<bool> pending(ts.size());
    for (int op = 0; op < 200; op++) {
      std::size_t i = rng() % ts.size();
      switch (rng() % 3) {
        case 0:
          if (pending[i]) break;
          ts[i].when = static_cast<std::int64_t>(1 + rng() % 1000);
          h.lock.lock();
          timer_push_locked(h, &ts[i]);
          h.lock.unlock();
          pending[i] = true;
          break;
        case 1:
          timer_mod(&ts[i], static_cast<std::int64_t>(1 + rng() % 1000), h);
          pending[i] = true;
          break;
        default:
          ASSERT_EQ(timer_del(&ts[i]), static_cast<bool>(pending[i])) << "round " << round;
          pending[i] = false;
      }
      ASSERT_EQ(h.count.load(), std::count(pending.begin(), pending.end(), true));
    }
    std::vector<std::int64_t> want;
    for (std::size_t i = 0; i < ts.size(); i++)
      if (pending[i]) want.push_back(ts[i].when);
    std::sort(want.begin(), want.end());
    heap_fired.clear();
    run_timers(h, 2000);
    ASSERT_EQ(heap_fired, want) << "round " << round;
    for (auto& t : ts) EXPECT_EQ(t.heap.load(), nullptr);
  }
}

}  // namespace
