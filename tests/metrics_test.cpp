// goro::read_metrics (include/goro/metrics.hpp, spec/metrics.md): every
// metric moves when its event happens and not otherwise, Go's names are
// there, and the latency histogram is well formed.
#include "goro/metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <set>
#include <string>

#include "base/godebug.hpp"
#include "goro/goro.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using goro_test::procs;

std::uint64_t metric(const std::vector<goro::metrics::sample>& ms, const std::string& name) {
  const goro::metrics::sample* s = goro::metrics::find(ms, name);
  EXPECT_NE(s, nullptr) << name;
  if (!s) return 0;
  EXPECT_EQ(s->kind, goro::metrics::value_kind::uint64) << name;
  return s->uint64;
}
std::uint64_t metric(const std::string& name) { return metric(goro::read_metrics(), name); }

std::uint64_t latency_samples(const std::vector<goro::metrics::sample>& ms) {
  const goro::metrics::sample* s = goro::metrics::find(ms, "/sched/latencies:seconds");
  EXPECT_NE(s, nullptr);
  std::uint64_t n = 0;
  if (s)
    for (std::uint64_t c : s->histogram.counts) n += c;
  return n;
}

// Go 1.26's runtime/metrics names of the scheduler metrics goro has.
const char* const go_names[] = {
    "/sched/gomaxprocs:threads",
    "/sched/goroutines-created:goroutines",
    "/sched/goroutines/not-in-go:goroutines",
    "/sched/goroutines/runnable:goroutines",
    "/sched/goroutines/running:goroutines",
    "/sched/goroutines/waiting:goroutines",
    "/sched/goroutines:goroutines",
    "/sched/latencies:seconds",
    "/sched/threads/total:threads",
};

TEST(Metrics, NamesAreGoFormUniqueAndListedWithoutRuntime) {
  std::vector<goro::metrics::sample> outside = goro::read_metrics();
  std::set<std::string> names;
  for (const auto& s : outside) {
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate " << s.name;
    EXPECT_EQ(s.name[0], '/') << s.name;
    EXPECT_NE(s.name.find(':'), std::string::npos) << s.name;
    EXPECT_FALSE(s.description.empty()) << s.name;
    EXPECT_EQ(s.uint64, 0u) << s.name << ": no runtime runs";
  }
  for (const char* n : go_names) EXPECT_TRUE(names.count(n)) << n;
  EXPECT_EQ(goro::metrics::find(outside, "/no/such:metric"), nullptr);
  goro::run(
      [&] {
        std::vector<goro::metrics::sample> inside = goro::read_metrics();
        ASSERT_EQ(inside.size(), outside.size());
        for (std::size_t i = 0; i < inside.size(); i++) EXPECT_EQ(inside[i].name, outside[i].name);
        EXPECT_EQ(metric(inside, "/sched/gomaxprocs:threads"), 2u);
        EXPECT_EQ(metric(inside, "/sched/goroutines:goroutines"), 1u);  // main
        EXPECT_GE(metric(inside, "/sched/goroutines/running:goroutines"), 1u);
        EXPECT_LE(metric(inside, "/sched/goroutines/running:goroutines"), 2u);
        // At least one M per running P, plus sysmon.
        EXPECT_GE(metric(inside, "/sched/threads/total:threads"), 2u);
      },
      procs(2));
}

TEST(Metrics, GoroutineCountsFollowSpawnsAndExits) {
  goro::run(
      [] {
        std::uint64_t created0 = metric("/sched/goroutines-created:goroutines");
        std::uint64_t exited0 = metric("/goro/sched/goroutines-exited:goroutines");
        goro::chan<int> c;
        goro::wait_group wg;
        constexpr int n = 10;
        wg.add(n);
        for (int i = 0; i < n; i++)
          goro::go([&] {
            c.recv();
            wg.done();
          });
        // procs 1: none has run yet; each is runnable.
        auto ms = goro::read_metrics();
        EXPECT_EQ(metric(ms, "/sched/goroutines-created:goroutines") - created0, unsigned(n));
        EXPECT_EQ(metric(ms, "/sched/goroutines:goroutines"), unsigned(n) + 1);
        EXPECT_EQ(metric(ms, "/sched/goroutines/runnable:goroutines"), unsigned(n));
        goro::yield();  // every one runs and parks on c
        ms = goro::read_metrics();
        EXPECT_EQ(metric(ms, "/sched/goroutines/waiting:goroutines"), unsigned(n));
        EXPECT_EQ(metric(ms, "/sched/goroutines/runnable:goroutines"), 0u);
        EXPECT_EQ(metric(ms, "/sched/goroutines/running:goroutines"), 1u);
        for (int i = 0; i < n; i++) c.send(i);
        wg.wait();
        goro::yield();  // let the last one return
        ms = goro::read_metrics();
        EXPECT_EQ(metric(ms, "/goro/sched/goroutines-exited:goroutines") - exited0, unsigned(n));
        EXPECT_EQ(metric(ms, "/sched/goroutines:goroutines"), 1u);
      },
      procs(1));
}

