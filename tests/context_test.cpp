// goro::context (Go's context package): Go's own tests from
// src/context/context_test.go and x_test.go at their -short sizes (no
// WithValue: goro's contexts carry no values), then the C++ edges: foreign
// threads, contexts outliving the runtime, select with other channels, the
// sleep forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sync/context_internal.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using goro::errc;
using goro_test::procs;

constexpr auto short_duration = 1ms;        // Go's shortDuration
constexpr auto very_long_duration = 1000h;  // Go's veryLongDuration
constexpr auto quiescent = 10s;             // Go's quiescent(t): far beyond any working run

std::size_t children(const goro::context& c) { return goro::detail::ctx_num_children(c); }

// Non-blocking: is c's done() closed? (Go's select with a default.)
bool is_done(const goro::context& c) {
  return goro::select(goro::on_recv(c.done()), goro::on_default()) == 0;
}

// Waits for c to be done, failing after `quiescent` (Go's testDeadline).
bool wait_done(const goro::context& c) {
  return goro::select(goro::on_recv(c.done()), goro::on_recv(goro::after(quiescent))) == 0;
}

// Starts f in a goroutine counted in wg, so that the test can wait for it
// before main returns (an abandoned goroutine's frame is never unwound:
// what it holds would leak, and LeakSanitizer says so).
template <class F>
void go_counted(goro::wait_group& wg, F f) {
  wg.add(1);
  goro::go([&wg, f = std::move(f)]() mutable {
    f();
    wg.done();
  });
}

template <class F>
void run2(F f) {
  goro_test::watchdog wd(60s);
  goro::run(std::move(f), procs(2));
}

// Go: TestBackground (src/context/x_test.go)
TEST(ContextTest, Background) {
  // No runtime needed.
  goro::context c = goro::background();
  EXPECT_FALSE(c.err());
  EXPECT_FALSE(c.deadline().has_value());
  goro::chan<std::monostate> a;
  goro::chan<std::monostate> b(std::move(a));  // a: now a nil channel
  EXPECT_EQ(c.done(), a) << "background's done() is a nil channel";
  EXPECT_EQ(children(c), 0u);
  run2([] { EXPECT_FALSE(is_done(goro::background())); });
}

// Go: TestWithCancel (src/context/x_test.go)
TEST(ContextTest, WithCancel) {
  run2([] {
    auto [c1, cancel] = goro::with_cancel(goro::background());
    auto [c2, cancel2] = goro::with_cancel(c1);
    for (const goro::context* c : {&c1, &c2}) {
      EXPECT_NE(c->done(), goro::background().done());
      EXPECT_FALSE(c->err());
      EXPECT_FALSE(is_done(*c));
    }
    cancel();  // propagates synchronously
    for (const goro::context* c : {&c1, &c2}) {
      EXPECT_TRUE(is_done(*c));
      EXPECT_EQ(c->err(), errc::canceled);
    }
    cancel();  // idempotent
    cancel2();
    EXPECT_EQ(c2.err(), errc::canceled);
  });
}

// Go: XTestParentFinishesChild (src/context/context_test.go), less the
// value child.
TEST(ContextTest, ParentFinishesChild) {
  run2([] {
    auto [parent, cancel] = goro::with_cancel(goro::background());
    auto [cancel_child, stop1] = goro::with_cancel(parent);
    auto [timer_child, stop2] = goro::with_timeout(parent, very_long_duration);
    auto after_stop = goro::after_func(parent, [] {});
    EXPECT_FALSE(is_done(parent));
    EXPECT_FALSE(is_done(cancel_child));
    EXPECT_FALSE(is_done(timer_child));
    EXPECT_EQ(children(parent), 3u) << "the cancel child, the timer child and the after_func";

    cancel();
    EXPECT_EQ(children(parent), 0u) << "cancel did not clear the children";
    for (const goro::context* c : {&parent, &cancel_child, &timer_child}) {
      EXPECT_TRUE(is_done(*c));
      EXPECT_EQ(c->err(), errc::canceled);
    }
    // A child of a cancelled parent is born cancelled.
    auto [pre, stop3] = goro::with_cancel(parent);
    EXPECT_TRUE(is_done(pre));
    EXPECT_EQ(pre.err(), errc::canceled);
    stop1();
    stop2();
    stop3();
    EXPECT_FALSE(after_stop()) << "f was started by the cancel";
  });
}

