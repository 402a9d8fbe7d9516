// goro::chan against Go's channel semantics (The Go Programming Language
// Specification, "Channel types", "Send statements", "Receive operator",
// "Close"; runtime/chan.go): hand-off, buffering, FIFO order, close, values
// moved exactly once, many producers and consumers, foreign threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

namespace {

using goro_test::procs;

// Counts moves, copies and live objects of itself.
struct tracked {
  static inline std::atomic<int> moves{0}, live{0};
  int v = 0;
  explicit tracked(int x) : v(x) { live++; }
  tracked(tracked&& o) noexcept : v(o.v) {
    o.v = -1;
    moves++;
    live++;
  }
  tracked(const tracked&) = delete;
  tracked& operator=(const tracked&) = delete;
  ~tracked() { live--; }
  static void reset() {
    moves = 0;
    live = 0;
  }
};

class ChanProcs : public ::testing::TestWithParam<unsigned> {};

INSTANTIATE_TEST_SUITE_P(Procs, ChanProcs, ::testing::Values(1u, 2u),
                         [](const auto& info) { return "procs" + std::to_string(info.param); });

TEST_P(ChanProcs, UnbufferedDeliversInOrder) {
  constexpr int n = 20000;
  std::vector<int> got = goro::run(
      [] {
        goro::chan<int> c;
        goro::go([c]() mutable {
          for (int i = 0; i < n; i++) c.send(i);
          c.close();
        });
        std::vector<int> out;
        while (auto v = c.recv()) out.push_back(*v);
        return out;
      },
      procs(GetParam()));
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; i++) ASSERT_EQ(got[i], i);
}

TEST_P(ChanProcs, UnbufferedSendWaitsForReceiver) {
  // An unbuffered send completes only together with a receive: the sender
  // cannot run ahead of the receiver by even one value.
  goro::run(
      [] {
        goro::chan<int> c;
        std::atomic<int> sent{0};
        goro::wait_group done;
        done.add(1);
        goro::go([&, c]() mutable {
          for (int i = 0; i < 1000; i++) {
            c.send(i);
            sent.fetch_add(1);
          }
          done.done();
        });
        for (int i = 0; i < 1000; i++) {
          // Before our i-th receive, at most i sends have completed.
          EXPECT_LE(sent.load(), i);
          EXPECT_EQ(c.recv(), i);
        }
        done.wait();
        EXPECT_EQ(sent.load(), 1000);
      },
      procs(GetParam()));
}

TEST_P(ChanProcs, BufferedIsFifoAndBoundedByCapacity) {
  goro::run(
      [] {
        goro::chan<int> c(4);
        EXPECT_EQ(c.capacity(), 4u);
        EXPECT_EQ(c.size(), 0u);
        for (int i = 0; i < 4; i++) c.send(i);  // never parks: room in the buffer
        EXPECT_EQ(c.size(), 4u);
        int v = 99;
        EXPECT_FALSE(c.try_send(v));
        EXPECT_EQ(v, 99);  // not moved from on failure
        // A sender parked on the full buffer: its value goes to the tail
        // when the head is received.
        goro::wait_group wg;
        wg.add(1);
        goro::go([&, c]() mutable {
          c.send(4);
          wg.done();
        });
        goro::yield();
        for (int i = 0; i < 5; i++) EXPECT_EQ(c.recv(), i);
        wg.wait();
        EXPECT_EQ(c.size(), 0u);
        EXPECT_FALSE(c.try_recv().has_value());
      },
      procs(GetParam()));
}

TEST_P(ChanProcs, PingPongRoundTrips) {
  goro::run(
      [] {
        goro::chan<int> ping, pong;
        goro::go([ping, pong]() mutable {
          while (auto v = ping.recv()) pong.send(*v + 1);
          pong.close();
        });
        for (int i = 0; i < 10000; i++) {
          ping.send(i);
          ASSERT_EQ(pong.recv(), i + 1);
        }
        ping.close();
        EXPECT_EQ(pong.recv(), std::nullopt);
      },
      procs(GetParam()));
}

