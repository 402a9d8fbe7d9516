// Stress: channels, select and mutex conserving every value under load,
// and blocking calls (entersyscall/exitsyscall, with and without handing the
// P off) while other goroutines compute. Suite overview: stress_support.hpp.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "goro/goro.hpp"
#include "stress_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace goro_stress;

// Channels, select and mutex under load, with more Ps than cores: a
// pipeline of stages over channels of mixed capacities, a select-based
// merger, and a mutex-guarded plain counter. Every value is conserved
// (count and sum), the counter is exact.
TEST(Stress, ChannelPipelineAndMutexConserve) {
  int rounds = 0;
  goro::run(
      [&] {
        rounds = for_budget([&](int round) {
          constexpr int producers = 4, per = sized(500, 100);
          goro::chan<std::uint64_t> a(0), b(round % 3 == 0 ? 0 : 16), out(4);
          goro::mutex mu;
          std::uint64_t guarded = 0;  // plain: only the mutex protects it
          goro::wait_group prod;
          prod.add(producers);
          for (int w = 0; w < producers; w++)
            goro::go([&, w]() {
              goro::chan<std::uint64_t>& ch = w % 2 ? a : b;
              for (int j = 0; j < per; j++) ch.send(static_cast<std::uint64_t>(w) * per + j);
              prod.done();
            });
          goro::go([&] {
            prod.wait();
            a.close();
            b.close();
          });
          // The merger: select over a and b until both are closed.
          goro::go([&] {
            goro::chan<std::uint64_t> ca = a, cb = b;
            bool oa = true, ob = true;
            // ca and cb are moved from below to make them nil channels (a
            // moved-from chan is one, goro/chan.hpp), then selected on again.
            // NOLINTBEGIN(bugprone-use-after-move)
            while (oa || ob) {
              goro::select(goro::on_recv(ca,
                                         [&](std::optional<std::uint64_t> v) {
                                           if (v) out.send(*v + 1);
                                           else oa = false;
                                         }),
                           goro::on_recv(cb, [&](std::optional<std::uint64_t> v) {
                             if (v) out.send(*v + 1);
                             else ob = false;
                           }));
              if (!oa) {
                goro::chan<std::uint64_t> gone = std::move(ca);
              }
              if (!ob) {
                goro::chan<std::uint64_t> gone = std::move(cb);
              }
            }
            // NOLINTEND(bugprone-use-after-move)
            out.close();
          });
          std::atomic<std::uint64_t> sum{0}, count{0};
          goro::wait_group cons;
          cons.add(3);
          for (int c = 0; c < 3; c++)
            goro::go([&] {
              while (std::optional<std::uint64_t> v = out.recv()) {
                sum.fetch_add(*v, std::memory_order_relaxed);
                count.fetch_add(1, std::memory_order_relaxed);
                std::lock_guard lk(mu);
                guarded++;
              }
              cons.done();
            });
          cons.wait();
          const std::uint64_t n = producers * per;
          EXPECT_EQ(count.load(), n);
          EXPECT_EQ(sum.load(), n * (n - 1) / 2 + n);  // each value 0..n-1, plus 1
          std::lock_guard lk(mu);
          EXPECT_EQ(guarded, n);
        });
      },
      procs(6));
  std::printf("ChannelPipeline: %d rounds\n", rounds);
}

// Blocking calls (Go's entersyscall/exitsyscall): goroutines block their
// threads in calls, some handing their P off at once, while others compute.
// Every goroutine finishes exactly once and the computing ones keep running
// (a P parked in a long call is handed to another M).
TEST(Stress, BlockingCallsWhileOthersRun) {
  int rounds = 0;
  goro::run(
      [&] {
        rounds = for_budget([&](int round) {
          constexpr int blockers = 8, workers = 64;
          std::atomic<int> blocked{0}, worked{0};
          goro::wait_group wg;
          wg.add(blockers + workers);
          for (int i = 0; i < blockers; i++)
            goro::go([&, i] {
              auto call = [&] {
                std::this_thread::sleep_for(std::chrono::microseconds(100 + 50 * (i % 4)));
                blocked.fetch_add(1, std::memory_order_relaxed);
              };
              if ((i + round) % 2) goro::blocking_long(call);
              else goro::blocking(call);
              wg.done();
            });
          for (int i = 0; i < workers; i++)
            goro::go([&] {
              for (int k = 0; k < 4; k++) goro::yield();
              worked.fetch_add(1, std::memory_order_relaxed);
              wg.done();
            });
          wg.wait();
          EXPECT_EQ(blocked.load(), blockers);
          EXPECT_EQ(worked.load(), workers);
        });
      },
      procs(2));
  std::printf("BlockingCalls: %d rounds\n", rounds);
}

}  // namespace
