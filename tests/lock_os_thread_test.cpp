// lock_os_thread / unlock_os_thread (Go's runtime.LockOSThread and
// UnlockOSThread): a locked goroutine runs only on its thread, its thread
// runs no other goroutine, nesting is counted, and a goroutine that exits
// locked takes its thread with it. Ported from Go's runtime tests
// (src/runtime/proc_test.go, src/runtime/testdata/testprog/lockosthread.go)
// at -short sizes, plus the scheduler paths a locked goroutine goes
// through: parks, yields, blocking calls, sleeps, preemption, gomaxprocs,
// teardown and deadlock detection.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/proc.hpp"  // lock_os_count (Go's export_test LockOSCounts)
#include "test_options.hpp"
#include "watchdog.hpp"

using namespace std::chrono_literals;
using goro_test::procs;
using goro_test::watchdog;
using ::testing::HasSubstr;

namespace {

// Out of line: the thread id of the thread running us now (a goroutine may
// have moved since the last call, so nothing may be cached across calls).
__attribute__((noinline)) int gettid_now() { return static_cast<int>(syscall(SYS_gettid)); }

bool tid_exists(int tid) {
  struct stat st;
  return ::stat(("/proc/self/task/" + std::to_string(tid)).c_str(), &st) == 0;
}

constexpr int scaled(int release, int sanitized) {
  return goro_test::under_sanitizer ? sanitized : release;
}

class LockOSThreadProcs : public ::testing::TestWithParam<unsigned> {};

INSTANTIATE_TEST_SUITE_P(Procs, LockOSThreadProcs, ::testing::Values(1u, 2u),
                         [](const auto& info) { return "procs" + std::to_string(info.param); });

// Go: TestLockOSThreadNesting (src/runtime/proc_test.go)
TEST(LockOSThreadTest, Nesting) {
  watchdog wd(30s);
  goro::run(
      [] {
        goro::chan<bool> done(0);
        goro::go([&] {
          EXPECT_EQ(goro::detail::lock_os_count(), 0u);
          goro::lock_os_thread();
          goro::lock_os_thread();
          goro::unlock_os_thread();
          EXPECT_EQ(goro::detail::lock_os_count(), 1u);
          goro::unlock_os_thread();
          EXPECT_EQ(goro::detail::lock_os_count(), 0u);
          // Go: UnlockOSThread with no lock outstanding is a no-op.
          goro::unlock_os_thread();
          EXPECT_EQ(goro::detail::lock_os_count(), 0u);
          done.send(true);
        });
        done.recv();
      },
      procs(2));
}

// Go: TestLockOSThreadExit, LockOSThreadMain (src/runtime/testdata/
// testprog/lockosthread.go): at GOMAXPROCS=1 a goroutine locks, exits
// locked; its thread is gone, and main keeps running on another thread.
TEST(LockOSThreadTest, ExitLockedRetiresTheThreadAtOneP) {
  watchdog wd(30s);
  goro::run(
      [] {
        goro::chan<int> ready(1);
        goro::go([&] {
          goro::lock_os_thread();
          ready.send(gettid_now());
          // Exits locked: the thread must exit with it.
        });
        int sub = *ready.recv();
        bool gone = false;
        for (int i = 0; i < 1000 && !gone; i++) {
          goro::sleep_for(1ms);
          EXPECT_NE(gettid_now(), sub) << "main migrated to the retired thread";
          gone = !tid_exists(sub);
        }
        EXPECT_TRUE(gone) << "thread " << sub << " of a goroutine that exited locked still runs";
      },
      procs(1));
}

// Go: TestLockOSThreadExit, LockOSThreadAlt: main, itself locked, starts a
// goroutine that locks and exits locked; no goroutine runs on that thread
// again and the thread exits.
TEST(LockOSThreadTest, ExitLockedThreadIsNeverReused) {
  watchdog wd(30s);
  goro::run(
      [] {
        goro::lock_os_thread();
        goro::chan<int> ready(1);
        goro::go([&] {
          goro::lock_os_thread();
          ready.send(gettid_now());
        });
        int sub = *ready.recv();
        goro::unlock_os_thread();
        // Other goroutines, started after the exit, never see its thread.
        std::atomic<int> on_sub{0};
        goro::wait_group wg;
        for (int i = 0; i < 50; i++) {
          wg.add(1);
          goro::go([&] {
            for (int k = 0; k < 5; k++) {
              if (gettid_now() == sub) on_sub++;
              goro::yield();
            }
            wg.done();
          });
        }
        wg.wait();
        EXPECT_EQ(on_sub.load(), 0);
        bool gone = false;
        for (int i = 0; i < 1000 && !gone; i++) {
          goro::sleep_for(1ms);
          EXPECT_NE(gettid_now(), sub) << "locked thread reused";
          gone = !tid_exists(sub);
        }
        EXPECT_TRUE(gone) << "sub thread " << sub << " still running";
      },
      procs(2));
}

thread_local int tainted = 0;

__attribute__((noinline)) void taint_thread() {
  tainted = 1;
  pthread_setname_np(pthread_self(), "goro-tainted");
}

__attribute__((noinline)) bool thread_looks_tainted() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return tainted != 0 || std::strcmp(name, "goro-tainted") == 0;
}

