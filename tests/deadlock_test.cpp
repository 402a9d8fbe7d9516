// Deadlock detection (Go's checkdead): run() throws goro::deadlock when every
// goroutine is asleep with nothing that could wake one, with the count of
// goroutines parked on each kind of object, and does not when a timer, a
// blocking call or the network could still wake one.
//
// A broken detector hangs instead of throwing: each test runs under a
// watchdog that ends the process after a bound no working detector comes
// near, so a hang fails fast instead of waiting for ctest's timeout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "goro/goro.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

using namespace std::chrono_literals;
using goro_test::watchdog;
using ::testing::HasSubstr;

namespace {

using goro_test::procs;

class DeadlockProcs : public ::testing::TestWithParam<unsigned> {};

// The objects goroutines park on live outside run() in these tests: a
// deadlocked run abandons every goroutine's frame (as Go's exit does), so
// what a frame owned would never be freed (and LeakSanitizer says so).

TEST_P(DeadlockProcs, MainReceivingFromAChannelNobodySendsOnIsReported) {
  watchdog wd(30s);
  goro::chan<int> c(0);
  try {
    goro::run([&] { c.recv(); }, procs(GetParam()));
    FAIL() << "run returned; want goro::deadlock";
  } catch (const goro::deadlock& e) {
    EXPECT_THAT(e.what(), HasSubstr("all goroutines are asleep - deadlock!"));
    EXPECT_THAT(e.what(), HasSubstr("1 [chan receive]"));
    ASSERT_EQ(e.parked.size(), 1u);
    EXPECT_EQ(e.parked.at("chan receive"), 1u);
  }
}

TEST_P(DeadlockProcs, CountsTheGoroutinesParkedOnEachKindOfObject) {
  watchdog wd(30s);
  goro::chan<int> never(0), a(0), b(0), nil;
  { goro::chan<int> take = std::move(nil); }  // nil is now a nil channel
  goro::mutex mu;
  goro::wait_group wg;
  try {
    goro::run(
        // Captures nil, moved-from: a nil channel (goro/chan.hpp) on purpose.
        // NOLINTNEXTLINE(bugprone-use-after-move)
        [&] {
          mu.lock();  // held by main forever
          wg.add(1);  // never done
          for (int i = 0; i < 3; i++) goro::go([&] { mu.lock(); });
          for (int i = 0; i < 2; i++) goro::go([&] { wg.wait(); });
          for (int i = 0; i < 4; i++) goro::go([&] { never.send(1); });
          goro::go([&] { nil.recv(); });  // forever
          // Main selects on two channels nobody uses.
          goro::select(goro::on_recv(a, [](std::optional<int>) {}),
                       goro::on_recv(b, [](std::optional<int>) {}));
        },
        procs(GetParam()));
    FAIL() << "run returned; want goro::deadlock";
  } catch (const goro::deadlock& e) {
    EXPECT_EQ(e.parked.at("sync.Mutex.Lock"), 3u);
    EXPECT_EQ(e.parked.at("sync.WaitGroup.Wait"), 2u);
    EXPECT_EQ(e.parked.at("chan send"), 4u);
    EXPECT_EQ(e.parked.at("chan receive (nil chan)"), 1u);
    EXPECT_EQ(e.parked.at("select"), 1u);
    EXPECT_EQ(e.parked.size(), 5u);
    EXPECT_THAT(e.what(), HasSubstr("11 goroutines parked"));
    EXPECT_THAT(e.what(), HasSubstr("3 [sync.Mutex.Lock]"));
  }
}

TEST_P(DeadlockProcs, APendingTimerIsNotADeadlock) {
  watchdog wd(30s);
  // Everyone is asleep for 50 ms, but the sleeper's timer will wake it.
  int got = goro::run(
      [] {
        goro::chan<int> c(0);
        goro::go([c]() mutable {
          goro::sleep_for(50ms);
          c.send(7);
        });
        return *c.recv();
      },
      procs(GetParam()));
  EXPECT_EQ(got, 7);
}

TEST_P(DeadlockProcs, AGoroutineInABlockingCallIsNotADeadlock) {
  watchdog wd(30s);
  int got = goro::run(
      [] {
        goro::chan<int> c(0);
        goro::go([c]() mutable {
          goro::blocking([] { std::this_thread::sleep_for(50ms); });
          c.send(8);
        });
        return *c.recv();
      },
      procs(GetParam()));
  EXPECT_EQ(got, 8);
}

TEST_P(DeadlockProcs, AGoroutineWaitingForTheNetworkIsNotADeadlock) {
  watchdog wd(30s);
  // The acceptor waits in the netpoller; main waits on it; the only thing
  // that can wake anyone is a connection, from a thread the runtime cannot
  // see but whose socket the netpoller watches.
  std::thread dialer;
  int got = goro::run(
      [&] {
        auto ln = goro::net::tcp_listener::listen("127.0.0.1", 0);
        goro::chan<int> c(0);
        goro::go([ln, c]() mutable {
          goro::net::tcp_conn conn = ln.accept();
          char b = 0;
          conn.read(&b, 1);
          c.send(b);
        });
        std::uint16_t port = ln.port();
        dialer = std::thread([port] {
          std::this_thread::sleep_for(50ms);
          goro::net::tcp_conn cl = goro::net::tcp_conn::dial("127.0.0.1", port);
          cl.write("\x09", 1);
        });
        return *c.recv();
      },
      procs(GetParam()));
  dialer.join();
  EXPECT_EQ(got, 9);
}

TEST_P(DeadlockProcs, TheRuntimeRunsAgainAfterADeadlock) {
  watchdog wd(30s);
  goro::chan<int> c(0);
  EXPECT_THROW(goro::run([&] { c.recv(); }, procs(GetParam())), goro::deadlock);
  EXPECT_EQ(goro::run([] { return 5; }, procs(GetParam())), 5);
}

// Foreign threads under the default options (detect_deadlock automatic):
// a goroutine waiting for a plain std::thread is not reported, whatever the
// thread uses to wake it. Each thread pauses first, so that every goroutine
// is asleep and every M idle well before it acts: with the old rule (report
// whenever the runtime is asleep) each of these run() calls threw
// goro::deadlock.

// Runs main under the default options. A goro::deadlock is this test's
// failure, reported with its message (not an escape that would destroy the
// test's still-running threads); nullopt then, and the caller lets its
// thread finish.
template <class F>
std::optional<int> run_correct_program(F main, unsigned n) {
  try {
    return goro::run(main, procs(n));
  } catch (const goro::deadlock& e) {
    ADD_FAILURE() << "a correct program was reported as deadlocked: " << e.what();
    return std::nullopt;
  }
}

TEST_P(DeadlockProcs, AStdThreadFeedingAChannelAfterAPauseIsNotADeadlock) {
  watchdog wd(30s);
  goro::chan<int> c(0);
  std::thread feeder;
  std::optional<int> got = run_correct_program(
      [&] {
        feeder = std::thread([c]() mutable {
          std::this_thread::sleep_for(50ms);
          c.send(3);
        });
        return *c.recv();
      },
      GetParam());
  if (!got) c.recv();  // take the value from here, so the feeder ends
  feeder.join();
  EXPECT_EQ(got, 3);
}

TEST_P(DeadlockProcs, AThreadStartedBeforeRunThatActsLaterIsNotADeadlock) {
  watchdog wd(30s);
  // The thread exists before the runtime and touches nothing of it until it
  // sends: only its existence tells the runtime that it may.
  goro::chan<int> c(0);
  std::thread late([c]() mutable {
    std::this_thread::sleep_for(100ms);
    c.send(4);
  });
  std::optional<int> got = run_correct_program([&] { return *c.recv(); }, GetParam());
  if (!got) c.recv();
  late.join();
  EXPECT_EQ(got, 4);
}

TEST_P(DeadlockProcs, AForeignThreadUnlockingAMutexIsNotADeadlock) {
  watchdog wd(30s);
  goro::mutex mu;
  std::atomic<bool> held{false};
  std::thread holder([&] {
    mu.lock();
    held.store(true);
    std::this_thread::sleep_for(50ms);
    mu.unlock();
  });
  while (!held.load()) std::this_thread::yield();
  std::optional<int> got = run_correct_program(
      [&] {
        mu.lock();  // parks until the thread unlocks
        mu.unlock();
        return 5;
      },
      GetParam());
  holder.join();
  EXPECT_EQ(got, 5);
}

TEST_P(DeadlockProcs, AForeignThreadFinishingAWaitGroupIsNotADeadlock) {
  watchdog wd(30s);
  goro::wait_group wg;
  wg.add(1);
  std::thread worker([&] {
    std::this_thread::sleep_for(50ms);
    wg.done();
  });
  std::optional<int> got = run_correct_program(
      [&] {
        wg.wait();
        return 6;
      },
      GetParam());
  worker.join();
  EXPECT_EQ(got, 6);
}

TEST_P(DeadlockProcs, AForeignThreadStartingAGoroutineIsNotADeadlock) {
  watchdog wd(30s);
  goro::chan<int> c(1);
  std::thread starter;
  std::optional<int> got = run_correct_program(
      [&] {
        starter = std::thread([c] {
          std::this_thread::sleep_for(50ms);
          try {
            goro::go([c]() mutable { c.send(7); });
          } catch (const std::logic_error&) {
            // No runtime any more: the run was (wrongly) ended already.
          }
        });
        return *c.recv();
      },
      GetParam());
  starter.join();
  EXPECT_EQ(got, 7);
}

TEST_P(DeadlockProcs, ADeadlockIsReportedOnceTheForeignThreadsHaveExited) {
  watchdog wd(30s);
  // The thread could have sent but exits without doing so: from then on the
  // deadlock is provable, though no M wakes to notice (sysmon asks again).
  goro::chan<int> c(0);
  std::thread quitter([] { std::this_thread::sleep_for(50ms); });
  try {
    goro::run([&] { c.recv(); }, procs(GetParam()));
    FAIL() << "run returned; want goro::deadlock";
  } catch (const goro::deadlock& e) {
    EXPECT_EQ(e.parked.at("chan receive"), 1u);
  }
  quitter.join();
}

TEST_P(DeadlockProcs, ABystanderThreadDoesNotHoldBackTheReport) {
  watchdog wd(30s);
  std::promise<void> release;
  std::promise<void> declared;
  std::thread bystander([&, f = release.get_future()] {
    goro::deadlock_bystander();
    declared.set_value();
    f.wait();
  });
  declared.get_future().wait();
  goro::chan<int> c(0);
  EXPECT_THROW(goro::run([&] { c.recv(); }, procs(GetParam())), goro::deadlock);
  release.set_value();
  bystander.join();
}

TEST_P(DeadlockProcs, AlwaysReportsWhileAForeignThreadLives) {
  watchdog wd(30s);
  // detect_deadlock = always: the old rule, for programs whose other threads
  // never wake goroutines but cannot say so.
  std::promise<void> release;
  std::thread idle([f = release.get_future()] { f.wait(); });
  goro::chan<int> c(0);
  goro::options o = procs(GetParam());
  o.detect_deadlock = goro::deadlock_detection::always;
  EXPECT_THROW(goro::run([&] { c.recv(); }, o), goro::deadlock);
  release.set_value();
  idle.join();
}

INSTANTIATE_TEST_SUITE_P(Procs, DeadlockProcs, ::testing::Values(1u, 2u, 4u),
                         [](const auto& info) { return "procs" + std::to_string(info.param); });

TEST(DeadlockTest, DetectionOffLeavesAForeignThreadTimeToWakeMain) {
  watchdog wd(30s);
  goro::options o = procs(2);
  o.detect_deadlock = false;
  std::thread sender;
  int got = goro::run(
      [&] {
        goro::chan<int> c(0);
        // Main parks before the thread sends: with detection on this would
        // be reported, since the runtime cannot see the thread.
        sender = std::thread([c]() mutable {
          std::this_thread::sleep_for(50ms);
          c.send(3);
        });
        return *c.recv();
      },
      o);
  sender.join();
  EXPECT_EQ(got, 3);
}

TEST(DeadlockTest, TheFormerBoolStillConverts) {
  // Source compatibility: `false` is off, `true` the default.
  constexpr goro::options off{.detect_deadlock = false};
  constexpr goro::options on{.detect_deadlock = true};
  static_assert(off.detect_deadlock == goro::deadlock_detection::off);
  static_assert(on.detect_deadlock == goro::deadlock_detection::automatic);
  static_assert(goro::options{}.detect_deadlock == goro::deadlock_detection::automatic);
  EXPECT_FALSE(static_cast<bool>(off.detect_deadlock));
  EXPECT_TRUE(static_cast<bool>(on.detect_deadlock));
}

TEST(DeadlockTest, ABystanderMustNotBeAGoroutine) {
  watchdog wd(30s);
  EXPECT_THROW(goro::run([] { goro::deadlock_bystander(); }, procs(1)), std::logic_error);
}

}  // namespace