TEST(Metrics, StealsOnlyWithASecondP) {
  auto run_spawners = [](unsigned nprocs) {
    std::uint64_t steals = 0;
    goro::run(
        [&] {
          goro::wait_group wg;
          constexpr int n = 64;
          wg.add(n);
          // Queued on this P, each busy for a while: an idle second P
          // (woken by the spawns) steals some.
          for (int i = 0; i < n; i++)
            goro::go([&] {
              auto until = clock_type::now() + 200us;
              while (clock_type::now() < until) {
              }
              wg.done();
            });
          wg.wait();
          steals = metric("/goro/sched/steals:goroutines");
        },
        procs(nprocs));
    return steals;
  };
  EXPECT_EQ(run_spawners(1), 0u) << "one P has nobody to steal from";
  EXPECT_GT(run_spawners(2), 0u) << "the second P ran none of 64 queued goroutines";
}

// Yields until `name` has grown by at least `by` past `base`: the way a test
// learns that another goroutine has parked without guessing at the order the
// scheduler runs them in (sysmon may preempt a goroutine at any safe point,
// go() included, so "the spawned one runs only once we park" is not a given).
// A park that never happens fails the test here after a generous bound.
void await_metric(const std::string& name, std::uint64_t base, std::uint64_t by) {
  auto deadline = clock_type::now() + 30s;
  while (metric(name) - base < by) {
    ASSERT_LT(clock_type::now(), deadline) << name << " never grew by " << by;
    goro::yield();
  }
}

TEST(Metrics, ParksCountedByWaitReason) {
  goro::run(
      [] {
        auto ms0 = goro::read_metrics();
        // chan receive: the receiver parks (we wait until the metric says
        // so), then our send hands it the value without parking.
        goro::chan<int> c;
        goro::wait_group received;
        received.add(1);
        goro::go([&] {
          EXPECT_EQ(c.recv(), 1);
          received.done();
        });
        await_metric("/goro/sched/parks/chan-receive:events",
                     metric(ms0, "/goro/sched/parks/chan-receive:events"), 1);
        c.send(1);
        received.wait();
        auto ms1 = goro::read_metrics();
        EXPECT_EQ(metric(ms1, "/goro/sched/parks/chan-receive:events") -
                      metric(ms0, "/goro/sched/parks/chan-receive:events"),
                  1u);
        EXPECT_EQ(metric(ms1, "/goro/sched/parks/chan-send:events"),
                  metric(ms0, "/goro/sched/parks/chan-send:events"));
        EXPECT_EQ(metric(ms1, "/goro/sched/parks/mutex-lock:events"),
                  metric(ms0, "/goro/sched/parks/mutex-lock:events"));
        EXPECT_EQ(metric(ms1, "/goro/sched/parks/sleep:events"),
                  metric(ms0, "/goro/sched/parks/sleep:events"));
        // sync.Mutex.Lock: the goroutine finds the mutex held and parks (one
        // P: it cannot spin against a running holder).
        goro::mutex mu;
        goro::wait_group wg;
        mu.lock();
        wg.add(1);
        goro::go([&] {
          mu.lock();
          mu.unlock();
          wg.done();
        });
        await_metric("/goro/sched/parks/mutex-lock:events",
                     metric(ms1, "/goro/sched/parks/mutex-lock:events"), 1);
        mu.unlock();
        wg.wait();
        auto ms2 = goro::read_metrics();
        EXPECT_GE(metric(ms2, "/goro/sched/parks/mutex-lock:events") -
                      metric(ms1, "/goro/sched/parks/mutex-lock:events"),
                  1u);
        EXPECT_EQ(metric(ms2, "/goro/sched/parks/sleep:events"),
                  metric(ms1, "/goro/sched/parks/sleep:events"));
        EXPECT_EQ(metric(ms2, "/goro/sched/parks/io-wait:events"), 0u);
        // sleep.
        goro::sleep_for(1ms);
        auto ms3 = goro::read_metrics();
        EXPECT_EQ(metric(ms3, "/goro/sched/parks/sleep:events") -
                      metric(ms2, "/goro/sched/parks/sleep:events"),
                  1u);
        // The total is the sum over the reasons.
        std::uint64_t sum = 0;
        for (const auto& s : ms3)
          if (s.name.rfind("/goro/sched/parks/", 0) == 0) sum += s.uint64;
        EXPECT_EQ(sum, metric(ms3, "/goro/sched/parks:events"));
        EXPECT_GE(metric(ms3, "/goro/sched/readies:events"), 3u);
      },
      procs(1));
}

