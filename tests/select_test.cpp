// goro::select against Go's select semantics (The Go Programming Language
// Specification, "Select statements"; runtime/select.go): uniform choice
// among ready cases, default, parking on every channel, close, nil channels,
// self-select, and no value lost or duplicated under contention.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"

namespace {

using goro_test::procs;

TEST(SelectTest, FairAmongReadyCases) {
  // Two cases that are always ready: each must run about half the time.
  // (A select that always took the first ready case would give 100% / 0%.)
  constexpr int n = 10000;
  goro::run([] {
    goro::chan<int> a(n), b(n);
    for (int i = 0; i < n; i++) {
      a.send(i);
      b.send(i);
    }
    int hits[2] = {0, 0};
    for (int i = 0; i < n; i++) {
      std::size_t k = goro::select(goro::on_recv(a, [](std::optional<int> v) { ASSERT_TRUE(v); }),
                                   goro::on_recv(b, [](std::optional<int> v) { ASSERT_TRUE(v); }));
      ASSERT_LT(k, 2u);
      hits[k]++;
    }
    EXPECT_GE(hits[0], n * 40 / 100);
    EXPECT_LE(hits[0], n * 60 / 100);
    EXPECT_GE(hits[1], n * 40 / 100);
    EXPECT_LE(hits[1], n * 60 / 100);
    // Received values are in FIFO order per channel, and the counts add up.
    EXPECT_EQ(a.size() + b.size(), static_cast<std::size_t>(n));
  });
}

TEST(SelectTest, FairAmongThreeMixedCases) {
  // A send case and two receive cases (one on a closed channel), all ready.
  constexpr int n = 9000;
  goro::run([] {
    goro::chan<int> out(n), in(n), closed;
    closed.close();
    for (int i = 0; i < n; i++) in.send(i);
    int hits[3] = {0, 0, 0};
    for (int i = 0; i < n; i++)
      hits[goro::select(goro::on_send(out, i), goro::on_recv(in),
                        goro::on_recv(closed, [](std::optional<int> v) { ASSERT_FALSE(v); }))]++;
    for (int h : hits) {
      EXPECT_GE(h, n / 3 * 80 / 100);
      EXPECT_LE(h, n / 3 * 120 / 100);
    }
    EXPECT_EQ(out.size(), static_cast<std::size_t>(hits[0]));
    EXPECT_EQ(in.size(), static_cast<std::size_t>(n - hits[1]));
  });
}

TEST(SelectTest, DefaultRunsOnlyWhenNothingIsReady) {
  goro::run([] {
    goro::chan<int> a, b(1);
    bool ran_default = false;
    std::size_t k = goro::select(goro::on_recv(a), goro::on_default([&] { ran_default = true; }),
                                 goro::on_recv(b));
    EXPECT_EQ(k, 1u);  // the argument index of on_default
    EXPECT_TRUE(ran_default);
    // A full buffer: a send case is not ready either.
    b.send(1);
    k = goro::select(goro::on_send(b, 2), goro::on_default());
    EXPECT_EQ(k, 1u);
    EXPECT_EQ(b.size(), 1u);
    // Now b has a value: its receive case runs, never the default.
    std::optional<int> got;
    k = goro::select(goro::on_default(), goro::on_recv(b, [&](std::optional<int> v) { got = v; }));
    EXPECT_EQ(k, 1u);
    EXPECT_EQ(got, 1);
  });
}

TEST(SelectTest, ParksOnAllAndLeavesNoStaleWaiters) {
  // A select parks on three channels; a sender on the second wakes it.
  // Afterwards the other channels must hold no waiter of the finished select:
  // a try_send on them finds no receiver.
  for (unsigned np : {1u, 2u}) {
    goro::run(
        [] {
          for (int round = 0; round < 200; round++) {
            goro::chan<int> a, b, c;
            std::atomic<bool> started{false};
            // Joined through a channel (closed when the goroutine is done):
            // the goroutine's own handle keeps it alive until it returns.
            goro::chan<int> done;
            std::size_t which = 99;
            std::optional<int> got;
            goro::go([&, done]() mutable {
              started = true;
              which = goro::select(goro::on_recv(a, [&](std::optional<int> v) { got = v; }),
                                   goro::on_recv(b, [&](std::optional<int> v) { got = v; }),
                                   goro::on_recv(c, [&](std::optional<int> v) { got = v; }));
              done.close();
            });
            while (!started) goro::yield();
            b.send(round);  // parks until the select takes it
            EXPECT_EQ(done.recv(), std::nullopt);
            EXPECT_EQ(which, 1u);
            EXPECT_EQ(got, round);
            int v = 0;
            EXPECT_FALSE(a.try_send(v));
            EXPECT_FALSE(c.try_send(v));
            EXPECT_FALSE(b.try_send(v));
          }
        },
        procs(np));
  }
}

TEST(SelectTest, SendCaseDeliversToParkedReceiver) {
  goro::run(
      [] {
        goro::chan<std::string> a, b;
        goro::wait_group wg;
        wg.add(1);
        std::optional<std::string> got;
        goro::go([&] {
          got = b.recv();
          wg.done();
        });
        goro::yield();  // the receiver parks on b
        bool sent = false;
        std::size_t k = goro::select(goro::on_send(a, "to a"),
                                     goro::on_send(b, std::string("to b"), [&] { sent = true; }));
        EXPECT_EQ(k, 1u);
        EXPECT_TRUE(sent);
        wg.wait();
        EXPECT_EQ(got, "to b");
      },
      procs(1));
}

TEST(SelectTest, BlockedSendSelectIsWokenByReceiver) {
  goro::run(
      [] {
        goro::chan<int> a, b;
        goro::wait_group wg;
        wg.add(1);
        std::size_t k = 99;
        goro::go([&] {
          k = goro::select(goro::on_send(a, 1), goro::on_send(b, 2));
          wg.done();
        });
        goro::yield();
        EXPECT_EQ(a.recv(), 1);
        wg.wait();
        EXPECT_EQ(k, 0u);
        int v = 0;
        EXPECT_FALSE(b.try_recv().has_value());  // the other send did not happen
        EXPECT_FALSE(b.try_send(v));             // and left no parked sender behind
      },
      procs(2));
}

TEST(SelectTest, CloseWakesAParkedSelect) {
  goro::run(
      [] {
        // Receive case: the closed channel's case runs with nullopt.
        goro::chan<int> a, b;
        goro::wait_group wg;
        wg.add(1);
        std::size_t k = 99;
        bool got_nullopt = false;
        goro::go([&] {
          k = goro::select(goro::on_recv(a),
                           goro::on_recv(b, [&](std::optional<int> v) { got_nullopt = !v; }));
          wg.done();
        });
        goro::yield();
        b.close();
        wg.wait();
        EXPECT_EQ(k, 1u);
        EXPECT_TRUE(got_nullopt);
        // Send case: the select throws closed_channel.
        goro::chan<int> c, d;
        bool threw = false;
        wg.add(1);
        goro::go([&] {
          try {
            goro::select(goro::on_send(c, 1), goro::on_recv(d));
          } catch (const goro::closed_channel&) {
            threw = true;
          }
          wg.done();
        });
        goro::yield();
        c.close();
        wg.wait();
        EXPECT_TRUE(threw);
        // A ready send case on a closed channel throws too, even with a default.
        EXPECT_THROW(goro::select(goro::on_send(c, 1), goro::on_default()), goro::closed_channel);
        int v = 0;
        EXPECT_FALSE(d.try_send(v));  // no waiter left behind on d
      },
      procs(1));
}

TEST(SelectTest, SelfSelectOnOneChannel) {
  goro::run(
      [] {
        // Buffered, capacity 1: from empty only the send is ready, from full
        // only the receive; so the select alternates and never loses a value.
        goro::chan<int> c(1);
        int next = 0, received = 0;
        for (int i = 0; i < 1000; i++) {
          std::size_t k = goro::select(goro::on_send(c, next),
                                       goro::on_recv(c, [&](std::optional<int> v) {
                                         ASSERT_TRUE(v);
                                         EXPECT_EQ(*v, received);
                                         received++;
                                       }));
          if (k == 0) next++;
          EXPECT_EQ(k, static_cast<std::size_t>(i % 2));
        }
        EXPECT_EQ(next, 500);
        EXPECT_EQ(received, 500);

        // Unbuffered: the select parks on both queues of one channel. A
        // partner that receives takes the send case; one that sends takes the
        // receive case. Each select completes exactly one case.
        goro::chan<int> u;
        constexpr int rounds = 2000;
        std::atomic<int> partner_got{0}, partner_sent{0};
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] {
          for (int i = 0; i < rounds; i++) {
            if (i % 2 == 0) {
              auto v = u.recv();
              if (v == 7) partner_got++;
            } else {
              u.send(9);
              partner_sent++;
            }
          }
          wg.done();
        });
        int sends = 0, recvs = 0;
        for (int i = 0; i < rounds; i++) {
          goro::select(goro::on_send(u, 7, [&] { sends++; }),
                       goro::on_recv(u, [&](std::optional<int> v) {
                         EXPECT_EQ(v, 9);
                         recvs++;
                       }));
        }
        wg.wait();
        EXPECT_EQ(sends, rounds / 2);
        EXPECT_EQ(recvs, rounds / 2);
        EXPECT_EQ(partner_got.load(), rounds / 2);
        EXPECT_EQ(partner_sent.load(), rounds / 2);
      },
      procs(2));
}

