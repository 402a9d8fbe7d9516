// goro::errgroup (x/sync's errgroup.Group): x/sync's tests
// (golang.org/x/sync/errgroup/errgroup_test.go); then goro::task / spawn
// (join handles: values, exceptions, void, move-only, detached).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
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

struct err1 : std::runtime_error {
  err1() : std::runtime_error("errgroup_test: 1") {}
};
struct err2 : std::runtime_error {
  err2() : std::runtime_error("errgroup_test: 2") {}
};

// What wait() threw: "" for nothing, else the what().
std::string wait_result(goro::errgroup& g) {
  try {
    g.wait();
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Go: TestZeroGroup (x/sync/errgroup/errgroup_test.go): each case's
// failures (0: none, 1: err1, 2: err2), waited for after each go().
TEST(ErrgroupTest, ZeroGroup) {
  run2([] {
    const std::vector<std::vector<int>> cases = {{}, {0}, {1}, {1, 0}, {1, 0, 2}};
    for (const auto& errs : cases) {
      goro::errgroup g;
      std::string first;
      for (int e : errs) {
        g.go([e] {
          if (e == 1) throw err1();
          if (e == 2) throw err2();
        });
        if (first.empty() && e == 1) first = "errgroup_test: 1";
        if (first.empty() && e == 2) first = "errgroup_test: 2";
        EXPECT_EQ(wait_result(g), first);
      }
    }
  });
}

// Go: TestWithContext (x/sync/errgroup/errgroup_test.go); an f may also
// fail by returning an error_code.
TEST(ErrgroupTest, WithContext) {
  run2([] {
    auto doom = std::make_error_code(std::errc::owner_dead);
    const std::vector<std::vector<bool>> cases = {{}, {false}, {true}, {true, false}};
    for (const auto& errs : cases) {
      goro::errgroup g(goro::background());
      goro::context ctx = g.ctx();
      bool want = false;
      for (bool fail : errs) {
        g.go([fail, doom]() -> std::error_code { return fail ? doom : std::error_code{}; });
        want = want || fail;
      }
      try {
        g.wait();
        EXPECT_FALSE(want);
      } catch (const std::system_error& e) {
        EXPECT_TRUE(want);
        EXPECT_EQ(e.code(), doom);
      }
      EXPECT_EQ(goro::select(goro::on_recv(ctx.done()), goro::on_default()), 0u)
          << "ctx.done() was not closed";
      EXPECT_EQ(ctx.err(), errc::canceled);
    }
  });
}

// Ours: the first failure cancels ctx() while the others still run.
TEST(ErrgroupTest, FirstFailureCancels) {
  run2([] {
    goro::errgroup g;
    for (int i = 0; i < 4; i++)
      g.go([ctx = g.ctx()] {
        // Parked until the failure below cancels the group.
        EXPECT_FALSE(ctx.done().recv().has_value());
      });
    g.go([] { throw err1(); });
    EXPECT_EQ(wait_result(g), "errgroup_test: 1");
    EXPECT_EQ(wait_result(g), "errgroup_test: 1") << "wait again: the same failure";
  });
}

// Go: TestTryGo (x/sync/errgroup/errgroup_test.go)
TEST(ErrgroupTest, TryGo) {
  run2([] {
    goro::errgroup g;
    const int n = 42;
    g.set_limit(42);
    goro::chan<std::monostate> ch;
    auto fn = [ch]() mutable { ch.send({}); };
    for (int i = 0; i < n; i++) ASSERT_TRUE(g.try_go(fn)) << "TryGo failed at call " << i;
    EXPECT_FALSE(g.try_go(fn)) << "TryGo succeeded past the limit";
    goro::go([ch]() mutable {
      for (int i = 0; i < n; i++) (void)ch.recv();
    });
    g.wait();
    EXPECT_TRUE(g.try_go(fn)) << "TryGo failed after all goroutines";
    goro::go([ch]() mutable { (void)ch.recv(); });
    g.wait();
    // Switch limit.
    g.set_limit(1);
    EXPECT_TRUE(g.try_go(fn));
    EXPECT_FALSE(g.try_go(fn));
    goro::go([ch]() mutable { (void)ch.recv(); });
    g.wait();
    // Block all calls.
    g.set_limit(0);
    for (int i = 0; i < 1 << 10; i++) ASSERT_FALSE(g.try_go(fn));
    g.wait();
  });
}

// Go: TestGoLimit (x/sync/errgroup/errgroup_test.go)
TEST(ErrgroupTest, GoLimit) {
  run2([] {
    constexpr int limit = 10;
    goro::errgroup g;
    g.set_limit(limit);
    std::atomic<int> active{0};
    const int n = goro_test::under_sanitizer ? 1 << 8 : 1 << 10;
    for (int i = 0; i <= n; i++)
      g.go([&] {
        int k = active.fetch_add(1) + 1;
        if (k > limit)
          throw std::runtime_error("saw " + std::to_string(k) +
                                   " active goroutines; want <= " + std::to_string(limit));
        goro::sleep_for(1us);
        active.fetch_sub(1);
      });
    EXPECT_EQ(wait_result(g), "");
  });
}

// Go: TestCancelCause (x/sync/errgroup/errgroup_test.go)
TEST(ErrgroupTest, CancelCause) {
  run2([] {
    auto doom = std::make_error_code(std::errc::owner_dead);
    const std::vector<std::vector<bool>> cases = {{}, {false}, {true}, {true, false}};
    for (const auto& errs : cases) {
      goro::errgroup g;
      bool want = false;
      for (bool fail : errs) {
        EXPECT_TRUE(g.try_go([fail, doom] {
          if (fail) throw std::system_error(doom);
        }));
        want = want || fail;
      }
      EXPECT_EQ(wait_result(g).empty(), !want);
      EXPECT_EQ(goro::cause(g.ctx()), want ? doom : std::error_code(errc::canceled));
    }
  });
}

// Ours: set_limit with goroutines alive throws (x/sync panics); negative
// lifts the limit.
TEST(ErrgroupTest, SetLimitWhileActive) {
  run2([] {
    goro::errgroup g;
    goro::chan<std::monostate> release;
    g.go([release]() mutable { (void)release.recv(); });
    EXPECT_THROW(g.set_limit(3), std::logic_error);
    release.close();
    g.wait();
    g.set_limit(1);
    g.set_limit(-1);
    for (int i = 0; i < 5; i++) EXPECT_TRUE(g.try_go([] {}));
    g.wait();
  });
}

// Ours: a parent's cancellation reaches the group's ctx; the destructor
// without wait() cancels and waits (the goroutines refer to the group).
TEST(ErrgroupTest, ParentAndDestructor) {
  run2([] {
    auto [parent, cancel] = goro::with_cancel(goro::background());
    std::atomic<int> finished{0};
    {
      goro::errgroup g(parent);
      for (int i = 0; i < 3; i++)
        g.go([&, ctx = g.ctx()] {
          (void)ctx.done().recv();
          finished++;
        });
      cancel();
      g.wait();
      EXPECT_EQ(finished.load(), 3);
    }
    {
      goro::errgroup g;
      for (int i = 0; i < 3; i++)
        g.go([&, ctx = g.ctx()] {
          (void)ctx.done().recv();  // only the destructor's cancel ends this
          finished++;
        });
    }
    EXPECT_EQ(finished.load(), 6);
  });
}

// Ours: a task's value, move-only value, void, exception.
TEST(TaskTest, JoinValueVoidMoveOnlyException) {
  run2([] {
    auto t1 = goro::spawn([] { return 6 * 7; });
    EXPECT_TRUE(t1.joinable());
    EXPECT_EQ(t1.join(), 42);
    EXPECT_FALSE(t1.joinable());
    EXPECT_THROW(t1.join(), std::logic_error) << "join twice";

    auto t2 = goro::spawn([] { return std::make_unique<std::string>("moved"); });
    std::unique_ptr<std::string> p = t2.join();
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, "moved");

    std::atomic<bool> ran{false};
    goro::task<void> t3 = goro::spawn([&] {
      goro::sleep_for(1ms);
      ran = true;
    });
    t3.join();
    EXPECT_TRUE(ran.load()) << "join returned before f did";

    auto t4 = goro::spawn([]() -> int { throw err1(); });
    EXPECT_THROW(t4.join(), err1);

    goro::task<int> none;
    EXPECT_FALSE(none.joinable());
    EXPECT_THROW(none.join(), std::logic_error);
    auto t5 = goro::spawn([] { return 1; });
    goro::task<int> t6 = std::move(t5);
    EXPECT_FALSE(t5.joinable());  // NOLINT(bugprone-use-after-move): the point
    EXPECT_EQ(t6.join(), 1);
  });
}

// Ours: an unjoined task is detached: the goroutine runs on, and an
// exception escaping it does not end the process.
TEST(TaskTest, Detached) {
  run2([] {
    goro::chan<std::monostate> go_on, done(2);
    // Held by both closures: its count drops back to 1 once both goroutines
    // have finished (an abandoned one would leak its frame).
    auto alive = std::make_shared<int>(0);
    {
      auto t = goro::spawn([go_on, done, alive]() mutable {
        (void)go_on.recv();
        (void)done.try_send({});
        throw err1();
      });
      auto t2 = goro::spawn([done, alive]() mutable {
        (void)done.try_send({});
        return std::make_unique<int>(1);
      });
    }  // both handles dropped unjoined
    go_on.close();
    EXPECT_TRUE(done.recv().has_value());
    EXPECT_TRUE(done.recv().has_value());
    // The thrower finishes, and its exception must not crash us.
    while (alive.use_count() > 1) goro::yield();
  });
}

// Ours: join from a foreign thread; spawn without a runtime throws.
TEST(TaskTest, ForeignThreadAndNoRuntime) {
  EXPECT_THROW(goro::spawn([] { return 1; }), std::logic_error);
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        auto t = goro::spawn([] {
          goro::sleep_for(2ms);
          return 5;
        });
        int got = 0;
        std::thread th([&] { got = t.join(); });
        goro::blocking([&] { th.join(); });
        EXPECT_EQ(got, 5);
      },
      goro_test::threads_wake_goroutines(procs(2)));
}

}  // namespace