// Go: XTestChildFinishesFirst (src/context/context_test.go)
TEST(ContextTest, ChildFinishesFirst) {
  run2([] {
    auto [cancelable, stop] = goro::with_cancel(goro::background());
    for (const goro::context& parent : {goro::background(), cancelable}) {
      bool cancellable_parent = !(parent == goro::background());
      auto [child, cancel] = goro::with_cancel(parent);
      EXPECT_FALSE(is_done(parent));
      EXPECT_FALSE(is_done(child));
      if (cancellable_parent) {
        EXPECT_EQ(children(parent), 1u);
      }
      cancel();
      if (cancellable_parent) {
        EXPECT_EQ(children(parent), 0u) << "the child did not remove itself";
      }
      EXPECT_TRUE(is_done(child));
      EXPECT_EQ(child.err(), errc::canceled);
      EXPECT_FALSE(is_done(parent));
      EXPECT_FALSE(parent.err());
    }
    stop();
  });
}

// Go: TestDeadline (src/context/x_test.go)
TEST(ContextTest, Deadline) {
  run2([] {
    {
      auto [c, stop] = goro::with_deadline(goro::background(), clock_type::now() + short_duration);
      EXPECT_TRUE(wait_done(c)) << "WithDeadline: not timed out";
      EXPECT_EQ(c.err(), errc::deadline_exceeded);
    }
    {
      // The parent's earlier deadline wins over the child's later one.
      auto [p, stop1] = goro::with_deadline(goro::background(), clock_type::now() + short_duration);
      auto [c, stop2] = goro::with_deadline(p, clock_type::now() + very_long_duration);
      EXPECT_EQ(c.deadline(), p.deadline());
      EXPECT_TRUE(wait_done(c)) << "WithDeadline+WithDeadline: not timed out";
      EXPECT_EQ(c.err(), errc::deadline_exceeded);
    }
    {
      auto [c, stop] = goro::with_deadline(goro::background(), clock_type::now() - short_duration);
      EXPECT_TRUE(is_done(c)) << "WithDeadline+inthepast: done at once";
      EXPECT_EQ(c.err(), errc::deadline_exceeded);
    }
    {
      auto [c, stop] = goro::with_deadline(goro::background(), clock_type::now());
      EXPECT_TRUE(wait_done(c)) << "WithDeadline+now";
      EXPECT_EQ(c.err(), errc::deadline_exceeded);
    }
  });
}

// Go: TestTimeout (src/context/x_test.go)
TEST(ContextTest, Timeout) {
  run2([] {
    {
      auto t0 = clock_type::now();
      auto [c, stop] = goro::with_timeout(goro::background(), 5ms);
      ASSERT_TRUE(c.deadline().has_value());
      EXPECT_GE(*c.deadline(), t0 + 5ms);
      EXPECT_TRUE(wait_done(c)) << "WithTimeout: not timed out";
      EXPECT_GE(clock_type::now() - t0, 5ms) << "timed out early";
      EXPECT_EQ(c.err(), errc::deadline_exceeded);
    }
    {
      auto [p, stop1] = goro::with_timeout(goro::background(), short_duration);
      auto [c, stop2] = goro::with_timeout(p, very_long_duration);
      EXPECT_TRUE(wait_done(c)) << "WithTimeout+WithTimeout";
      EXPECT_EQ(c.err(), errc::deadline_exceeded) << "a parent's deadline is passed on as such";
    }
  });
}