TEST(Metrics, SyscallsAndHandoffs) {
  goro::run(
      [] {
        auto ms0 = goro::read_metrics();
        EXPECT_EQ(metric(ms0, "/goro/sched/syscalls:calls"), 0u);
        EXPECT_EQ(metric(ms0, "/goro/sched/handoffs:events"), 0u);
        EXPECT_EQ(metric(ms0, "/goro/sched/retakes:events"), 0u);
        goro::blocking([] {});
        auto ms1 = goro::read_metrics();
        EXPECT_EQ(metric(ms1, "/goro/sched/syscalls:calls"), 1u);
        // entersyscallblock: the P is handed off at once.
        goro::blocking_long([] {});
        auto ms2 = goro::read_metrics();
        EXPECT_EQ(metric(ms2, "/goro/sched/syscalls:calls"), 2u);
        EXPECT_GE(metric(ms2, "/goro/sched/handoffs:events"), 1u);
        // A call that blocks while another goroutine waits for the P:
        // sysmon retakes the P and hands it on.
        std::atomic<bool> ran{false};
        goro::go([&] { ran = true; });
        goro::blocking([&] {
          auto give_up = clock_type::now() + 10s;
          while (!ran && clock_type::now() < give_up) usleep(1000);
        });
        EXPECT_TRUE(ran);
        auto ms3 = goro::read_metrics();
        EXPECT_GE(metric(ms3, "/goro/sched/retakes:events"), 1u);
        EXPECT_GT(metric(ms3, "/goro/sched/handoffs:events"),
                  metric(ms2, "/goro/sched/handoffs:events"));
      },
      procs(1));
}

TEST(Metrics, CooperativePreemptionsWithoutAsync) {
  goro_test::watchdog dog(60s);
  goro::options o = procs(1);
  o.async_preempt = false;
  o.time_slice = 1ms;
  goro::run(
      [] {
        std::atomic<bool> other_ran{false};
        goro::go([&] { other_ran = true; });
        std::uint64_t before = metric("/goro/sched/preemptions/cooperative:events");
        // A loop with preemption points only: sysmon's request is served
        // at one of them, letting the other goroutine run.
        auto give_up = clock_type::now() + 20s;
        while (!other_ran && clock_type::now() < give_up) goro::preempt_point();
        EXPECT_TRUE(other_ran);
        auto ms = goro::read_metrics();
        EXPECT_GT(metric(ms, "/goro/sched/preemptions/cooperative:events"), before);
        EXPECT_EQ(metric(ms, "/goro/sched/preemptions/async:events"), 0u);
      },
      o);
}

volatile std::uint64_t spin_sink;

TEST(Metrics, AsyncPreemptionsWithASpinner) {
  if (!goro_test::async_available())
    GTEST_SKIP() << "asynchronous preemption is unavailable here (spec/preemption.md)";
  goro_test::watchdog dog(60s);
  goro::options o = procs(1);
  o.async_preempt = true;
  o.time_slice = 1ms;
  goro::run(
      [] {
        std::atomic<bool> other_ran{false};
        goro::go([&] { other_ran = true; });
        std::uint64_t coop = metric("/goro/sched/preemptions/cooperative:events");
        // No preemption point at all: only a signal gets the other one run.
        auto give_up = clock_type::now() + 20s;
        while (!other_ran.load(std::memory_order_relaxed) && clock_type::now() < give_up)
          spin_sink = spin_sink + 1;
        EXPECT_TRUE(other_ran);
        auto ms = goro::read_metrics();
        EXPECT_GE(metric(ms, "/goro/sched/preemptions/async:events"), 1u);
        EXPECT_EQ(metric(ms, "/goro/sched/preemptions/cooperative:events"), coop);
      },
      o);
}