TEST(SelectTest, SameChannelTwiceInOneSelect) {
  goro::run(
      [] {
        goro::chan<int> c;
        goro::wait_group wg;
        wg.add(1);
        int count = 0;
        goro::go([&] {
          for (int i = 0; i < 100; i++)
            goro::select(goro::on_recv(c, [&](std::optional<int>) { count++; }),
                         goro::on_recv(c, [&](std::optional<int>) { count++; }));
          wg.done();
        });
        for (int i = 0; i < 100; i++) c.send(i);
        wg.wait();
        EXPECT_EQ(count, 100);
        int v = 0;
        EXPECT_FALSE(c.try_send(v));  // no stale waiter from either case
      },
      procs(2));
}

TEST(SelectTest, NilChannelCasesNeverRun) {
  goro::run([] {
    goro::chan<int> nil;
    goro::chan<int> keep = std::move(nil);  // nil is now a nil channel
    goro::chan<int> ready(1);
    ready.send(5);
    for (int i = 0; i < 100; i++) {
      // A moved-from chan is a nil channel (goro/chan.hpp): the use is the test.
      // NOLINTNEXTLINE(bugprone-use-after-move)
      std::size_t k = goro::select(goro::on_recv(nil), goro::on_send(nil, 1), goro::on_default());
      EXPECT_EQ(k, 2u);
    }
    std::size_t k = goro::select(goro::on_recv(nil), goro::on_recv(ready));
    EXPECT_EQ(k, 1u);
  });
}

