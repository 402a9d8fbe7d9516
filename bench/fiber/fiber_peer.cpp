// The Boost.Fiber peer: the workloads of bench/go/main.go that Boost.Fiber
// can express, on its work-stealing scheduler, speaking the Go peer's
// protocol so that bench/compare.py runs it beside goro and Go:
//
//   fiber_peer -list          the workload instances, one per line
//   fiber_peer -version       Boost's version and the scheduler
//   fiber_peer -bench NAME    runs NAME, prints "RESULT <name> <value> <unit>"
//
// Each process runs one instance: boost::fibers::algo::work_stealing keeps
// its pool in static state, so a pool of `procs` threads (the calling thread
// and procs-1 more, each with the algorithm installed) is made once per
// process and lives until the workload is done. procs:N is Go's GOMAXPROCS=N.
//
// Differences from the Go workloads, which bench/README.md also lists:
//   - stacks: fixedsize_stack of 16 KiB, from malloc. Boost's default (128 KiB
//     per fiber, each its own mmap past glibc's threshold) cannot hold a
//     million live fibers under vm.max_map_count = 65530.
//   - chan_pingpong uses buffered_channel<int> of capacity 2 (one slot: Boost
//     keeps one free), the choice and the nearest to Go's unbuffered
//     hand-off that still lets a sender finish its push; skynet uses
//     unbuffered_channel, as Go's skynet uses unbuffered channels.
//   - spawn_join counts down an atomic and wakes the joiner with a fiber
//     condition variable: Go's wg.Done / wg.Wait.
#include <boost/fiber/all.hpp>
#include <boost/version.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
namespace fibers = boost::fibers;

constexpr std::size_t stack_bytes = 16 * 1024;

double ns_per(clk::duration d, double n) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) / n;
}
double ms_of(clk::duration d) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) / 1e6;
}

template <class F>
void spawn(F&& f) {
  fibers::fiber(std::allocator_arg, fibers::fixedsize_stack(stack_bytes), std::forward<F>(f))
      .detach();
}

// A Go WaitGroup for fibers of any thread of the pool. wait() returns only
// once the last done() has set `zero` under the mutex and let go of it, so
// the caller may destroy the wait_group as soon as wait() returns (a check of
// the count alone could return while the last done() is still on its way
// to the mutex).
class wait_group {
 public:
  void add(int n) { left_.fetch_add(n, std::memory_order_relaxed); }
  void done() {
    // acq_rel: the joiner sees everything the finished fibers wrote.
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<fibers::mutex> lk(mu_);
      zero_ = true;
      cv_.notify_all();
    }
  }
  void wait() {
    std::unique_lock<fibers::mutex> lk(mu_);
    cv_.wait(lk, [&] { return zero_; });
  }

 private:
  std::atomic<long> left_{0};
  fibers::mutex mu_;
  fibers::condition_variable cv_;
  bool zero_ = false;
};

// Runs body on the calling thread with a work-stealing pool of procs threads.
void with_pool(int procs, const std::function<void()>& body) {
  std::vector<std::thread> helpers;
  bool finished = false;
  fibers::mutex mu;
  fibers::condition_variable_any cv;
  for (int i = 1; i < procs; i++)
    helpers.emplace_back([&] {
      // The constructor waits until all procs threads have installed theirs.
      fibers::use_scheduling_algorithm<fibers::algo::work_stealing>(procs);
      std::unique_lock<fibers::mutex> lk(mu);
      cv.wait(lk, [&] { return finished; });
    });
  fibers::use_scheduling_algorithm<fibers::algo::work_stealing>(procs);
  body();
  {
    std::lock_guard<fibers::mutex> lk(mu);
    finished = true;
  }
  cv.notify_all();
  for (auto& t : helpers) t.join();
}

// yield_switch: two fibers each yield n times.
clk::duration yield_round(int n) {
  wait_group wg;
  wg.add(2);
  auto t0 = clk::now();
  for (int k = 0; k < 2; k++)
    spawn([&] {
      for (int i = 0; i < n; i++) boost::this_fiber::yield();
      wg.done();
    });
  wg.wait();
  return clk::now() - t0;
}

clk::duration spawn_join_round(int n) {
  wait_group wg;
  auto t0 = clk::now();
  for (int i = 0; i < n; i++) {
    wg.add(1);
    spawn([&] { wg.done(); });
  }
  wg.wait();
  return clk::now() - t0;
}

clk::duration pingpong_round(int n) {
  fibers::buffered_channel<int> ping(2), pong(2);
  wait_group wg;
  wg.add(1);
  spawn([&] {
    for (int i = 0; i < n; i++) {
      int v = ping.value_pop();
      pong.push(v);
    }
    wg.done();
  });
  auto t0 = clk::now();
  for (int i = 0; i < n; i++) {
    ping.push(i);
    (void)pong.value_pop();
  }
  auto d = clk::now() - t0;
  wg.wait();
  return d;
}