// Go: TestCanceledTimeout (src/context/x_test.go)
TEST(ContextTest, CanceledTimeout) {
  run2([] {
    auto [p, stop1] = goro::with_timeout(goro::background(), 1s);
    auto [c, cancel] = goro::with_timeout(p, very_long_duration);
    cancel();  // synchronous
    EXPECT_TRUE(is_done(c));
    EXPECT_EQ(c.err(), errc::canceled);
    EXPECT_FALSE(p.err());
    stop1();
  });
}

// Go: XTestCancelRemoves (src/context/context_test.go)
TEST(ContextTest, CancelRemoves) {
  run2([] {
    {
      auto [ctx, stop] = goro::with_cancel(goro::background());
      EXPECT_EQ(children(ctx), 0u);
      auto [c, cancel] = goro::with_cancel(ctx);
      EXPECT_EQ(children(ctx), 1u);
      cancel();
      EXPECT_EQ(children(ctx), 0u) << "after cancelling the WithCancel child";
    }
    {
      auto [ctx, stop] = goro::with_cancel(goro::background());
      auto [c, cancel] = goro::with_timeout(ctx, 60min);
      EXPECT_EQ(children(ctx), 1u);
      cancel();
      EXPECT_EQ(children(ctx), 0u) << "after cancelling the WithTimeout child";
    }
    {
      auto [ctx, stop] = goro::with_cancel(goro::background());
      auto stop_af = goro::after_func(ctx, [] {});
      EXPECT_EQ(children(ctx), 1u);
      EXPECT_TRUE(stop_af());
      EXPECT_EQ(children(ctx), 0u) << "after stopping the AfterFunc";
    }
  });
}

// Ours: a child dropped without its cancel leaves the parent (where Go's GC
// collects it), so a long-lived parent does not accumulate them.
TEST(ContextTest, DroppedChildLeavesParent) {
  run2([] {
    auto [ctx, stop] = goro::with_cancel(goro::background());
    for (int i = 0; i < 100; i++) {
      auto [c, cancel] = goro::with_timeout(ctx, 1h);
      auto [gc, gcancel] = goro::with_cancel(c);
      (void)gc;
      cancel();  // the timer child: cancelled (its own child then too)
    }
    EXPECT_EQ(children(ctx), 0u);
    for (int i = 0; i < 100; i++) {
      auto [c, cancel] = goro::with_cancel(ctx);
      (void)c;  // dropped, never cancelled
    }
    EXPECT_EQ(children(ctx), 0u);
    // A child cancelled by its own deadline leaves too.
    auto [t, tstop] = goro::with_timeout(ctx, 1ms);
    EXPECT_EQ(children(ctx), 1u);
    EXPECT_TRUE(wait_done(t));
    // The timer's cancel closes done() before it leaves the parent (as Go's
    // does), so the removal is only eventual here: a child that never left
    // hangs this loop, and the watchdog fails the test.
    while (children(ctx) != 0) goro::yield();
    // A move-only after_func.
    goro::chan<int> got(1);
    auto stop_mo = goro::after_func(
        ctx, [p = std::make_unique<int>(7), got]() mutable { (void)got.try_send(*p); });
    stop();
    EXPECT_EQ(got.recv(), 7);
    EXPECT_FALSE(stop_mo());
  });
}

// Go: TestSimultaneousCancels (src/context/x_test.go)
TEST(ContextTest, SimultaneousCancels) {
  run2([] {
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    std::vector<std::pair<goro::context, std::function<void()>>> m{{root, cancel_root}};
    for (std::size_t q = 0; q < m.size() && m.size() < 100; q++) {
      goro::context parent = m[q].first;
      for (int i = 0; i < 4; i++) m.push_back(goro::with_cancel(parent));
    }
    std::shuffle(m.begin(), m.end(), std::mt19937(42));
    goro::wait_group wg;
    wg.add(static_cast<std::int64_t>(m.size()));
    for (auto& [c, cancel] : m)
      goro::go([&wg, cancel = cancel] {
        cancel();
        wg.done();
      });
    for (auto& [c, cancel] : m) ASSERT_TRUE(wait_done(c)) << "stuck waiting for ctx.done()";
    wg.wait();
  });
}