// Go: TestLockOSThreadAvoidsStatePropagation (LockOSThreadAvoidsState-
// Propagation): a locked goroutine changes its thread's state (Go unshares
// the fs namespace and chdirs; here a thread-local and the thread's name),
// exits locked; no goroutine afterwards, locked (as in Go) or not, runs on
// a thread with that state.
TEST_P(LockOSThreadProcs, AvoidsStatePropagation) {
  watchdog wd(30s);
  goro::run(
      [] {
        goro::lock_os_thread();
        goro::chan<bool> ready(1);
        goro::go([&] {
          goro::lock_os_thread();
          taint_thread();
          ready.send(true);
          // Exits locked: the tainted thread must die.
        });
        ready.recv();
        std::atomic<int> saw{0};
        goro::chan<bool> done(0);
        goro::go([&] {
          goro::lock_os_thread();
          if (thread_looks_tainted()) saw++;
          done.recv();
          goro::unlock_os_thread();
        });
        done.send(true);
        goro::wait_group wg;
        for (int i = 0; i < 40; i++) {
          wg.add(1);
          goro::go([&] {
            for (int k = 0; k < 5; k++) {
              if (thread_looks_tainted()) saw++;
              goro::yield();
            }
            wg.done();
          });
        }
        wg.wait();
        EXPECT_EQ(saw.load(), 0) << "state of a thread that should have died was seen";
      },
      procs(GetParam()));
}

// Go: TestYieldLocked (src/runtime/proc_test.go)
TEST_P(LockOSThreadProcs, YieldLocked) {
  watchdog wd(30s);
  goro::run(
      [] {
        goro::chan<bool> c(0);
        goro::go([&] {
          goro::lock_os_thread();
          int tid = gettid_now();
          for (int i = 0; i < 10; i++) {
            goro::yield();
            goro::sleep_for(1ms);
            EXPECT_EQ(gettid_now(), tid);
          }
          c.send(true);
          // unlock_os_thread deliberately omitted (as in Go)
        });
        c.recv();
      },
      procs(GetParam()));
}

// Go: TestYieldLockedProgress (src/runtime/proc_test.go): a locked
// goroutine yielding in a loop does not keep others from running.
TEST_P(LockOSThreadProcs, YieldLockedProgress) {
  watchdog wd(30s);
  goro::run(
      [] {
        goro::chan<bool> c(0), cack(0);
        goro::go([&] {
          goro::lock_os_thread();
          for (;;) {
            bool stop = false;
            goro::select(goro::on_recv(c, [&](std::optional<bool>) { stop = true; }),
                         goro::on_default([] { goro::yield(); }));
            if (stop) break;
          }
          cack.send(true);
        });
        goro::sleep_for(10ms);
        c.send(true);
        cack.recv();
      },
      procs(GetParam()));
}

// Go: TestBlockLocked (src/runtime/proc_test.go)
TEST_P(LockOSThreadProcs, BlockLocked) {
  watchdog wd(30s);
  goro::run(
      [] {
        constexpr int n = 10;
        goro::chan<bool> c(0);
        goro::go([&] {
          goro::lock_os_thread();
          for (int i = 0; i < n; i++) c.send(true);
          goro::unlock_os_thread();
        });
        for (int i = 0; i < n; i++) c.recv();
      },
      procs(GetParam()));
}