TEST(SelectTest, ManyCases) {
  // More cases than selectgo keeps on its stack (8).
  goro::run(
      [] {
        constexpr int n = 20;
        std::vector<goro::chan<int>> cs(n);
        goro::wait_group wg;
        wg.add(1);
        std::vector<int> got(n, -1);
        goro::go([&] {
          for (int r = 0; r < n; r++) {
            // Receive once from each channel, in whatever order they come.
            auto on = [&](int i) {
              return goro::on_recv(cs[i], [&, i](std::optional<int> v) { got[i] = *v; });
            };
            goro::select(on(0), on(1), on(2), on(3), on(4), on(5), on(6), on(7), on(8), on(9),
                         on(10), on(11), on(12), on(13), on(14), on(15), on(16), on(17), on(18),
                         on(19));
          }
          wg.done();
        });
        for (int i = n; i-- > 0;) cs[i].send(i * 10);
        wg.wait();
        for (int i = 0; i < n; i++) EXPECT_EQ(got[i], i * 10);
      },
      procs(2));
}

// Producers select-send over several channels, consumers select-receive over
// all of them: every value is received exactly once.
void select_many_to_many(unsigned nprocs, std::size_t cap) {
  constexpr int producers = 6, consumers = 6, per_producer = 3000;
  constexpr int total = producers * per_producer;
  std::vector<int> counts = goro::run(
      [cap] {
        goro::chan<int> c0(cap), c1(cap), c2(cap);
        std::vector<std::atomic<int>> seen(total);
        goro::wait_group prod, cons;
        prod.add(producers);
        cons.add(consumers);
        for (int p = 0; p < producers; p++)
          goro::go([&, p] {
            for (int i = 0; i < per_producer; i++) {
              int v = p * per_producer + i;
              goro::select(goro::on_send(c0, v), goro::on_send(c1, v), goro::on_send(c2, v));
            }
            prod.done();
          });
        for (int k = 0; k < consumers; k++)
          goro::go([&] {
            int open = 3;
            // A closed, drained channel would always be ready: replace it
            // with a nil channel, Go's idiom for disabling a case.
            goro::chan<int> mine[3] = {c0, c1, c2};
            while (open > 0) {
              std::size_t idx = 99;
              std::optional<int> got;
              auto on = [&](std::size_t i) {
                return goro::on_recv(mine[i], [&, i](std::optional<int> v) {
                  idx = i;
                  got = std::move(v);
                });
              };
              goro::select(on(0), on(1), on(2));
              if (got) {
                seen[*got].fetch_add(1, std::memory_order_relaxed);
              } else {
                goro::chan<int> drop = std::move(mine[idx]);
                open--;
              }
            }
            cons.done();
          });
        prod.wait();
        c0.close();
        c1.close();
        c2.close();
        cons.wait();
        std::vector<int> out;
        for (auto& s : seen) out.push_back(s.load());
        return out;
      },
      procs(nprocs));
  for (int i = 0; i < total; i++) ASSERT_EQ(counts[i], 1) << "value " << i;
}

