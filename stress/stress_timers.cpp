// Stress: timers and asynchronous preemption under gomaxprocs churn.
// Suite overview: stress_support.hpp.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/runtime.hpp"
#include "stress_support.hpp"
#include "sysmon/sysmon.hpp"
#include "watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using namespace goro_stress;

// Timers and asynchronous preemption under gomaxprocs churn. Per round:
//  - 2000 sleepers, 3 timed waits each, picked at random: sleep_for(d),
//    sleep_until(t0 + d), select over after(d) and a channel nobody sends
//    on (the timeout must win), select over after(d) and a channel a
//    kicker closes at a random moment (either may win), d from 0 to 2 ms,
//    or a blocking call (blocking or blocking_long) sleeping d / 8;
//  - a foreign thread sending 200 values to a goroutine (goready without a
//    P), all of which must arrive;
//  - 3 spinners running call-free bursts (integer and floating-point state
//    in registers) whose results are compared with a reference computed on
//    a plain thread: a preemption that lost a register shows up here;
//  - a churner resizing between 1 and 4 Ps every few hundred microseconds
//    (stop-the-world must preempt the spinners; under the auditor every
//    resize checks OneGPlace with hundreds of goroutines parked on timers
//    and channels).
// Checked: no wait returns early (steady_clock, the timers' clock), every
// after() channel receives exactly one value (in its select, or drained at
// the end with a generous 30 s bound; a second value would be left over),
// the value is not before t0 + d, every sleeper and spinner finishes, and
// the spinners' results are exact. Where asynchronous preemption is
// available (not under TSan) the spinners never call anything until told to
// stop, so only asynchronous preemption lets the sleepers, the churner and
// stop-the-world run at procs 1; the test then also requires that some
// happened. Elsewhere the spinners yield between bursts. Bounds only: no
// lateness is asserted.
namespace timers {

// A call-free burst: nothing in the loop but registers.
__attribute__((noinline)) std::uint64_t spin_burst(std::uint64_t x, unsigned n) {
  double f = 1.0;
  for (unsigned i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    f = f * 1.0000001 + static_cast<double>(x >> 40) * 1e-9;
    asm volatile("" : "+r"(x));
  }
  return x ^ static_cast<std::uint64_t>(f * 1e6);
}
constexpr unsigned burst_iters = 1u << 20;
constexpr int nseeds = 8;

}  // namespace timers