// A locked goroutine parks and is readied many times (ping-pong with an
// unlocked one on unbuffered channels): it always resumes on its thread, and
// while it is locked no other goroutine ever runs there (workers record
// their thread at every step).
TEST_P(LockOSThreadProcs, ParkedLockedGoroutineResumesOnItsThreadAlone) {
  watchdog wd(60s);
  goro::run(
      [] {
        const int rounds = scaled(300, 60);
        goro::chan<int> ping(0), pong(0), tidc(1);
        goro::chan<bool> stop(0);
        std::atomic<int> moved{0};
        goro::go([&] {
          goro::lock_os_thread();
          int tid = gettid_now();
          tidc.send(tid);
          for (int i = 0; i < rounds; i++) {
            ping.recv();
            if (gettid_now() != tid) moved++;
            pong.send(i);
            if (gettid_now() != tid) moved++;
            if (i % 16 == 0) {
              goro::yield();
              if (gettid_now() != tid) moved++;
            }
          }
          stop.recv();  // still locked while the workers run
          goro::unlock_os_thread();
        });
        int locked_tid = *tidc.recv();
        std::atomic<bool> done{false};
        std::atomic<int> on_locked{0};
        goro::wait_group wg;
        goro::chan<int> work(0);
        for (int w = 0; w < 4; w++) {
          wg.add(1);
          goro::go([&] {
            while (!done.load()) {
              if (gettid_now() == locked_tid) on_locked++;
              goro::yield();
              if (gettid_now() == locked_tid) on_locked++;
              goro::select(goro::on_recv(work, [](std::optional<int>) {}), goro::on_default([] {}));
            }
            wg.done();
          });
        }
        for (int i = 0; i < rounds; i++) {
          if (gettid_now() == locked_tid) on_locked++;
          ping.send(i);
          pong.recv();
        }
        done.store(true);
        wg.wait();
        stop.send(true);
        EXPECT_EQ(moved.load(), 0) << "the locked goroutine ran on another thread";
        EXPECT_EQ(on_locked.load(), 0) << "another goroutine ran on the locked thread";
      },
      procs(GetParam()));
}

// Nesting: lock, lock, unlock leaves it locked (it still resumes on its
// thread); the last unlock frees the thread for other goroutines: at one P,
// a yield then runs the next goroutine on this very thread (the G-side
// switch), which no goroutine did while it was locked.
TEST(LockOSThreadTest, NestedLockHoldsUntilTheLastUnlock) {
  watchdog wd(30s);
  goro::run(
      [] {
        goro::lock_os_thread();
        goro::lock_os_thread();
        goro::unlock_os_thread();
        int tid = gettid_now();
        std::atomic<int> other_tid{0};
        goro::chan<bool> c(0);
        goro::go([&] {
          for (int i = 0; i < 5; i++) {
            other_tid = gettid_now();
            c.send(true);
          }
        });
        for (int i = 0; i < 5; i++) {
          c.recv();
          EXPECT_EQ(gettid_now(), tid);
          EXPECT_NE(other_tid.load(), tid) << "a goroutine ran on the locked thread";
        }
        goro::unlock_os_thread();
        EXPECT_EQ(goro::detail::lock_os_count(), 0u);
        std::atomic<int> ran_on{0};
        goro::chan<bool> d(1);
        goro::go([&] {
          ran_on = gettid_now();
          d.send(true);
        });
        goro::yield();  // runnext: the new goroutine runs here, on our thread
        d.recv();
        EXPECT_EQ(ran_on.load(), tid) << "the thread still refuses other goroutines";
      },
      procs(1));
}

// A locked goroutine in blocking calls (short, long: handed off at once)
// and sleeps stays on its thread.
TEST_P(LockOSThreadProcs, BlockingCallsAndSleepsKeepTheThread) {
  watchdog wd(30s);
  goro::run(
      [] {
        goro::chan<bool> done(0);
        std::atomic<int> moved{0};
        goro::go([&] {
          goro::lock_os_thread();
          int tid = gettid_now();
          for (int i = 0; i < 5; i++) {
            goro::blocking([&] {
              if (gettid_now() != tid) moved++;
              ::usleep(2000);  // long enough for sysmon to retake the P now and then
            });
            if (gettid_now() != tid) moved++;
            goro::blocking_long([] { ::usleep(200); });
            if (gettid_now() != tid) moved++;
            goro::sleep_for(1ms);
            if (gettid_now() != tid) moved++;
          }
          done.send(true);
        });
        // Keep the Ps busy so that exitsyscall's slow path happens too.
        std::atomic<bool> stop{false};
        goro::wait_group wg;
        for (int w = 0; w < 2; w++) {
          wg.add(1);
          goro::go([&] {
            while (!stop.load()) goro::yield();
            wg.done();
          });
        }
        done.recv();
        stop = true;
        wg.wait();
        EXPECT_EQ(moved.load(), 0);
      },
      procs(GetParam()));
}

// Locking inside blocking() locks the thread the call runs on.
TEST(LockOSThreadTest, LockInsideBlockingLocksTheCallsThread) {
  watchdog wd(30s);
  goro::run(
      [] {
        int tid = 0;
        goro::blocking([&] {
          goro::lock_os_thread();
          tid = gettid_now();
        });
        EXPECT_EQ(gettid_now(), tid);
        EXPECT_EQ(goro::detail::lock_os_count(), 1u);
        goro::chan<bool> c(0);
        goro::go([&] { c.send(true); });
        c.recv();
        EXPECT_EQ(gettid_now(), tid);
        goro::unlock_os_thread();
      },
      procs(2));
}

