// goro::once, once_func and once_value against Go's sync.Once, OnceFunc and
// OnceValue (sync/once.go, sync/oncefunc.go): one call runs f, the others
// wait for it; exceptions; goroutines and threads; a once outliving run.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

namespace {

using goro_test::procs;
using goro_test::under_sanitizer;
using namespace std::chrono_literals;

// Go: TestOnce (src/sync/once_test.go)
TEST(OnceTest, Once) {
  goro::run(
      [] {
        int o = 0;
        goro::once once;
        goro::chan<bool> c;
        for (int i = 0; i < 10; i++)
          goro::go([&] {
            once.call([&] { o++; });
            EXPECT_EQ(o, 1) << "once failed inside run";
            c.send(true);
          });
        for (int i = 0; i < 10; i++) c.recv();
        EXPECT_EQ(o, 1);
      },
      procs(2));
}

// Go: TestOncePanic (src/sync/once_test.go): an exception from f leaves the
// call that ran it, and the once is done all the same.
TEST(OnceTest, OncePanic) {
  goro::once once;
  EXPECT_THROW(once.call([] { throw std::runtime_error("failed"); }), std::runtime_error);
  once.call([] { FAIL() << "Once.Do called twice"; });
}

// Go: TestOnceFunc (src/sync/oncefunc_test.go); Go also counts allocations
// per call, which has no C++ counterpart here (a call allocates nothing).
TEST(OnceFuncTest, OnceFunc) {
  int calls = 0;
  auto f = goro::once_func([&] { calls++; });
  for (int i = 0; i < 10; i++) f();
  auto g = f;  // copies share the state
  g();
  EXPECT_EQ(calls, 1);
}

// Go: TestOnceValue (src/sync/oncefunc_test.go)
TEST(OnceFuncTest, OnceValue) {
  int calls = 0;
  auto f = goro::once_value([&] {
    calls++;
    return calls;
  });
  for (int i = 0; i < 10; i++) EXPECT_EQ(f(), 1);
  EXPECT_EQ(calls, 1);
}

// Go: TestOnceValues (src/sync/oncefunc_test.go): goro has no once_values;
// once_value of a function returning a pair is the same thing.
TEST(OnceFuncTest, OnceValues) {
  int calls = 0;
  auto f = goro::once_value([&] {
    calls++;
    return std::pair{calls, calls + 1};
  });
  for (int i = 0; i < 10; i++) {
    auto [a, b] = f();
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 2);
  }
  EXPECT_EQ(calls, 1);
}

// Every call of f rethrows the one exception f threw: the same object.
template <class F>
void expect_same_exception_every_call(F& f, const std::string& what) {
  const void* first = nullptr;
  for (int i = 0; i < 3; i++) {
    try {
      f();
      ADD_FAILURE() << "call " << i << " did not throw";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(e.what(), what);
      if (i == 0) first = &e;
      else EXPECT_EQ(&e, first) << "call " << i << " threw another exception object";
    }
  }
}

// Go: TestOnceFuncPanic (src/sync/oncefunc_test.go)
TEST(OnceFuncTest, OnceFuncPanic) {
  int calls = 0;
  auto f = goro::once_func([&] {
    calls++;
    throw std::runtime_error("x");
  });
  expect_same_exception_every_call(f, "x");
  EXPECT_EQ(calls, 1);
}

// Go: TestOnceValuePanic (src/sync/oncefunc_test.go)
TEST(OnceFuncTest, OnceValuePanic) {
  int calls = 0;
  auto f = goro::once_value([&]() -> int {
    calls++;
    throw std::runtime_error("x");
  });
  expect_same_exception_every_call(f, "x");
  EXPECT_EQ(calls, 1);
}

// Go: TestOnceValuesPanic (src/sync/oncefunc_test.go), through a pair.
TEST(OnceFuncTest, OnceValuesPanic) {
  int calls = 0;
  auto f = goro::once_value([&]() -> std::pair<int, int> {
    calls++;
    throw std::runtime_error("x");
  });
  expect_same_exception_every_call(f, "x");
  EXPECT_EQ(calls, 1);
}

// Go: TestOnceFuncPanicNil (src/sync/oncefunc_test.go): Go turns panic(nil)
// into a *runtime.PanicNilError. C++ has no nil exception, but it can throw
// a null pointer, which every call rethrows like any other exception.
TEST(OnceFuncTest, OnceFuncPanicNil) {
  auto f = goro::once_func([] { throw nullptr; });
  for (int i = 0; i < 2; i++) EXPECT_THROW(f(), std::nullptr_t);
}

// Go: TestOnceFuncGoexit and TestOnceFuncPanicTraceback are not ported: goro
// has no runtime.Goexit, and C++ exceptions carry no traceback to check.

// Go: TestOnceXGC (src/sync/oncefunc_test.go) checks that the collector can
// reclaim f once it has run. The C++ counterpart: f (and what it captured)
// is destroyed right after its call, while the returned function lives on.
TEST(OnceFuncTest, OnceXGC) {
  auto check = [](auto make, const char* name) {
    auto buf = std::make_shared<int>(42);
    std::weak_ptr<int> w = buf;
    auto f = make(std::move(buf));
    EXPECT_FALSE(w.expired()) << name << ": captured state gone before the call";
    f();
    EXPECT_TRUE(w.expired()) << name << ": f not destroyed after the call";
    f();
  };
  check([](std::shared_ptr<int> b) { return goro::once_func([b] { (void)*b; }); }, "once_func");
  check([](std::shared_ptr<int> b) { return goro::once_value([b] { return *b; }); }, "once_value");
  check([](std::shared_ptr<int> b) { return goro::once_value([b] {
                                       return std::pair{*b, *b};
                                     }); },
        "once_value(pair)");
}

