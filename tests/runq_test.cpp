// The per-P run queue on its own, single-threaded and with real thieves:
// order, runnext, overflow to the global queue, stealing half.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "runq_shell.hpp"
#include "sched/runq.hpp"

namespace goro::detail {
namespace {

// Running Ps (two by default) and Gs made up front (1024 by default): the
// tests with real thieves share them across threads.
struct fixture : goro_test::runq_shell {
  explicit fixture(unsigned nprocs = 2, std::size_t ngs = 1024)
      : runq_shell(nprocs, pstatus::running, 0, ngs) {}
  std::vector<std::uint64_t> global_ids() {
    std::vector<std::uint64_t> v;
    for (g* x = rt->sched.runqhead; x; x = x->schedlink) v.push_back(x->goid);
    return v;
  }
  std::vector<std::uint64_t> drain(p* pp) {
    std::vector<std::uint64_t> v;
    while (g* x = runqget(pp).gp) v.push_back(x->goid);
    return v;
  }
};

using ids = std::vector<std::uint64_t>;

TEST(RunqTest, EmptyQueueGivesNothing) {
  fixture f;
  EXPECT_TRUE(runqempty(f.P(0)));
  EXPECT_EQ(runqget(f.P(0)).gp, nullptr);
  EXPECT_EQ(runqsteal(f.P(1), f.P(0), true), nullptr);
  EXPECT_EQ(runqlen(f.P(0)), 0u);
  EXPECT_EQ(globrunqget(*f.rt, f.P(0), 0), nullptr);
}

TEST(RunqTest, FifoOrderAndRunnextFirst) {
  fixture f;
  p* pp = f.P(0);
  runqput(*f.rt, pp, f.G(1), false);
  runqput(*f.rt, pp, f.G(2), false);
  runqput(*f.rt, pp, f.G(3), false);
  runqput(*f.rt, pp, f.G(4), true);
  EXPECT_FALSE(runqempty(pp));
  runq_result r = runqget(pp);
  EXPECT_EQ(r.gp, f.G(4));
  EXPECT_TRUE(r.inherit_time) << "a G from runnext inherits the time slice";
  r = runqget(pp);
  EXPECT_EQ(r.gp, f.G(1));
  EXPECT_FALSE(r.inherit_time);
  EXPECT_EQ(f.drain(pp), (ids{2, 3}));
  EXPECT_TRUE(runqempty(pp));
}

TEST(RunqTest, RunnextKicksOldRunnextToTail) {
  fixture f;
  p* pp = f.P(0);
  runqput(*f.rt, pp, f.G(1), false);
  runqput(*f.rt, pp, f.G(2), true);
  runqput(*f.rt, pp, f.G(3), true);  // 2 goes behind 1
  EXPECT_EQ(f.drain(pp), (ids{3, 1, 2}));
}

TEST(RunqTest, OverflowMovesHalfPlusNewToGlobalInOrder) {
  fixture f;
  p* pp = f.P(0);
  for (std::size_t i = 0; i < runq_capacity; i++) runqput(*f.rt, pp, f.G(i), false);
  EXPECT_EQ(runqlen(pp), runq_capacity);
  EXPECT_EQ(f.rt->sched.runqsize.load(), 0);
  runqput(*f.rt, pp, f.G(256), false);  // full: 128 oldest + G256 go global
  EXPECT_EQ(runqlen(pp), runq_capacity / 2);
  ids want_global;
  for (std::uint64_t i = 0; i < 128; i++) want_global.push_back(i);
  want_global.push_back(256);
  EXPECT_EQ(f.global_ids(), want_global);
  EXPECT_EQ(f.rt->sched.runqsize.load(), 129);
  ids want_local;
  for (std::uint64_t i = 128; i < 256; i++) want_local.push_back(i);
  EXPECT_EQ(f.drain(pp), want_local);
}

TEST(RunqTest, StealTakesHalfRoundedUp) {
  fixture f;
  p* victim = f.P(0);
  p* thief = f.P(1);
  for (std::size_t i = 0; i < 9; i++) runqput(*f.rt, victim, f.G(i), false);
  g* got = runqsteal(thief, victim, false);
  // 9 - 9/2 = 5 taken: the oldest five; one to run now, four queued.
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->goid, 4u);
  EXPECT_EQ(f.drain(thief), (ids{0, 1, 2, 3}));
  EXPECT_EQ(f.drain(victim), (ids{5, 6, 7, 8}));
}

TEST(RunqTest, RunnextStolenOnlyWhenAskedAndRingEmpty) {
  fixture f;
  p* victim = f.P(0);
  p* thief = f.P(1);
  victim->status.store(pstatus::idle);  // skip the 3us courtesy sleep
  runqput(*f.rt, victim, f.G(7), true);
  EXPECT_EQ(runqsteal(thief, victim, false), nullptr);
  EXPECT_EQ(runqsteal(thief, victim, true), f.G(7));
  EXPECT_TRUE(runqempty(victim));
}

TEST(RunqTest, GlobalGetTakesFairShareIntoLocal) {
  fixture f(2);
  for (std::size_t i = 0; i < 10; i++) globrunqput(*f.rt, f.G(i));
  g* got = globrunqget(*f.rt, f.P(0), 0);  // 10/2+1 = 6: one returned, 5 local
  EXPECT_EQ(got, f.G(0));
  EXPECT_EQ(f.drain(f.P(0)), (ids{1, 2, 3, 4, 5}));
  EXPECT_EQ(f.global_ids(), (ids{6, 7, 8, 9}));
  EXPECT_EQ(globrunqget(*f.rt, f.P(0), 1), f.G(6));
  EXPECT_EQ(f.rt->sched.runqsize.load(), 3);
}

// Many rounds of random put / put-next / get / steal / global-get on one
// thread: every G that goes in comes out exactly once.
TEST(RunqTest, RandomOpsConserveEveryG) {
  fixture f(3, 4096);
  std::mt19937 rng(12345);
  std::vector<int> seen(f.gs.size(), 0);
  std::size_t next_g = 0, taken = 0;
  auto take = [&](g* x) {
    if (!x) return;
    seen[x->goid]++;
    taken++;
  };
  for (int round = 0; round < 200000 && next_g < f.gs.size(); round++) {
    unsigned op = rng() % 10;
    p* pp = f.P(rng() % 3);
    if (op < 5) {
      runqput(*f.rt, pp, f.G(next_g++), op == 0);
    } else if (op < 8) {
      take(runqget(pp).gp);
    } else if (op < 9) {
      p* victim = f.P(rng() % 3);
      // runqsteal's precondition: the thief's own queue is empty.
      if (victim != pp && runqempty(pp)) take(runqsteal(pp, victim, rng() % 2));
    } else {
      take(globrunqget(*f.rt, pp, 0));
    }
  }
  for (unsigned i = 0; i < 3; i++)
    while (g* x = runqget(f.P(i)).gp) take(x);
  while (g* x = globrunqget(*f.rt, f.P(0), 0)) {
    take(x);
    while (g* y = runqget(f.P(0)).gp) take(y);
  }
  EXPECT_EQ(taken, next_g);
  for (std::size_t i = 0; i < next_g; i++) ASSERT_EQ(seen[i], 1) << "G" << i;
}

// One owner putting and getting, two thieves stealing, on real threads:
// every G is taken exactly once (no loss, no duplicate).
TEST(RunqTest, ConcurrentOwnerAndThievesTakeEachGOnce) {
  constexpr std::size_t n = 200000;
  fixture f(3, n);
  std::vector<std::atomic<int>> seen(n);
  std::atomic<bool> done{false};
  std::atomic<std::size_t> taken{0};
  auto record = [&](g* x) {
    seen[x->goid].fetch_add(1, std::memory_order_relaxed);
    taken.fetch_add(1, std::memory_order_relaxed);
  };
  auto thief = [&](unsigned self) {
    p* mine = f.P(self);
    while (!done.load(std::memory_order_acquire) || !runqempty(f.P(0))) {
      if (g* x = runqsteal(mine, f.P(0), true)) {
        record(x);
        while (g* y = runqget(mine).gp) record(y);
      }
    }
  };
  std::thread t1(thief, 1), t2(thief, 2);
  std::mt19937 rng(7);
  for (std::size_t i = 0; i < n; i++) {
    runqput(*f.rt, f.P(0), f.G(i), rng() % 4 == 0);
    if (rng() % 3 == 0)
      if (g* x = runqget(f.P(0)).gp) record(x);
  }
  done.store(true, std::memory_order_release);
  while (g* x = runqget(f.P(0)).gp) record(x);
  t1.join();
  t2.join();
  while (g* x = globrunqget(*f.rt, f.P(0), 0)) {
    record(x);
    while (g* y = runqget(f.P(0)).gp) record(y);
  }
  EXPECT_EQ(taken.load(), n);
  for (std::size_t i = 0; i < n; i++) ASSERT_EQ(seen[i].load(), 1) << "G" << i;
}

}  // namespace
}  // namespace goro::detail