TEST_P(ChanProcs, CloseWakesEveryParkedReceiver) {
  goro::run(
      [] {
        goro::chan<int> c;
        constexpr int n = 50;
        std::atomic<int> got_nullopt{0}, parked{0};
        goro::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; i++)
          goro::go([&, c]() mutable {
            parked.fetch_add(1);
            if (!c.recv()) got_nullopt.fetch_add(1);
            wg.done();
          });
        while (parked.load() < n) goro::yield();
        c.close();
        wg.wait();
        EXPECT_EQ(got_nullopt.load(), n);
      },
      procs(GetParam()));
}

TEST_P(ChanProcs, CloseWakesEveryParkedSenderWithClosedChannel) {
  goro::run(
      [] {
        for (std::size_t cap : {0u, 2u}) {
          goro::chan<int> c(cap);
          for (std::size_t i = 0; i < cap; i++) c.send(-1);  // fill the buffer
          constexpr int n = 50;
          std::atomic<int> threw{0}, delivered{0}, started{0};
          goro::chan<int> finished(n);  // a join that outlives this loop body safely
          for (int i = 0; i < n; i++)
            goro::go([&, c, i, finished]() mutable {
              started.fetch_add(1);
              try {
                c.send(i);
                delivered.fetch_add(1);
              } catch (const goro::closed_channel&) {
                threw.fetch_add(1);
              }
              finished.send(0);
            });
          // Let every sender park (none can complete: nobody receives).
          while (started.load() < n) goro::yield();
          for (int k = 0; k < 10; k++) goro::yield();
          c.close();
          for (int i = 0; i < n; i++) finished.recv();
          EXPECT_EQ(threw.load() + delivered.load(), n);
          EXPECT_EQ(delivered.load(), 0);
          // The buffered values are still received after close, then nullopt.
          for (std::size_t i = 0; i < cap; i++) EXPECT_EQ(c.recv(), -1);
          EXPECT_EQ(c.recv(), std::nullopt);
        }
      },
      procs(GetParam()));
}

TEST(ChanTest, CloseSemantics) {
  goro::run([] {
    goro::chan<std::string> c(3);
    c.send("a");
    c.send("b");
    c.close();
    EXPECT_THROW(c.send("c"), goro::closed_channel);
    std::string s = "d";
    EXPECT_THROW((void)c.try_send(s), goro::closed_channel);
    EXPECT_EQ(s, "d");
    EXPECT_THROW(c.close(), goro::closed_channel);
    EXPECT_EQ(c.recv(), "a");
    EXPECT_EQ(c.try_recv(), "b");
    EXPECT_EQ(c.recv(), std::nullopt);
    EXPECT_EQ(c.recv(), std::nullopt);  // stays closed
    EXPECT_EQ(c.try_recv(), std::nullopt);
  });
}

TEST(ChanTest, TrySendAndTryRecvNeverPark) {
  goro::run(
      [] {
        goro::chan<int> c;  // unbuffered: only a parked partner makes them succeed
        int v = 1;
        EXPECT_FALSE(c.try_send(v));
        EXPECT_FALSE(c.try_recv().has_value());
        // With a parked receiver, try_send hands over directly.
        std::atomic<bool> parked{false};
        goro::wait_group wg;
        wg.add(1);
        std::optional<int> got;
        goro::go([&, c]() mutable {
          parked = true;
          got = c.recv();
          wg.done();
        });
        while (!parked) goro::yield();
        goro::yield();  // the receiver parks (procs 1: it runs until it parks)
        v = 7;
        EXPECT_TRUE(c.try_send(v));
        wg.wait();
        EXPECT_EQ(got, 7);
        // With a parked sender, try_recv takes its value.
        parked = false;
        wg.add(1);
        goro::go([&, c]() mutable {
          parked = true;
          c.send(8);
          wg.done();
        });
        while (!parked) goro::yield();
        goro::yield();
        EXPECT_EQ(c.try_recv(), 8);
        wg.wait();
      },
      procs(1));
}

TEST(ChanTest, HandOffMovesTheValueExactlyOnce) {
  tracked::reset();
  goro::run(
      [] {
        goro::chan<tracked> c;
        goro::wait_group wg;
        wg.add(1);
        int got = 0;
        goro::go([&, c]() mutable {
          std::optional<tracked> r = c.recv();  // parks: nobody sent yet
          got = r->v;
          wg.done();
        });
        goro::yield();  // procs 1: the receiver runs and parks
        tracked t(42);
        int before = tracked::moves.load();
        ASSERT_TRUE(c.try_send(t));  // direct hand-off into the receiver's result
        EXPECT_EQ(tracked::moves.load() - before, 1);
        EXPECT_EQ(t.v, -1);  // moved from
        wg.wait();
        EXPECT_EQ(got, 42);
      },
      procs(1));
  EXPECT_EQ(tracked::live.load(), 0);
}