// Go: TestInterlockedCancels (src/context/x_test.go)
TEST(ContextTest, InterlockedCancels) {
  run2([] {
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    auto [child, cancel_child] = goro::with_cancel(parent);
    goro::wait_group wg;
    go_counted(wg, [parent = parent, cancel_child = cancel_child]() mutable {
      (void)parent.done().recv();
      cancel_child();
    });
    cancel_parent();
    EXPECT_TRUE(wait_done(child));
    wg.wait();
  });
}

// Go: TestLayersCancel and TestLayersTimeout (src/context/x_test.go),
// without the value layers.
void test_layers(std::uint64_t seed, bool timeout) {
  std::mt19937_64 r(seed);
  std::vector<std::function<void()>> cancels;
  int timers = 0;
  goro::context ctx = goro::background();
  for (int i = 0; i < 30 || timers == 0 || cancels.empty(); i++) {
    if (r() % 2 == 0) {
      auto [c, cancel] = goro::with_cancel(ctx);
      ctx = c;
      cancels.push_back(cancel);
    } else {
      auto [c, cancel] = goro::with_timeout(ctx,
                                            timeout ? std::chrono::nanoseconds(short_duration)
                                                    : std::chrono::nanoseconds(very_long_duration));
      ctx = c;
      cancels.push_back(cancel);
      timers++;
    }
  }
  if (!timeout) {
    EXPECT_FALSE(is_done(ctx)) << "seed=" << seed << ": cancelled too soon";
  }
  if (timeout) {
    EXPECT_TRUE(wait_done(ctx)) << "seed=" << seed << ": should have timed out";
    EXPECT_EQ(ctx.err(), errc::deadline_exceeded);
  } else {
    cancels[r() % cancels.size()]();
    EXPECT_TRUE(is_done(ctx)) << "seed=" << seed << ": should be cancelled";
    EXPECT_EQ(ctx.err(), errc::canceled);
  }
  for (auto& c : cancels) c();
}

TEST(ContextTest, LayersCancel) {
  run2([] { test_layers(clock_type::now().time_since_epoch().count(), false); });
}
TEST(ContextTest, LayersTimeout) {
  run2([] { test_layers(clock_type::now().time_since_epoch().count(), true); });
}

// Go: TestWithCancelCanceledParent (src/context/x_test.go)
TEST(ContextTest, WithCancelCanceledParent) {
  run2([] {
    auto [parent, pcancel] = goro::with_cancel_cause(goro::background());
    auto because = std::make_error_code(std::errc::connection_reset);
    pcancel(because);
    auto [c, stop] = goro::with_cancel(parent);
    EXPECT_TRUE(is_done(c)) << "child not done at once upon construction";
    EXPECT_EQ(c.err(), errc::canceled);
    EXPECT_EQ(goro::cause(c), because);
  });
}

// Go: TestWithCancelSimultaneouslyCanceledParent (src/context/x_test.go)
TEST(ContextTest, WithCancelSimultaneouslyCanceledParent) {
  run2([] {
    auto because = std::make_error_code(std::errc::connection_reset);
    for (int i = 0; i < 100; i++) {
      auto [parent, pcancel] = goro::with_cancel_cause(goro::background());
      goro::wait_group wg;
      go_counted(wg, [pcancel = pcancel, because] { pcancel(because); });
      auto [c, stop] = goro::with_cancel(parent);
      (void)c.done().recv();
      EXPECT_EQ(c.err(), errc::canceled);
      EXPECT_EQ(goro::cause(c), because);
      wg.wait();
    }
  });
}

// Go: TestDeadlineExceededSupportsTimeout (src/context/x_test.go): Go's
// Timeout() is our comparison with std::errc::timed_out.
TEST(ContextTest, DeadlineExceededSupportsTimeout) {
  std::error_code de = errc::deadline_exceeded;
  EXPECT_TRUE(de == std::errc::timed_out);
  EXPECT_FALSE(std::error_code(errc::canceled) == std::errc::timed_out);
  EXPECT_TRUE(std::error_code(errc::canceled) == std::errc::operation_canceled);
  EXPECT_STREQ(de.category().name(), "goro");
  EXPECT_EQ(de.message(), "context deadline exceeded");
  EXPECT_EQ(std::error_code(errc::canceled).message(), "context canceled");
  EXPECT_NE(de, std::make_error_code(std::errc::timed_out)) << "still told apart as codes";
}