TEST(Metrics, LatencyHistogramGrowsAndIsSorted) {
  goro::run(
      [] {
        auto ms0 = goro::read_metrics();
        const goro::metrics::sample* h = goro::metrics::find(ms0, "/sched/latencies:seconds");
        ASSERT_NE(h, nullptr);
        EXPECT_EQ(h->kind, goro::metrics::value_kind::float64_histogram);
        EXPECT_TRUE(h->cumulative);
        ASSERT_EQ(h->histogram.buckets.size(), h->histogram.counts.size() + 1);
        for (std::size_t i = 1; i < h->histogram.buckets.size(); i++)
          EXPECT_LT(h->histogram.buckets[i - 1], h->histogram.buckets[i]) << i;
        EXPECT_EQ(h->histogram.buckets.front(), 0.0);
        EXPECT_TRUE(std::isinf(h->histogram.buckets.back()));
        // Two goroutines yielding to each other: 2 x 10000 entries into
        // runnable, one in 64 of each goroutine's sampled (312 in all).
        std::uint64_t before = latency_samples(ms0);
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] {
          for (int i = 0; i < 10000; i++) goro::yield();
          wg.done();
        });
        for (int i = 0; i < 10000; i++) goro::yield();
        wg.wait();
        std::uint64_t after = latency_samples(goro::read_metrics());
        EXPECT_GE(after - before, 300u);
        EXPECT_LE(after - before, 330u) << "more than one in 64 sampled";
      },
      procs(1));
}

TEST(Metrics, NetpollBlocksWhenOnlyATimerIsLeft) {
  goro::run(
      [] {
        std::uint64_t before = metric("/goro/netpoll/blocks:calls");
        // Nothing else to run: the M waits for the timer in netpoll.
        goro::sleep_for(5ms);
        EXPECT_GT(metric("/goro/netpoll/blocks:calls"), before);
      },
      procs(1));
}

// GORO_DEBUG's parser (base/godebug.hpp).
TEST(GoroDebug, ParsesKnownKeys) {
  auto d = goro::detail::parse_godebug("schedtrace=250,scheddetail=1,,stallwarn=10");
  EXPECT_EQ(d.schedtrace, 250);
  EXPECT_EQ(d.scheddetail, 1);
  EXPECT_EQ(d.stallwarn, 10);
  auto e = goro::detail::parse_godebug("");
  EXPECT_EQ(e.schedtrace, 0);
  EXPECT_EQ(e.scheddetail, 0);
}

TEST(GoroDebug, BadValueNamesKeyValueAndRange) {
  for (const char* bad : {"schedtrace=abc", "schedtrace=-1", "schedtrace=", "scheddetail=2",
                          "schedtrace=10x", "schedtrace=99999999999999999999"}) {
    try {
      goro::detail::parse_godebug(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const std::invalid_argument& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("GORO_DEBUG"), std::string::npos) << what;
      EXPECT_NE(what.find(bad), std::string::npos) << what;
      EXPECT_NE(what.find("0.."), std::string::npos) << what;
    }
  }
  EXPECT_THROW(goro::detail::parse_godebug("schedtrace"), std::invalid_argument);
  EXPECT_THROW(goro::detail::parse_godebug("=5"), std::invalid_argument);
}

TEST(GoroDebug, UnknownKeyWarnsAndIsIgnored) {
  std::string warnings;
  auto d = goro::detail::parse_godebug("schedtrce=100,schedtrace=5", &warnings);
  EXPECT_EQ(d.schedtrace, 5);
  EXPECT_NE(warnings.find("\"schedtrce\""), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("schedtrace, scheddetail"), std::string::npos) << warnings;
}

TEST(GoroDebug, RunRejectsABadEnvironmentValue) {
  setenv("GORO_DEBUG", "schedtrace=often", 1);
  bool ran = false;
  try {
    goro::run([&] { ran = true; }, procs(1));
    ADD_FAILURE() << "run accepted GORO_DEBUG=schedtrace=often";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("schedtrace"), std::string::npos) << e.what();
  }
  unsetenv("GORO_DEBUG");
  EXPECT_FALSE(ran);
}

}  // namespace