TEST(ChanTest, BufferedElementsAreDestroyedWithTheChannel) {
  auto p = std::make_shared<int>(5);
  {
    goro::chan<std::shared_ptr<int>> c(10);
    for (int i = 0; i < 7; i++) c.send(p);  // works without a runtime: never parks
    EXPECT_EQ(c.recv(), p);
    EXPECT_EQ(p.use_count(), 7);
    goro::chan<std::shared_ptr<int>> copy = c;  // same channel
    EXPECT_TRUE(copy == c);
    EXPECT_EQ(copy.size(), 6u);
  }
  EXPECT_EQ(p.use_count(), 1);
}

TEST(ChanTest, MoveOnlyElements) {
  goro::run([] {
    goro::chan<std::unique_ptr<int>> c(1);
    goro::go([c]() mutable {
      for (int i = 0; i < 100; i++) c.send(std::make_unique<int>(i));
      c.close();
    });
    int expect = 0;
    while (auto v = c.recv()) EXPECT_EQ(**v, expect++);
    EXPECT_EQ(expect, 100);
  });
}

TEST(ChanTest, MovedFromHandleIsANilChannel) {
  goro::chan<int> a;
  goro::chan<int> b = std::move(a);
  int v = 1;
  // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is the test
  EXPECT_FALSE(a.try_send(v));
  EXPECT_FALSE(a.try_recv().has_value());
  EXPECT_EQ(a.capacity(), 0u);
  EXPECT_THROW(a.close(), std::logic_error);
  a = b;  // assignable again
  EXPECT_TRUE(a == b);
}

// Every value sent by any producer is received by exactly one consumer.
void many_to_many(unsigned nprocs, std::size_t cap) {
  constexpr int producers = 8, consumers = 8, per_producer = 5000;
  constexpr int total = producers * per_producer;
  std::vector<int> seen = goro::run(
      [cap] {
        goro::chan<int> c(cap);
        std::vector<std::atomic<int>> counts(total);
        goro::wait_group prod, cons;
        prod.add(producers);
        cons.add(consumers);
        for (int p = 0; p < producers; p++)
          goro::go([&, c, p]() mutable {
            for (int i = 0; i < per_producer; i++) c.send(p * per_producer + i);
            prod.done();
          });
        for (int k = 0; k < consumers; k++)
          goro::go([&, c]() mutable {
            int last[producers];
            for (int& l : last) l = -1;
            while (auto v = c.recv()) {
              counts[*v].fetch_add(1, std::memory_order_relaxed);
              // Per producer, one consumer sees values in send order (FIFO).
              int p = *v / per_producer;
              EXPECT_GT(*v, last[p]);
              last[p] = *v;
            }
            cons.done();
          });
        prod.wait();
        c.close();
        cons.wait();
        std::vector<int> out;
        for (auto& x : counts) out.push_back(x.load());
        return out;
      },
      procs(nprocs));
  for (int i = 0; i < total; i++) ASSERT_EQ(seen[i], 1) << "value " << i;
}

TEST_P(ChanProcs, ManyProducersManyConsumersUnbuffered) { many_to_many(GetParam(), 0); }
TEST_P(ChanProcs, ManyProducersManyConsumersBuffered) { many_to_many(GetParam(), 16); }