// A locked goroutine that never parks is preempted (at preempt_point, as
// sysmon asks once its slice is over) and goes through the hand-off: at one
// P, main (whose sleep ends meanwhile) can run only on another thread, with
// the P the locked M handed off; the locked goroutine comes back to its
// thread.
TEST(LockOSThreadTest, PreemptedLockedGoroutineComesBackToItsThread) {
  watchdog wd(30s);
  goro::run(
      [] {
        std::atomic<bool> flag{false};
        std::atomic<int> moved{0}, spins{0}, main_tid{0};
        goro::chan<int> done(0);
        goro::go([&] {
          goro::lock_os_thread();
          int tid = gettid_now();
          while (!flag.load(std::memory_order_relaxed)) {
            goro::preempt_point();
            if (gettid_now() != tid) moved++;
            spins++;
          }
          done.send(tid);
        });
        goro::sleep_for(2ms);
        main_tid = gettid_now();
        flag = true;
        int tid = *done.recv();
        EXPECT_EQ(moved.load(), 0);
        EXPECT_GT(spins.load(), 0);
        EXPECT_NE(main_tid.load(), tid) << "main ran on the locked thread";
      },
      procs(1));
}

// gomaxprocs changes (stop the world) while a locked goroutine is parked,
// and while it runs: it resumes on its thread.
TEST(LockOSThreadTest, GomaxprocsChangesWhileLockedGoroutineParked) {
  watchdog wd(30s);
  goro::run(
      [] {
        goro::chan<int> c(0), back(0);
        std::atomic<int> moved{0};
        goro::go([&] {
          goro::lock_os_thread();
          int tid = gettid_now();
          for (int i = 0; i < 4; i++) {
            c.recv();
            if (gettid_now() != tid) moved++;
            if (i == 2) goro::gomaxprocs(1);  // the stopper is locked itself
            back.send(i);
          }
        });
        for (unsigned n : {1u, 3u, 2u, 4u}) {
          goro::sleep_for(1ms);  // let it park
          goro::gomaxprocs(n);
          c.send(1);
          back.recv();
        }
        EXPECT_EQ(moved.load(), 0);
      },
      procs(2));
}

goro::chan<int> parked_forever(0);

// run() returns while a locked goroutine is parked (its M asleep in
// stoplockedm): no hang, no crash; and a second run works.
TEST_P(LockOSThreadProcs, RunReturnsWhileALockedGoroutineIsParked) {
  watchdog wd(30s);
  for (int round = 0; round < 2; round++) {
    goro::run(
        [] {
          goro::chan<bool> started(1);
          goro::go([&] {
            goro::lock_os_thread();
            started.send(true);
            parked_forever.recv();  // never sent: abandoned at teardown
          });
          goro::go([] {
            goro::lock_os_thread();
            goro::sleep_for(1h);  // a locked sleeper too
          });
          started.recv();
          goro::sleep_for(2ms);
        },
        procs(GetParam()));
  }
}

goro::chan<int> never(0);

// Deadlock detection counts an M asleep for its locked goroutine as not
// running (Go's checkdead with nmidlelocked): a deadlock involving locked
// goroutines is still reported.
TEST_P(LockOSThreadProcs, DeadlockInvolvingLockedGoroutinesIsReported) {
  watchdog wd(30s);
  try {
    goro::run(
        [] {
          goro::lock_os_thread();
          goro::go([] {
            goro::lock_os_thread();
            never.send(1);
          });
          goro::yield();
          never.recv();
          never.recv();  // the second receive has no sender
        },
        procs(GetParam()));
    FAIL() << "run returned; want goro::deadlock";
  } catch (const goro::deadlock& e) {
    EXPECT_THAT(e.what(), HasSubstr("all goroutines are asleep - deadlock!"));
    EXPECT_EQ(e.parked.at("chan receive"), 1u);
  }
}

// Outside a goroutine both calls do nothing (a foreign thread already is its
// own thread).
TEST(LockOSThreadTest, OutsideAGoroutineIsANoOp) {
  goro::lock_os_thread();
  goro::unlock_os_thread();
  goro::unlock_os_thread();
  EXPECT_EQ(goro::detail::lock_os_count(), 0u);
}

// Main exiting locked ends the run normally.
TEST(LockOSThreadTest, MainExitingLockedEndsTheRun) {
  watchdog wd(30s);
  int r = goro::run(
      [] {
        goro::lock_os_thread();
        goro::chan<int> c(0);
        goro::go([&] { c.send(7); });
        return *c.recv();
      },
      procs(2));
  EXPECT_EQ(r, 7);
}

}  // namespace