// Go: TestCause (src/context/x_test.go), the cases without values.
TEST(ContextTest, Cause) {
  run2([] {
    auto because = std::make_error_code(std::errc::connection_reset);
    EXPECT_FALSE(goro::cause(goro::background()));
    {
      auto [c, cancel] = goro::with_cancel_cause(goro::background());
      EXPECT_FALSE(goro::cause(c));
      cancel({});
      EXPECT_EQ(goro::cause(c), errc::canceled) << "a zero cause records canceled";
    }
    {
      auto [c, cancel] = goro::with_cancel_cause(goro::background());
      cancel(because);
      cancel(std::make_error_code(std::errc::io_error));  // the first cause stays
      EXPECT_EQ(c.err(), errc::canceled);
      EXPECT_EQ(goro::cause(c), because);
    }
    {
      auto [p, pcancel] = goro::with_cancel_cause(goro::background());
      auto [c, cancel] = goro::with_timeout(p, very_long_duration);
      pcancel(because);
      EXPECT_EQ(c.err(), errc::canceled);
      EXPECT_EQ(goro::cause(c), because) << "a parent's cause is inherited";
      cancel();
    }
    {
      auto [c, cancel] = goro::with_timeout(goro::background(), short_duration);
      EXPECT_TRUE(wait_done(c));
      EXPECT_EQ(goro::cause(c), errc::deadline_exceeded);
    }
  });
}

// Go: TestAfterFuncCalledAfterCancel (src/context/x_test.go)
TEST(ContextTest, AfterFuncCalledAfterCancel) {
  run2([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::chan<std::monostate> donec;
    auto stop = goro::after_func(ctx, [donec]() mutable { donec.close(); });
    EXPECT_EQ(goro::select(goro::on_recv(donec), goro::on_recv(goro::after(short_duration))), 1u)
        << "AfterFunc called before the context is done";
    cancel();
    EXPECT_EQ(goro::select(goro::on_recv(donec), goro::on_recv(goro::after(quiescent))), 0u)
        << "AfterFunc not called after the context is cancelled";
    EXPECT_FALSE(stop());
  });
}

// Go: TestAfterFuncCalledAfterTimeout (src/context/x_test.go)
TEST(ContextTest, AfterFuncCalledAfterTimeout) {
  run2([] {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), short_duration);
    goro::chan<std::monostate> donec;
    goro::after_func(ctx, [donec]() mutable { donec.close(); });
    EXPECT_EQ(goro::select(goro::on_recv(donec), goro::on_recv(goro::after(quiescent))), 0u);
    cancel();
  });
}

// Go: TestAfterFuncCalledImmediately (src/context/x_test.go)
TEST(ContextTest, AfterFuncCalledImmediately) {
  run2([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel();
    goro::chan<std::monostate> donec;
    auto stop = goro::after_func(ctx, [donec]() mutable { donec.close(); });
    EXPECT_EQ(goro::select(goro::on_recv(donec), goro::on_recv(goro::after(quiescent))), 0u);
    EXPECT_FALSE(stop());
  });
}

// Go: TestAfterFuncNotCalledAfterStop (src/context/x_test.go)
TEST(ContextTest, AfterFuncNotCalledAfterStop) {
  run2([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::chan<std::monostate> donec;
    auto stop = goro::after_func(ctx, [donec]() mutable { donec.close(); });
    EXPECT_TRUE(stop());
    cancel();
    EXPECT_EQ(goro::select(goro::on_recv(donec), goro::on_recv(goro::after(short_duration))), 1u)
        << "AfterFunc called after stop";
    EXPECT_FALSE(stop());
  });
}