TEST(ChanForeignThread, ThreadFeedsGoroutines) {
  // A thread that is not a goroutine sends into a channel (blocking on a
  // futex while the buffer is full) and starts goroutines; goroutines
  // consume. Every value arrives exactly once.
  constexpr int n = 20000;
  goro::chan<int> c(8);
  goro::chan<long> result;
  std::atomic<bool> running{false}, feeder_done{false};
  std::thread feeder([&] {
    while (!running.load()) std::this_thread::yield();
    // goro::go from a foreign thread: injected into the global queue.
    goro::go([c, result]() mutable {
      long sum = 0;
      int count = 0;
      while (auto v = c.recv()) {
        sum += *v;
        count++;
      }
      result.send(count == n ? sum : -1);
    });
    for (int i = 0; i < n; i++) c.send(i);
    c.close();
    feeder_done = true;
  });
  long sum = goro::run(
      [&] {
        running = true;
        long s = *result.recv();
        // Keep the runtime up until the thread is out of every goro call
        // (its last close may still be readying a goroutine).
        while (!feeder_done.load()) goro::yield();
        return s;
      },
      goro_test::threads_wake_goroutines(procs(2)));
  feeder.join();
  EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2);
}

TEST(ChanForeignThread, ThreadReceivesFromGoroutinesOverUnbufferedChannel) {
  // The thread parks (futex) as a receiver and as a sender, with goroutines
  // as the partners, in both directions.
  goro::chan<int> to_thread, from_thread;
  std::atomic<bool> running{false}, thread_done{false};
  long thread_sum = 0;
  std::thread t([&] {
    while (!running.load()) std::this_thread::yield();
    while (auto v = to_thread.recv()) {
      thread_sum += *v;
      from_thread.send(*v * 2);
    }
    from_thread.close();
    thread_done = true;
  });
  long doubled = goro::run(
      [&] {
        running = true;
        long sum = 0;
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] {
          while (auto v = from_thread.recv()) sum += *v;
          wg.done();
        });
        for (int i = 1; i <= 1000; i++) to_thread.send(i);
        to_thread.close();
        wg.wait();
        while (!thread_done.load()) goro::yield();  // as in ThreadFeedsGoroutines
        return sum;
      },
      goro_test::threads_wake_goroutines(procs(2)));
  t.join();
  EXPECT_EQ(thread_sum, 500500);
  EXPECT_EQ(doubled, 2 * 500500);
}

TEST(ChanForeignThread, WaitGroupAndChannelBetweenThreadsAndGoroutines) {
  // wait_group::wait from a foreign thread blocks it until goroutines finish.
  goro::wait_group wg;
  goro::chan<int> c(100);
  std::atomic<bool> running{false};
  std::atomic<bool> waited{false};
  std::thread t([&] {
    while (!running.load()) std::this_thread::yield();
    wg.wait();
    waited = true;
    EXPECT_EQ(c.size(), 100u);
  });
  goro::run(
      [&] {
        wg.add(100);
        running = true;
        goro::chan<int> finished(100);
        for (int i = 0; i < 100; i++)
          goro::go([&, i, finished]() mutable {
            c.send(i);
            wg.done();
            finished.send(0);
          });
        while (!waited.load()) goro::yield();
        // wg lives on the test's stack: return only once every done() has
        // returned, not merely once wait() has.
        for (int i = 0; i < 100; i++) finished.recv();
      },
      goro_test::threads_wake_goroutines(procs(2)));
  t.join();
}

// Fairness without signals (issue 11): with async preemption off, a pair
// playing ping-pong on an unbuffered channel hands the P back and forth
// through runnext, keeping one time slice for ever. Go breaks such a pair at
// sysmon's next request (about one slice); goro must too, at the next park
// or ready. The bystander must run within a bound a broken mechanism never
// meets (it never runs at all then), while the pairs keep going.
void ping_pong_starves_nobody(unsigned nprocs, int pairs) {
  // On the old code the main goroutine starves as well: the watchdog fails it.
  goro_test::watchdog wd(std::chrono::seconds(30));
  goro::options o = procs(nprocs);
  o.async_preempt = false;
  std::atomic<bool> bystander_ran{false};
  std::atomic<long> exchanges{0};
  bool in_time = goro::run(
      [&] {
        std::atomic<bool> stop{false};
        goro::wait_group wg;
        wg.add(2 * pairs);
        for (int k = 0; k < pairs; k++) {
          goro::chan<int> ping, pong;
          goro::go([&, ping, pong]() mutable {
            while (!stop.load(std::memory_order_relaxed)) {
              ping.send(1);
              (void)pong.recv();
              exchanges.fetch_add(1, std::memory_order_relaxed);
            }
            ping.close();
            wg.done();
          });
          goro::go([&, ping, pong]() mutable {
            while (ping.recv()) pong.send(1);
            wg.done();
          });
        }
        goro::go([&] { bystander_ran.store(true, std::memory_order_release); });
        // The main goroutine waits outside its P (blocking), so it needs a
        // turn as well each millisecond.
        auto start = std::chrono::steady_clock::now();
        while (!bystander_ran.load(std::memory_order_acquire) &&
               std::chrono::steady_clock::now() - start < std::chrono::seconds(2))
          goro::blocking([] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); });
        bool ran = bystander_ran.load(std::memory_order_acquire);
        stop.store(true, std::memory_order_relaxed);
        wg.wait();
        return ran;
      },
      o);
  EXPECT_TRUE(in_time) << "the bystander did not run within 2 s";
  EXPECT_TRUE(bystander_ran.load());
  EXPECT_GT(exchanges.load(), 0);
}