TEST(OnceTest, NotCopyableOrMovable) {
  static_assert(!std::is_copy_constructible_v<goro::once>);
  static_assert(!std::is_move_constructible_v<goro::once>);
  static_assert(!std::is_copy_assignable_v<goro::once>);
  static_assert(!std::is_move_assignable_v<goro::once>);
}

// Many callers at once, goroutines and foreign threads together: exactly
// one runs f, and every caller sees what f wrote when its call returns
// (f's return happens before every call() returns). f yields mid-way so
// that the others do pile up behind it.
class OnceProcs : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(Procs, OnceProcs, ::testing::Values(1u, 2u),
                         [](const auto& info) { return "procs" + std::to_string(info.param); });

TEST_P(OnceProcs, ManyConcurrentCallersGoroutinesAndThreads) {
  goro_test::watchdog wd(60s);
  const int rounds = under_sanitizer ? 10 : 100;
  constexpr int goroutines = 16, threads = 2;
  for (int r = 0; r < rounds; r++) {
    goro::once once;
    std::atomic<int> runs{0};
    int payload = 0;  // plain: written by f, read by every caller
    std::atomic<bool> go_now{false};
    std::atomic<int> threads_done{0};
    auto body = [&] {
      once.call([&] {
        runs.fetch_add(1, std::memory_order_relaxed);
        if (goro::in_goroutine()) goro::yield();
        else std::this_thread::yield();
        payload = 7;
      });
      EXPECT_EQ(payload, 7);
    };
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++)
      ts.emplace_back([&] {
        while (!go_now.load()) std::this_thread::yield();
        body();
        threads_done++;
      });
    goro::run(
        [&] {
          goro::wait_group wg;
          wg.add(goroutines);
          for (int g = 0; g < goroutines; g++)
            goro::go([&] {
              body();
              wg.done();
            });
          go_now = true;
          wg.wait();
          // Keep the runtime up until the threads are out of every goro call.
          while (threads_done.load() < threads) goro::yield();
        },
        goro_test::threads_wake_goroutines(procs(GetParam())));
    for (auto& t : ts) t.join();
    EXPECT_EQ(runs.load(), 1);
  }
}

// f parks (receives on a channel, then sleeps) while the other callers
// wait: they wait for it (they park on the once's mutex), and none returns
// before f has.
TEST(OnceTest, FParksWhileOthersWait) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        goro::once once;
        goro::chan<int> gate;
        std::atomic<bool> f_returned{false};
        std::atomic<int> early{0};
        goro::wait_group wg;
        constexpr int callers = 8;
        wg.add(callers);
        goro::chan<bool> started(callers);
        for (int i = 0; i < callers; i++)
          goro::go([&] {
            started.send(true);
            once.call([&] {
              gate.recv();  // parks inside f
              goro::sleep_for(1ms);
              f_returned = true;
            });
            if (!f_returned.load()) early++;
            wg.done();
          });
        for (int i = 0; i < callers; i++) started.recv();
        for (int k = 0; k < 10; k++) goro::yield();  // let them reach the once
        gate.send(1);
        wg.wait();
        EXPECT_TRUE(f_returned.load());
        EXPECT_EQ(early.load(), 0);
      },
      procs(2));
}

// Created before run, done in one run, still done after it and in the next;
// and a once first used after run, by threads, parks nobody forever.
TEST(OnceTest, OutlivesRun) {
  goro::once a, b;
  int a_calls = 0, b_calls = 0;
  goro::run([&] { a.call([&] { a_calls++; }); }, procs(2));
  a.call([&] { a_calls++; });
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; i++) ts.emplace_back([&] { b.call([&] { b_calls++; }); });
  for (auto& t : ts) t.join();
  goro::run(
      [&] {
        a.call([&] { a_calls++; });
        b.call([&] { b_calls++; });
      },
      procs(1));
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 1);
}

// An exception from f, with callers waiting behind it: they return without
// running their f, and the thrower gets the exception.
TEST(OnceTest, ExceptionWithWaitersMarksDone) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        goro::once once;
        goro::chan<bool> in_f;
        goro::chan<bool> release;
        std::atomic<int> ran{0};
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] {
          try {
            once.call([&] {
              in_f.send(true);
              release.recv();
              throw std::runtime_error("from f");
            });
            ADD_FAILURE() << "no exception";
          } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "from f");
          }
          wg.done();
        });
        in_f.recv();
        constexpr int waiters = 4;
        wg.add(waiters);
        for (int i = 0; i < waiters; i++)
          goro::go([&] {
            once.call([&] { ran++; });
            wg.done();
          });
        for (int k = 0; k < 10; k++) goro::yield();
        release.send(true);
        wg.wait();
        EXPECT_EQ(ran.load(), 0);
      },
      procs(2));
}

// A call() from inside f on the same once deadlocks, as in Go (f holds the
// once's mutex); with nothing else to run, run reports it.
TEST(OnceTest, RecursiveCallDeadlocks) {
  goro_test::watchdog wd(60s);
  try {
    goro::run(
        [] {
          goro::once once;
          once.call([&] { once.call([] {}); });
        },
        procs(1));
    FAIL() << "run returned; want goro::deadlock";
  } catch (const goro::deadlock& e) {
    EXPECT_EQ(e.parked.at("sync.Mutex.Lock"), 1u);
  }
}

}  // namespace