// Go: TestAfterFuncCalledAsynchronously (src/context/x_test.go)
TEST(ContextTest, AfterFuncCalledAsynchronously) {
  run2([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::chan<std::monostate> donec;  // unbuffered: f blocks until we receive
    auto stop = goro::after_func(ctx, [donec]() mutable { donec.send({}); });
    cancel();  // must not wait for f
    EXPECT_EQ(goro::select(goro::on_recv(donec), goro::on_recv(goro::after(quiescent))), 0u);
    stop();
  });
}

// Go: TestContextErrDoneRace (src/context/x_test.go): err() non-zero
// implies done() closed.
TEST(ContextTest, ContextErrDoneRace) {
  run2([] {
    for (int i = 0; i < 10; i++) {
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      goro::chan<std::monostate> donec = ctx.done();
      goro::wait_group wg;
      go_counted(wg, [cancel = cancel] { cancel(); });
      while (!ctx.err()) goro::yield();
      EXPECT_EQ(goro::select(goro::on_recv(donec), goro::on_default()), 0u)
          << "ctx.err() is non-zero, but ctx.done() is not closed";
      wg.wait();
    }
  });
}

// Ours: the converse, done() seen closed implies err() non-zero, from a
// goroutine racing the cancel on the other P.
TEST(ContextTest, DoneImpliesErr) {
  run2([] {
    for (int i = 0; i < 200; i++) {
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      goro::wait_group wg;
      go_counted(wg, [cancel = cancel] { cancel(); });
      while (goro::select(goro::on_recv(ctx.done()), goro::on_default()) != 0) goro::yield();
      EXPECT_EQ(ctx.err(), errc::canceled);
      wg.wait();
    }
  });
}

// Ours: the cancel happens before done()'s receive returns nullopt, so a
// plain write before cancel() is seen after it (TSan checks the claim).
TEST(ContextTest, CancelHappensBeforeDone) {
  run2([] {
    for (int i = 0; i < 50; i++) {
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      auto data = std::make_shared<int>(0);
      goro::wait_group wg;
      go_counted(wg, [data, cancel = cancel] {
        *data = 42;
        cancel();
      });
      EXPECT_FALSE(ctx.done().recv().has_value());
      EXPECT_EQ(*data, 42);
      wg.wait();
    }
  });
}

// Ours: done() is one case of a select among other channels.
TEST(ContextTest, SelectWithOtherChannels) {
  run2([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::chan<int> work;
    goro::chan<int> results(100);
    goro::go([ctx = ctx, work, results]() mutable {
      for (;;) {
        bool stop = false;
        goro::select(goro::on_recv(ctx.done(), [&] { stop = true; }),
                     goro::on_recv(work, [&](std::optional<int> v) { results.send(*v * 2); }));
        if (stop) break;
      }
      results.close();
    });
    for (int i = 0; i < 10; i++) work.send(i);
    cancel();
    int sum = 0, n = 0;
    while (auto v = results.recv()) {
      sum += *v;
      n++;
    }
    EXPECT_EQ(n, 10);
    EXPECT_EQ(sum, 90);
  });
}