TEST(ChanFairness, PingPongPairDoesNotStarveABystanderAtProcs1) { ping_pong_starves_nobody(1, 1); }

TEST(ChanFairness, TwoPingPongPairsDoNotStarveABystanderAtProcs2) {
  ping_pong_starves_nobody(2, 2);
}

// try_send takes rvalues and const lvalues, and moves only on success.
TEST(ChanTrySend, RvaluesConstLvaluesAndMoveOnlyValues) {
  goro::run([] {
    goro::chan<std::string> s(1);
    const std::string hello = "hello";
    EXPECT_TRUE(s.try_send(hello));  // const lvalue: copied
    EXPECT_EQ(hello, "hello");
    std::string big(64, 'x');                  // beyond the small-string buffer: a move empties it
    EXPECT_FALSE(s.try_send(std::move(big)));  // full: the rvalue is left intact
    // That a failed try_send did not move from big is what this checks.
    // NOLINTNEXTLINE(bugprone-use-after-move)
    EXPECT_EQ(big, std::string(64, 'x'));
    EXPECT_FALSE(s.try_send(std::string("temporary")));
    EXPECT_EQ(s.try_recv(), "hello");
    EXPECT_TRUE(s.try_send(std::move(big)));
    EXPECT_EQ(s.try_recv(), std::string(64, 'x'));

    goro::chan<std::unique_ptr<int>> u;  // unbuffered, nobody receiving
    auto p = std::make_unique<int>(7);
    int* raw = p.get();
    EXPECT_FALSE(u.try_send(std::move(p)));  // failed: ownership stays here
    ASSERT_TRUE(p);
    EXPECT_EQ(p.get(), raw);
    goro::chan<std::unique_ptr<int>> ub(1);
    EXPECT_TRUE(ub.try_send(std::move(p)));  // succeeded: moved into the channel
    EXPECT_FALSE(p);
    auto got = ub.try_recv();
    ASSERT_TRUE(got && *got);
    EXPECT_EQ(got->get(), raw);
    // A receiver parked on an unbuffered channel takes an rvalue directly.
    goro::chan<std::unique_ptr<int>> hand;
    goro::chan<int> done;
    goro::go([hand, done]() mutable {
      auto v = hand.recv();
      done.send(v && *v ? **v : -1);
    });
    auto q = std::make_unique<int>(9);
    while (!hand.try_send(std::move(q))) {
      ASSERT_TRUE(q);  // each failed attempt left it with us
      goro::yield();
    }
    EXPECT_FALSE(q);
    EXPECT_EQ(done.recv(), 9);
  });
}

// The lifetime pattern of issue 10, for channels: the only handle is deleted
// by the receiver as soon as its receive returns, while the sender's send
// (through a pointer to that handle) may still be returning. The channel is
// freed then; a send that touched it after waking the receiver would be a
// use after free (ASan). The audit found no such access: this guards it.
TEST(ChanLifetime, FreedByTheReceiverWhileTheSendReturns) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  goro::run(
      [] {
        for (std::size_t cap : {0u, 1u}) {
          for (int r = 0; r < 3000; r++) {
            auto* c = new goro::chan<int>(cap);
            goro::chan<int> got;
            goro::go([c, got]() mutable {
              auto v = c->recv();
              delete c;  // the last handle: frees the channel
              got.send(v.value_or(-1));
            });
            c->send(r);
            EXPECT_EQ(got.recv(), r);
          }
        }
      },
      procs(2));
}

}  // namespace