TEST(Stress, TimersAndAsyncPreemptionUnderResize) {
  if constexpr (goro::detail::sim)
    GTEST_SKIP() << "not under the simulation: it bounds timed waits by the real clock (sleeps "
                    "are virtual there), needs asynchronous preemption (off in a session), and "
                    "its 6000 timed waits per round cost minutes of decisions";
  using namespace timers;
  using tp = clk::time_point;
  const bool async = goro::detail::async_preempt_init();
  std::uint64_t reference[nseeds];
  std::thread([&] {  // not a goroutine: nothing preempts it
    for (int i = 0; i < nseeds; i++) reference[i] = spin_burst(0x1234u + i, burst_iters);
  })
      .join();
  const std::uint64_t seed = stress_seed();
  // A lost wake-up would hang the run: say so rather than wait for ctest.
  goro_test::watchdog wd(
      std::chrono::ceil<std::chrono::seconds>(
          std::chrono::duration<double>(budget_seconds() + 120)),
      "TimersAndAsyncPreemption: HANG (GORO_STRESS_SEED=" + std::to_string(seed) + ")");
  std::int64_t waits = 0, early = 0, afters = 0, fired = 0, extra = 0, bad_spins = 0, bursts = 0;
  std::int64_t resizes = 0, rounds = 0;
  std::uint64_t preempts = 0;
  goro::options o = procs(4, false);
  o.time_slice = 1ms;
  o.detect_deadlock = false;  // a goroutine waits for the feeder thread
  goro::run(
      [&] {
        goro::detail::runtime* rt;
        {
          goro::detail::nopreempt np;
          rt = goro::detail::getm()->rt;
        }
        xorshift r{seed | 1};
        rounds = for_budget([&](int) {
          constexpr int sleepers = 2000, per = 3, spinners = 3;
          std::atomic<std::int64_t> n_waits{0}, n_early{0}, n_fired{0}, n_bad{0}, n_bursts{0};
          std::atomic<bool> stop{false};
          goro::chan<int> never(0), kick(0);
          std::vector<goro::chan<tp>> pending(sleepers * per, goro::chan<tp>(1));
          std::vector<char> used(sleepers * per, 0), got(sleepers * per, 0);
          goro::wait_group done, background;
          done.add(sleepers);
          background.add(spinners + 3);
          // A foreign thread feeds a goroutine over a channel: goready from
          // a thread without a P (injectg), also while the world is stopped.
          constexpr int feeds = 200;
          std::atomic<int> fed{0};
          goro::chan<int> feed(0);
          std::thread feeder([&, s = r.next()] {
            xorshift fr{s | 1};
            for (int k = 0; k < feeds; k++) {
              std::this_thread::sleep_for(std::chrono::microseconds(fr.next() % 50));
              feed.send(k);
            }
          });
          goro::go([&] {
            for (int k = 0; k < feeds; k++)
              if (feed.recv() == k) fed.fetch_add(1, std::memory_order_relaxed);
            background.done();
          });
          for (int k = 0; k < spinners; k++)
            goro::go([&, k] {
              std::int64_t local_bursts = 0;
              for (int i = 0; !stop.load(std::memory_order_relaxed); i++) {
                int which = (k + i) % nseeds;
                if (spin_burst(0x1234u + which, burst_iters) != reference[which])
                  n_bad.fetch_add(1, std::memory_order_relaxed);
                local_bursts++;
                if (!async) goro::yield();
              }
              n_bursts.fetch_add(local_bursts);
              background.done();
            });
          goro::go([&, s = r.next()] {  // churner
            xorshift cr{s | 1};
            while (!stop.load(std::memory_order_relaxed)) {
              goro::gomaxprocs(1 + static_cast<unsigned>(cr.next() % 4));
              resizes++;
              goro::sleep_for(std::chrono::microseconds(cr.next() % 500));
            }
            background.done();
          });
          goro::go([&, s = r.next()] {  // kicker
            goro::sleep_for(std::chrono::microseconds(s % 2000));
            kick.close();
            background.done();
          });
          for (int i = 0; i < sleepers; i++)
            goro::go([&, i, s = r.next()] {
              xorshift sr{s | 1};
              for (int j = 0; j < per; j++) {
                auto d = std::chrono::nanoseconds(sr.next() % 2'000'000);
                if (sr.next() % 8 == 0) d = std::chrono::nanoseconds(sr.next() % 1000);
                int slot = i * per + j;
                tp t0 = clk::now();
                bool ok_value = true;
                switch (sr.next() % 5) {
                  case 0: goro::sleep_for(d); break;
                  case 1: goro::sleep_until(t0 + d); break;
                  case 4: {
                    // A blocking call (the thread sleeps): an M in a call,
                    // with or without its P, whenever the world stops.
                    d /= 8;
                    auto call = [d] { std::this_thread::sleep_for(d); };
                    if (sr.next() % 2) goro::blocking(call);
                    else goro::blocking_long(call);
                    break;
                  }
                  case 2: {
                    pending[slot] = goro::after(d);
                    used[slot] = 1;
                    std::size_t c = goro::select(
                        goro::on_recv(pending[slot],
                                      [&](std::optional<tp> v) { ok_value = v && *v >= t0 + d; }),
                        goro::on_recv(never, [] {}));
                    if (c != 0) ok_value = false;
                    got[slot] = 1;
                    n_fired.fetch_add(1, std::memory_order_relaxed);
                    break;
                  }
                  default: {
                    pending[slot] = goro::after(d);
                    used[slot] = 1;
                    bool timed_out = false;
                    goro::select(goro::on_recv(pending[slot],
                                               [&](std::optional<tp> v) {
                                                 timed_out = true;
                                                 ok_value = v && *v >= t0 + d;
                                               }),
                                 goro::on_recv(kick, [] {}));
                    if (timed_out) {
                      got[slot] = 1;
                      n_fired.fetch_add(1, std::memory_order_relaxed);
                    } else {
                      d = std::chrono::nanoseconds(0);  // kicked: no lower bound
                    }
                    break;
                  }
                }
                tp t1 = clk::now();
                if (t1 - t0 < d || !ok_value) n_early.fetch_add(1, std::memory_order_relaxed);
                n_waits.fetch_add(1, std::memory_order_relaxed);
              }
              done.done();
            });
          done.wait();
          stop.store(true);
          background.wait();
          feeder.join();
          EXPECT_EQ(fed.load(), feeds);
          // Every after() timer fires exactly once: one that lost its select
          // to the kick still delivers its value (within a generous 30 s),
          // and afterwards no channel holds a second one.
          std::int64_t n_afters = 0, n_drained = 0, n_extra = 0;
          for (std::size_t k = 0; k < pending.size(); k++) {
            if (!used[k]) continue;
            n_afters++;
            if (got[k]) continue;
            auto limit = clk::now() + 30s;
            while (clk::now() < limit) {
              if (pending[k].try_recv()) {
                n_drained++;
                break;
              }
              goro::sleep_for(100us);
            }
          }
          for (std::size_t k = 0; k < pending.size(); k++)
            if (used[k] && pending[k].try_recv()) n_extra++;
          waits += n_waits.load();
          early += n_early.load();
          afters += n_afters;
          fired += n_fired.load() + n_drained;
          extra += n_extra;
          bad_spins += n_bad.load();
          bursts += n_bursts.load();
          EXPECT_EQ(n_waits.load(), sleepers * per);
        });
        preempts = rt->nasync_preempts.load();
      },
      o);
  std::printf("TimersAndAsyncPreemption: %lld rounds, %lld waits, %lld after() timers, %lld "
              "resizes, %lld spinner bursts, %llu async preemptions (seed %llu)\n",
              (long long)rounds, (long long)waits, (long long)afters, (long long)resizes,
              (long long)bursts, (unsigned long long)preempts, (unsigned long long)seed);
  EXPECT_EQ(early, 0) << "timed waits that returned before their duration (or a wrong value)";
  EXPECT_EQ(fired, afters) << "after() timers that never delivered their value";
  EXPECT_EQ(extra, 0) << "after() channels that received a second value";
  EXPECT_EQ(bad_spins, 0) << "spinner bursts whose result changed across preemption";
  EXPECT_GT(resizes, 0);
  EXPECT_GT(bursts, 0);
  if (async) {
    EXPECT_GT(preempts, 0u) << "call-free spinners were never preempted asynchronously";
  }
}

}  // namespace