// Ours: contexts and their cancel functions from a foreign std::thread,
// with goroutines waiting on them; and after_func started from the thread.
TEST(ContextTest, ForeignThread) {
  goro_test::watchdog wd(60s);
  goro::run(
      [] {
        auto [ctx, cancel] = goro::with_cancel(goro::background());
        goro::chan<std::monostate> ran(1);
        auto stop = goro::after_func(ctx, [ran]() mutable {
          EXPECT_TRUE(goro::in_goroutine()) << "f runs in a goroutine";
          (void)ran.try_send({});
        });
        goro::wait_group wg;
        for (int i = 0; i < 8; i++) {
          wg.add(1);
          goro::go([ctx = ctx, &wg] {
            EXPECT_FALSE(ctx.done().recv().has_value());
            EXPECT_EQ(ctx.err(), errc::canceled);
            wg.done();
          });
        }
        std::thread t([ctx = ctx, cancel = cancel] {
          // A child made and timed out on the thread, then the parent
          // cancelled from it.
          auto [c, stop] = goro::with_timeout(ctx, 2ms);
          EXPECT_EQ(goro::sleep_for(c, 1h), errc::deadline_exceeded);
          EXPECT_FALSE(c.done().recv().has_value());
          auto [c2, stop2] = goro::with_timeout(ctx, 2ms);
          EXPECT_FALSE(c2.done().recv().has_value());
          EXPECT_EQ(c2.err(), errc::deadline_exceeded);
          auto t0 = clock_type::now();
          EXPECT_FALSE(goro::sleep_for(ctx, 2ms)) << "the time passed first";
          EXPECT_GE(clock_type::now() - t0, 2ms);
          cancel();
          EXPECT_EQ(goro::sleep_for(ctx, 1h), errc::canceled);
        });
        wg.wait();
        EXPECT_TRUE(ran.recv().has_value());
        EXPECT_FALSE(stop());
        goro::blocking([&] { t.join(); });
      },
      goro_test::threads_wake_goroutines(procs(2)));
}

// Ours: made before run, used inside, cancelled and used after; a pending
// deadline timer when run returns does not dangle.
TEST(ContextTest, OutlivesRuntime) {
  goro_test::watchdog wd(60s);
  // Not a structured binding: the lambda below captures it (clang-14).
  auto made = goro::with_cancel(goro::background());
  goro::context ctx = made.first;
  std::function<void()> cancel = made.second;
  auto [past, stop_past] = goro::with_timeout(ctx, -1s);  // past: no runtime needed
  EXPECT_EQ(past.err(), errc::deadline_exceeded);
  EXPECT_THROW(goro::with_timeout(ctx, 1h), std::logic_error)
      << "a future deadline needs a runtime";
  goro::context pending;
  std::function<void()> stop_pending;
  goro::run(
      [&] {
        auto [c, stop] = goro::with_timeout(ctx, 1h);
        pending = c;
        stop_pending = stop;
        auto [quick, s2] = goro::with_timeout(ctx, 1ms);
        EXPECT_TRUE(wait_done(quick));
        EXPECT_FALSE(ctx.err());
      },
      procs(2));
  EXPECT_FALSE(pending.err());
  std::atomic<bool> ran{false};
  goro::after_func(ctx, [&] { ran = true; });
  cancel();  // no runtime: the after_func runs on a thread
  EXPECT_EQ(pending.err(), errc::canceled);
  EXPECT_FALSE(pending.done().recv().has_value());
  stop_pending();
  while (!ran) std::this_thread::yield();
  EXPECT_EQ(goro::sleep_for(ctx, 1h), errc::canceled);
}

// Ours: the sleep forms.
TEST(ContextTest, SleepForms) {
  run2([] {
    auto t0 = clock_type::now();
    EXPECT_FALSE(goro::sleep_for(goro::background(), 2ms));
    EXPECT_GE(clock_type::now() - t0, 2ms);
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    t0 = clock_type::now();
    EXPECT_FALSE(goro::sleep_until(ctx, t0 + 3ms));
    EXPECT_GE(clock_type::now() - t0, 3ms) << "woke early";
    EXPECT_FALSE(goro::sleep_for(ctx, 0s));
    goro::wait_group wg;
    go_counted(wg, [cancel = cancel] {
      goro::sleep_for(2ms);
      cancel();
    });
    t0 = clock_type::now();
    EXPECT_EQ(goro::sleep_for(ctx, 1h), errc::canceled);
    wg.wait();
    EXPECT_LT(clock_type::now() - t0, 30s);
    EXPECT_EQ(goro::sleep_for(ctx, 0s), errc::canceled) << "already cancelled";
    auto [tctx, stop] = goro::with_timeout(goro::background(), 2ms);
    EXPECT_EQ(goro::sleep_for(tctx, std::chrono::hours::max()), errc::deadline_exceeded);
  });
}

}  // namespace
