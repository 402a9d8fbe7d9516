// The public API's contract: results, ids, errors, the process model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <algorithm>
#include <csignal>
#include <vector>

#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "context/stack.hpp"
#include "goro/goro.hpp"
#include "test_options.hpp"

namespace {

using ::testing::HasSubstr;

using goro_test::procs;

TEST(ApiTest, RunReturnsMainsResultAndMainIsGoroutineOne) {
  EXPECT_FALSE(goro::in_goroutine());
  EXPECT_EQ(goro::goid(), 0u);
  int r = goro::run([] {
    EXPECT_TRUE(goro::in_goroutine());
    EXPECT_EQ(goro::goid(), 1u);
    return 42;
  });
  EXPECT_EQ(r, 42);
  std::string s = goro::run([] { return std::string("move-only ok"); }, procs(1));
  EXPECT_EQ(s, "move-only ok");
}

TEST(ApiTest, GoroutineIdsAreDistinct) {
  goro::run(
      [] {
        std::vector<std::uint64_t> ids(100);
        goro::wait_group wg;
        wg.add(100);
        for (int i = 0; i < 100; i++)
          goro::go([&, i] {
            ids[i] = goro::goid();
            wg.done();
          });
        wg.wait();
        std::sort(ids.begin(), ids.end());
        EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
        EXPECT_GT(ids.front(), 1u);
      },
      procs(2));
}

TEST(ApiTest, RunCanBeCalledAgainAfterReturning) {
  for (int i = 0; i < 20; i++) EXPECT_EQ(goro::run([i] { return i; }, procs(2)), i);
}

TEST(ApiTest, RunAgainRightAfterMainExitsOnAnotherM) {
  // Main parks and is readied by goroutines on other Ms, so it often returns
  // on an M other than m0 while m0 is still busy: run() must still give the
  // runtime up before it returns, so the next run() starts cleanly.
  for (int i = 0; i < 300; i++) {
    int got = goro::run(
        [i] {
          goro::wait_group wg;
          wg.add(4);
          for (int k = 0; k < 4; k++)
            goro::go([&wg] {
              for (int y = 0; y < 10; y++) goro::yield();
              wg.done();
            });
          wg.wait();
          return i;
        },
        procs(2));
    ASSERT_EQ(got, i);
  }
}

TEST(ApiTest, RunInsideRunThrows) {
  goro::run([] { EXPECT_THROW(goro::run([] {}), std::logic_error); });
}

TEST(ApiTest, RunFromAnotherThreadWhileRunningThrows) {
  goro::run([] {
    std::string msg;
    std::thread t([&] {
      try {
        goro::run([] {});
      } catch (const std::logic_error& e) {
        msg = e.what();
      }
    });
    t.join();
    EXPECT_THAT(msg, HasSubstr("already running"));
  });
}

TEST(ApiTest, GoWithoutARuntimeThrows) {
  EXPECT_THROW(goro::go([] {}), std::logic_error);
}

TEST(ApiTest, MainsExceptionPropagatesAfterStop) {
  try {
    goro::run([] { throw std::runtime_error("main failed"); }, procs(2));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "main failed");
  }
  EXPECT_EQ(goro::run([] { return 7; }), 7) << "runtime usable after a failed run";
}

TEST(ApiTest, GoroutinesLeftAtMainReturnAreAbandoned) {
  // Abandoned goroutines stay parked on `never` for good, so it must outlive
  // them: static, not on this frame (which later tests reuse).
  static goro::wait_group never;
  never.add(1);
  std::atomic<bool> resumed{false};
  goro::run(
      [&] {
        for (int i = 0; i < 10; i++)
          goro::go([&] {
            never.wait();
            resumed = true;
          });
        goro::yield();
      },
      procs(2));
  EXPECT_EQ(goro::run([] { return goro::num_goroutine(); }, procs(2)), 1u);
  EXPECT_FALSE(resumed.load());
}

TEST(ApiTest, OptionsAreValidatedWithClearMessages) {
  goro::options o;
  o.procs = 5000;
  try {
    goro::run([] {}, o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("procs"));
    EXPECT_THAT(e.what(), HasSubstr("5000"));
    EXPECT_THAT(e.what(), HasSubstr("1024"));
  }
  o = {};
  o.stack_size = 100;
  try {
    goro::run([] {}, o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("stack_size"));
    EXPECT_THAT(e.what(), HasSubstr("100"));
  }
  setenv("GORO_MAXPROCS", "lots", 1);
  try {
    goro::run([] {});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("GORO_MAXPROCS"));
    EXPECT_THAT(e.what(), HasSubstr("lots"));
  }
  setenv("GORO_MAXPROCS", "3", 1);
  EXPECT_EQ(goro::run([] { return goro::gomaxprocs(); }), 3u);
  unsetenv("GORO_MAXPROCS");
  goro::run([] { EXPECT_THROW(goro::gomaxprocs(2000), std::invalid_argument); }, procs(1));
}