TEST(SelectTest, NoValueLostOrDuplicatedUnbufferedProcs1) { select_many_to_many(1, 0); }
TEST(SelectTest, NoValueLostOrDuplicatedUnbufferedProcs2) { select_many_to_many(2, 0); }
TEST(SelectTest, NoValueLostOrDuplicatedBufferedProcs2) { select_many_to_many(2, 4); }

TEST(SelectTest, SelectsOnBothSidesNeverDuplicate) {
  // Every sender and every receiver is a select with two cases on the same
  // two unbuffered channels: a hand-off is always between two parked or
  // polling selects, each of which must complete exactly one case.
  constexpr int pairs = 4, per = 3000;
  std::vector<int> counts = goro::run(
      [] {
        goro::chan<int> a, b;
        std::vector<std::atomic<int>> seen(pairs * per);
        goro::wait_group wg;
        wg.add(2 * pairs);
        for (int p = 0; p < pairs; p++) {
          goro::go([&, p] {
            for (int i = 0; i < per; i++) {
              int v = p * per + i;
              goro::select(goro::on_send(a, v), goro::on_send(b, v));
            }
            wg.done();
          });
          goro::go([&] {
            for (int i = 0; i < per; i++) {
              auto take = [&](std::optional<int> v) { seen[*v].fetch_add(1); };
              goro::select(goro::on_recv(a, take), goro::on_recv(b, take));
            }
            wg.done();
          });
        }
        wg.wait();
        std::vector<int> out;
        for (auto& s : seen) out.push_back(s.load());
        return out;
      },
      procs(2));
  for (int i = 0; i < pairs * per; i++) ASSERT_EQ(counts[i], 1) << "value " << i;
}

TEST(SelectTest, ForeignThreadSelects) {
  // A thread outside the runtime blocks in select (on a futex) until a
  // goroutine sends on one of its channels.
  goro::chan<int> a, b;
  goro::chan<int> done;
  std::atomic<bool> running{false}, thread_done{false};
  long sum = 0;
  std::thread t([&] {
    while (!running) std::this_thread::yield();
    int open = 2;
    goro::chan<int> mine[2] = {a, b};
    while (open > 0) {
      std::optional<int> got;
      std::size_t k = goro::select(goro::on_recv(mine[0], [&](std::optional<int> v) { got = v; }),
                                   goro::on_recv(mine[1], [&](std::optional<int> v) { got = v; }));
      if (got) {
        sum += *got;
      } else {
        goro::chan<int> drop = std::move(mine[k]);
        open--;
      }
    }
    done.close();
    thread_done = true;
  });
  goro::run(
      [&] {
        running = true;
        for (int i = 1; i <= 1000; i++) (i % 2 ? a : b).send(i);
        a.close();
        b.close();
        EXPECT_EQ(done.recv(), std::nullopt);
        // Keep the runtime up until the thread is out of every goro call.
        while (!thread_done.load()) goro::yield();
      },
      goro_test::threads_wake_goroutines(procs(2)));
  t.join();
  EXPECT_EQ(sum, 500500);
}

}  // namespace