using sum_chan = fibers::unbuffered_channel<std::int64_t>;

// The children share their parent's channel: a child may still be leaving
// push() when the parent has popped all ten sums and returned.
void skynet(const std::shared_ptr<sum_chan>& c, std::int64_t num, int size, int div) {
  if (size == 1) {
    c->push(num);
    return;
  }
  auto rc = std::make_shared<sum_chan>();
  int sub = size / div;
  for (int i = 0; i < div; i++) {
    std::int64_t n = num + static_cast<std::int64_t>(i) * sub;
    spawn([rc, n, sub, div] { skynet(rc, n, sub, div); });
  }
  std::int64_t sum = 0;
  for (int i = 0; i < div; i++) sum += rc->value_pop();
  c->push(sum);
}

struct instance {
  std::string name;
  int procs;
  std::function<std::string(void)> run;  // the RESULT lines
};

std::string result(const std::string& name, double v, const char* unit) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "RESULT %s %.6g %s\n", name.c_str(), v, unit);
  return buf;
}

std::vector<instance> instances() {
  std::vector<instance> out;
  out.push_back({"yield_switch/procs:1", 1, [] {
                   constexpr int n = 2'000'000;
                   yield_round(n / 10);  // warm-up
                   return result("yield_switch/procs:1", ns_per(yield_round(n), 2.0 * n), "ns/op");
                 }});
  // spawn_join_1M at procs 1 and 2, and the scaling rows at 10^3..10^5 (10^7
  // would keep up to ten million 16 KiB stacks alive at once).
  const std::pair<std::string, int> spawns[] = {{"spawn_join_1M/procs:1", 1'000'000},
                                                {"spawn_join_1M/procs:2", 1'000'000},
                                                {"spawn_join_1k/procs:2", 1'000},
                                                {"spawn_join_10k/procs:2", 10'000},
                                                {"spawn_join_100k/procs:2", 100'000}};
  for (const auto& [name, n] : spawns) {
    int procs = name.back() - '0';
    out.push_back({name, procs, [name = name, n = n] {
                     spawn_join_round(n);  // warm-up
                     std::vector<double> rounds;
                     for (int i = 0; i < 5; i++) rounds.push_back(ns_per(spawn_join_round(n), n));
                     std::sort(rounds.begin(), rounds.end());
                     return result(name, rounds[2], "ns/op");
                   }});
  }
  for (int procs : {1, 2}) {
    std::string name = "chan_pingpong/procs:" + std::to_string(procs);
    out.push_back({name, procs, [name] {
                     constexpr int n = 500'000;
                     pingpong_round(n / 10);  // warm-up
                     return result(name, ns_per(pingpong_round(n), n), "ns/op");
                   }});
  }
  // skynet on 1, 2 and 4 threads: work_stealing threads spin while idle, so
  // more threads than cores only measure that spinning.
  for (int procs : {1, 2, 4}) {
    std::string name = "skynet/procs:" + std::to_string(procs);
    out.push_back({name, procs, [name] {
                     constexpr int leaves = 1'000'000, fanout = 10;
                     constexpr std::int64_t want = static_cast<std::int64_t>(leaves) *
                                                   (leaves - 1) / 2;
                     auto c = std::make_shared<sum_chan>();
                     auto t0 = clk::now();
                     spawn([c] { skynet(c, 0, leaves, fanout); });
                     std::int64_t sum = c->value_pop();
                     auto d = clk::now() - t0;
                     if (sum != want) {
                       std::fprintf(stderr, "skynet: wrong sum %lld, want %lld\n",
                                    static_cast<long long>(sum), static_cast<long long>(want));
                       std::exit(1);
                     }
                     return result(name, ms_of(d), "ms");
                   }});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  auto all = instances();
  if (argc == 2 && std::strcmp(argv[1], "-list") == 0) {
    for (auto& in : all) std::printf("%s\n", in.name.c_str());
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "-version") == 0) {
    std::printf("Boost.Fiber %d.%d.%d (algo::work_stealing, %zu KiB fixedsize stacks)\n",
                BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100,
                stack_bytes / 1024);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "-bench") == 0) {
    for (auto& in : all)
      if (in.name == argv[2]) {
        std::string out;
        with_pool(in.procs, [&] { out = in.run(); });
        std::fputs(out.c_str(), stdout);
        return 0;
      }
    std::fprintf(stderr, "fiber_peer: no workload %s (-list names them)\n", argv[2]);
    return 2;
  }
  std::fprintf(stderr, "usage: fiber_peer -list | -version | -bench NAME\n");
  return 2;
}