TEST(ApiTest, GuardedStacksReportTheMapLimitInGo) {
  // Only mprotect'd guard pages cost maps; stack_test covers both modes
  // (and runs again as mprotect.* with GORO_STACK_GUARD_MODE=mprotect).
  if (goro::detail::stack_allocator::guarded_mode() != goro::detail::guard_mode::mprotect)
    GTEST_SKIP() << "guarded stacks cost no map here: "
                 << goro::detail::stack_allocator::guarded_mode_reason();
  // Main never yields, so none of these start (and none maps a stack), but
  // each would need a guarded stack: go() refuses before the kernel would.
  goro::options o = procs(1);
  std::string msg;
  int spawned = 0;
  goro::run(
      [&] {
        try {
          for (int i = 0; i < 200000; i++, spawned++) goro::go([] {});
        } catch (const std::system_error& e) {
          msg = e.what();
          EXPECT_EQ(e.code(), std::errc::not_enough_memory);
        }
      },
      o);
  EXPECT_THAT(msg, HasSubstr("vm.max_map_count"));
  EXPECT_THAT(msg, HasSubstr("stack_guard=false"));
  EXPECT_GT(spawned, 1000);
  EXPECT_LT(spawned, 200000);
}

TEST(ApiTest, WaitGroupNegativeCounterThrows) {
  goro::run([] {
    goro::wait_group wg;
    EXPECT_THROW(wg.done(), std::logic_error);
  });
}

using ApiDeathTest = ::testing::Test;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
#if defined(__clang__)
#pragma clang diagnostic ignored "-Winfinite-recursion"
#endif
__attribute__((noinline)) int recurse_forever(int n) {
  volatile char pad[1024];
  pad[0] = static_cast<char>(n);
  return recurse_forever(n + 1) + pad[0];  // until the guard page
}
#pragma GCC diagnostic pop

TEST(ApiDeathTest, ExceptionInGoroutineEndsProcessNamingIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      goro::run(
          [] {
            goro::wait_group wg;
            wg.add(1);
            goro::go([] { throw std::runtime_error("boom in a goroutine"); });
            wg.wait();
          },
          procs(2)),
      ::testing::ExitedWithCode(2),
      "panic: boom in a goroutine \\[std::runtime_error\\][^$]*goroutine [0-9]+ \\[running\\]");
}

TEST(ApiDeathTest, GuardPageStopsStackOverflow) {
  if (goro_test::under_sanitizer)
    GTEST_SKIP() << "sanitizers intercept the fault with their own report";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  goro::options o = procs(1);
  o.stack_size = 64 * 1024;
  EXPECT_EXIT(goro::run(
                  [] {
                    goro::wait_group wg;
                    wg.add(1);
                    goro::go([] { recurse_forever(0); });
                    wg.wait();
                  },
                  o),
              ::testing::KilledBySignal(SIGABRT),  // goro's report (context/overflow.cpp)
              "goro: stack overflow in goroutine [0-9]+ \\(stack_size 65536 bytes\\)");
}

// newg_abort freed an over-aligned closure with the unaligned operator
// delete (ASan: alloc-dealloc-mismatch). The argument's copy succeeds (into
// the closure built by go()), its move (into the g's task) throws, so the
// spawn is aborted after newg_begin allocated the aligned storage.
struct alignas(64) throws_on_move {
  int v = 1;
  throws_on_move() = default;
  throws_on_move(const throws_on_move&) = default;
  // A throwing move is what this test needs.
  throws_on_move(throws_on_move&&) {  // NOLINT(bugprone-exception-escape)
    throw std::runtime_error("move");
  }
};

TEST(ApiTest, AnAbortedSpawnOfAnOverAlignedClosureFreesItAsAllocated) {
  std::atomic<int> ran{0};
  goro::run([&] {
    throws_on_move arg;
    for (int i = 0; i < 3; i++)
      EXPECT_THROW(goro::go([&ran](throws_on_move) { ran++; }, arg), std::runtime_error);
    // The runtime is intact: a spawn after the aborted ones runs.
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      ran += 10;
      wg.done();
    });
    wg.wait();
  });
  EXPECT_EQ(ran.load(), 10);
}

}  // namespace
