// Blocking calls, sysmon, timers and preemption (issue 4): a goroutine in a
// long system call or a call-free loop must not stall the others.
#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <link.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "goro/goro.hpp"
#include "sched/proc.hpp"
#include "sched/runtime.hpp"
#include "sysmon/sysmon.hpp"
#include "test_options.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

goro::options opts(unsigned procs, bool async = true) {
  goro::options o;
  o.procs = procs;
  o.async_preempt = async;
  return o;
}

using goro_test::async_available;

double ms(clock_type::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct lateness {
  double worst = 0, median = 0;
};

// One goroutine spins with `spin_body` until told to stop; another sleeps
// 1 ms `rounds` times and records how late each wake-up is. With only one P,
// the sleeper runs only if the spinner is preempted.
template <class SpinBody>
lateness sleeper_beside_spinner(goro::options o, int rounds, SpinBody spin_body) {
  std::vector<double> late;
  goro::run(
      [&] {
        std::atomic<bool> stop{false};
        goro::wait_group wg;
        wg.add(2);
        goro::go([&] {
          spin_body(stop);
          wg.done();
        });
        goro::go([&] {
          for (int i = 0; i < rounds; i++) {
            auto t0 = clock_type::now();
            goro::sleep_for(1ms);
            auto woke = clock_type::now();
            EXPECT_GE(woke - t0, 1ms) << "woke early";
            late.push_back(ms(woke - t0) - 1.0);
          }
          stop.store(true, std::memory_order_relaxed);
          wg.done();
        });
        wg.wait();
      },
      o);
  std::sort(late.begin(), late.end());
  lateness r;
  r.worst = late.back();
  r.median = late[late.size() / 2];
  return r;
}

// A loop with no calls at all: only a signal can get it off the P.
void call_free_spin(std::atomic<bool>& stop) {
  volatile std::uint64_t n = 0;
  while (!stop.load(std::memory_order_relaxed)) n = n + 1;
}

TEST(SysmonTest, CallFreeSpinnerDoesNotStopASleeperOnOneP) {
  if (!async_available())
    GTEST_SKIP() << "asynchronous preemption is unavailable here (ThreadSanitizer defers "
                    "signals; see spec/preemption.md)";
  lateness l = sleeper_beside_spinner(opts(1), 100, call_free_spin);
  std::printf("sleeper beside a call-free spinner, procs 1: worst %.2f ms, median %.2f ms late\n",
              l.worst, l.median);
  RecordProperty("worst_ms", std::to_string(l.worst));
  RecordProperty("median_ms", std::to_string(l.median));
  // Generous: a 10 ms slice plus sysmon's tick gives ~10 ms; only a missing
  // preemption (the sleeper waits for the spinner to finish: never) misses.
  EXPECT_LT(l.worst, 100.0);
}

TEST(SysmonTest, PreemptPointLetsASleeperRunWithoutSignals) {
  lateness l = sleeper_beside_spinner(opts(1, /*async=*/false), 50, [](std::atomic<bool>& stop) {
    volatile std::uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      n = n + 1;
      goro::preempt_point();
    }
  });
  std::printf(
      "sleeper beside a spinner with preempt_point, procs 1: worst %.2f ms, median %.2f ms\n",
      l.worst, l.median);
  EXPECT_LT(l.worst, 100.0);
}

TEST(SysmonTest, AsyncPreemptionKeepsEveryRegister) {
  if (!async_available()) GTEST_SKIP() << "asynchronous preemption is unavailable here";
  // Two call-free loops share one P with a 200 µs slice, so each is
  // preempted hundreds of times mid-computation. Their results must equal
  // the same computation on a plain thread: any general, flag or vector
  // register not restored exactly would change them.
  auto compute = [](std::uint64_t seed, std::uint64_t iters) {
    std::uint64_t a = seed, b = seed * 3 + 1, c = 7, d = 11;
    double x = 1.0 + static_cast<double>(seed % 7), y = 0.5, z = 0.25;
    for (std::uint64_t i = 0; i < iters; i++) {
      a = a * 6364136223846793005ull + 1442695040888963407ull;
      b ^= a >> 17;
      c += (b & 0xff) < 128 ? 3 : 5;  // a flags-dependent branch
      d = (d << 1) | (d >> 63);
      x = x * 1.0000001 + y;
      y = std::fmod(y * 1.5 + z, 97.0);
      z = z * 0.999 + 0.001 * static_cast<double>(c & 7);
    }
    return std::to_string(a ^ b ^ c ^ d) + "/" + std::to_string(x + y + z);
  };
  constexpr std::uint64_t iters = 60'000'000;
  std::string expect1, expect2;
  std::thread t1([&] { expect1 = compute(1, iters); });
  std::thread t2([&] { expect2 = compute(2, iters); });
  t1.join();
  t2.join();
  std::string got1, got2;
  std::uint64_t preempts = 0;
  goro::options o = opts(1);
  o.time_slice = 200us;
  goro::run(
      [&] {
        goro::wait_group wg;
        wg.add(2);
        goro::go([&] {
          got1 = compute(1, iters);
          wg.done();
        });
        goro::go([&] {
          got2 = compute(2, iters);
          wg.done();
        });
        wg.wait();
        preempts = goro::detail::getm_unchecked()->rt->nasync_preempts.load();
      },
      o);
  EXPECT_EQ(got1, expect1);
  EXPECT_EQ(got2, expect2);
  std::printf("asynchronous preemptions during the computation: %llu\n",
              (unsigned long long)preempts);
  EXPECT_GT(preempts, 20u) << "the loops were not preempted: the test proved nothing";
}

__attribute__((noinline)) int user_function(int x) { return x * 3 + 1; }

TEST(SysmonTest, AsyncPreemptionRefusesRuntimeAndLibraryCode) {
  if (!async_available()) GTEST_SKIP() << "asynchronous preemption is unavailable here";
  using goro::detail::async_preempt_allowed_at;
  auto addr = [](auto* f) { return reinterpret_cast<const void*>(f); };
  EXPECT_TRUE(async_preempt_allowed_at(addr(&user_function)));
  // Inside the allocator, wherever it lives (libc, or a sanitizer runtime
  // linked into this program), the unwinder, and goro's C entry points (the
  // trampoline's park). goro's C++ code is refused by g::preemptoff instead
  // (the auditor's NoPreemptGetM / NoPreemptSwitch checks enforce that).
  EXPECT_FALSE(async_preempt_allowed_at(addr(&std::malloc)));
  EXPECT_FALSE(async_preempt_allowed_at(addr(&std::free)));
  EXPECT_FALSE(async_preempt_allowed_at(addr(&std::memset)));
  EXPECT_FALSE(async_preempt_allowed_at(addr(&goro::detail::goro_async_preempt_park)));
}

// Every function of a sanitizer runtime linked into this program must be
// refused, whatever its mangling (const members, local functions, ...):
// the runtime's allocator holds locks, and a goroutine preempted inside it
// and parked leaves every M that reaches the lock blocked. Reads this
// program's own symbol table and checks each function whose demangled name
// is in __sanitizer::, __asan::, __lsan:: or __ubsan::. Without a
// sanitizer runtime in the program there is nothing to check.
TEST(SysmonTest, AsyncPreemptionRefusesEverySanitizerRuntimeFunction) {
  if (!async_available()) GTEST_SKIP() << "asynchronous preemption is unavailable here";
  std::uintptr_t bias = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        *static_cast<std::uintptr_t*>(out) = info->dlpi_addr;  // the program comes first
        return 1;
      },
      &bias);
  std::vector<char> file;
  {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    char buf[1 << 16];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) file.insert(file.end(), buf, buf + n);
    close(fd);
  }
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(file.data());
  const auto* sh = reinterpret_cast<const Elf64_Shdr*>(file.data() + eh->e_shoff);
  int checked = 0;
  std::vector<std::string> allowed;
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB) continue;
    const Elf64_Shdr& strs = sh[sh[i].sh_link];
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(file.data() + sh[i].sh_offset);
    for (std::size_t k = 0; k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
      const Elf64_Sym& sym = syms[k];
      if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_size == 0)
        continue;
      const char* name = file.data() + strs.sh_offset + sym.st_name;
      int status = 0;
      char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
      std::string dn = status == 0 && d ? d : name;
      std::free(d);
      bool sanitizer = false;
      for (const char* ns : {"__sanitizer::", "__asan::", "__lsan::", "__ubsan::"})
        if (dn.rfind(ns, 0) == 0) sanitizer = true;
      if (!sanitizer) continue;
      checked++;
      // The middle of the function, where a signal would land.
      auto pc = reinterpret_cast<const void*>(bias + sym.st_value + sym.st_size / 2);
      if (goro::detail::async_preempt_allowed_at(pc) && allowed.size() < 5) allowed.push_back(dn);
    }
  }
  if (checked == 0) GTEST_SKIP() << "no sanitizer runtime is linked into this program";
  std::printf("sanitizer runtime functions checked: %d\n", checked);
  EXPECT_TRUE(allowed.empty()) << "preemptible, e.g.: " << allowed.front();
}

TEST(SysmonTest, AsyncPreemptionNeverLandsInsideMalloc) {
  // Under ASan asynchronous preemption is off by default because of an
  // unexplained hang of this test (spec/preemption.md); run it with
  // GORO_ASAN_ASYNC_PREEMPT=1 to hunt it.
  if (!async_available())
    GTEST_SKIP() << "asynchronous preemption is unavailable here (under ASan: set "
                    "GORO_ASAN_ASYNC_PREEMPT=1 to run this test)";
  // Goroutines that do little but malloc and free, preempted thousands of
  // times: a preemption inside malloc (holding an arena lock, then resumed
  // on another thread) corrupts the heap or deadlocks. Under ASan any heap
  // damage is reported at once.
  std::uint64_t preempts = 0;
  std::atomic<long> checked{0};
  goro::options o = opts(2);
  o.time_slice = 100us;
  goro::run(
      [&] {
        std::atomic<bool> stop{false};
        goro::wait_group wg;
        constexpr int workers = 4;
        wg.add(workers);
        for (int w = 0; w < workers; w++)
          goro::go([&, w] {
            std::uint64_t rounds = 0;
            while (!stop.load(std::memory_order_relaxed)) {
              // The fill and the check are user code (a pattern the compiler
              // cannot turn into a memset call), so preemptions land around
              // the allocator calls, often, and must never land inside them.
              std::size_t n = 16 + (rounds * 37 + w) % 4000;
              auto* p = static_cast<unsigned char*>(std::malloc(n));
              for (std::size_t i = 0; i < n; i++) p[i] = static_cast<unsigned char>(i * 7 + rounds);
              auto* q = static_cast<unsigned char*>(std::realloc(p, n * 2));
              for (std::size_t i = 0; i < n; i++)
                if (q[i] != static_cast<unsigned char>(i * 7 + rounds)) std::abort();
              std::free(q);
              rounds++;
            }
            checked.fetch_add(static_cast<long>(rounds));
            wg.done();
          });
        auto until = clock_type::now() + 1500ms;
        while (clock_type::now() < until) goro::sleep_for(5ms);
        stop = true;
        wg.wait();
        preempts = goro::detail::getm_unchecked()->rt->nasync_preempts.load();
      },
      o);
  std::printf("malloc/free rounds %ld, asynchronous preemptions %llu\n", checked.load(),
              (unsigned long long)preempts);
  EXPECT_GT(checked.load(), 1000);
  EXPECT_GT(preempts, 100u) << "too few preemptions to have tested anything";
}

// A pipe whose read end a goroutine blocks on.
struct pipe_pair {
  int fd[2];
  pipe_pair() {
    if (pipe(fd) != 0) throw std::runtime_error("pipe");
  }
  ~pipe_pair() {
    close(fd[0]);
    close(fd[1]);
  }
};

TEST(SysmonTest, GoroutineBlockedInAReadDoesNotStopItsOnlyP) {
  // procs 1. G1 blocks reading a pipe; the byte it waits for is written by
  // G2 after G2 has counted to 100000, yielding all along. G2 can only do
  // that if sysmon hands the P over while G1 is blocked. A watchdog thread
  // writes a different byte after 30 s, so a broken handoff fails the test
  // instead of hanging it.
  pipe_pair pp;
  char got = 0;
  long counted = 0;
  double blocked_ms = 0;
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 3000 && !done; i++) std::this_thread::sleep_for(10ms);
    if (!done) (void)!write(pp.fd[1], "w", 1);
  });
  goro::run(
      [&] {
        goro::wait_group wg;
        wg.add(2);
        goro::go([&] {
          auto t0 = clock_type::now();
          ssize_t n = goro::blocking([&] { return read(pp.fd[0], &got, 1); });
          blocked_ms = ms(clock_type::now() - t0);
          EXPECT_EQ(n, 1);
          EXPECT_TRUE(goro::in_goroutine());
          goro::yield();  // back on a P: scheduling works as before
          wg.done();
        });
        goro::go([&] {
          for (long i = 0; i < 100000; i++) {
            counted++;
            goro::yield();
          }
          (void)!write(pp.fd[1], "g", 1);
          wg.done();
        });
        wg.wait();
      },
      opts(1));
  done = true;
  watchdog.join();
  EXPECT_EQ(got, 'g') << "the other goroutine never ran while the read blocked";
  EXPECT_EQ(counted, 100000);
  std::printf("blocked %.1f ms while the other goroutine counted to %ld on the only P\n",
              blocked_ms, counted);
}

TEST(SysmonTest, ShortBlockingCallsRacingRetakeKeepOneMPerP) {
  // Calls that last about one sysmon tick, so the returning M and sysmon
  // often race for the same P (exitsyscall's CAS against retake's CAS).
  // With the auditor (debug, tsan, asan builds) a P owned twice fails
  // acquirep's OneMPerP check; in any build every goroutine must finish and
  // every call be counted.
  //
  // A round is 3200 calls (about 0.2 s). On a loaded machine sysmon may not
  // get a CPU during one, so rounds repeat until sysmon has retaken a P, up to
  // 25 rounds: only a sysmon that never retakes misses that.
  std::atomic<long> calls{0};
  std::uint64_t retakes = 0;
  int rounds = 0;
  constexpr int workers = 8, each = 400, max_rounds = 25;
  goro::run(
      [&] {
        while (rounds < max_rounds && retakes == 0) {
          rounds++;
          goro::wait_group wg;
          wg.add(workers);
          for (int w = 0; w < workers; w++)
            goro::go([&] {
              for (int i = 0; i < each; i++) {
                goro::blocking([] {
                  timespec ts{0, 20'000 + (std::rand() % 3) * 10'000};
                  nanosleep(&ts, nullptr);
                });
                calls.fetch_add(1, std::memory_order_relaxed);
                if (i % 16 == 0) goro::yield();
              }
              wg.done();
            });
          wg.wait();
          retakes = goro::detail::getm_unchecked()->rt->nretakes.load();
        }
      },
      opts(2));
  EXPECT_EQ(calls.load(), long{rounds} * workers * each);
  std::printf("%d rounds of 3200 short blocking calls, %llu of them retaken by sysmon\n", rounds,
              (unsigned long long)retakes);
  EXPECT_GT(retakes, 0u) << "sysmon never retook a P in " << rounds
                         << " rounds: the race was never exercised";
}

TEST(SysmonTest, BlockingLongHandsThePOffAtOnce) {
  // As above with blocking_long: no sysmon tick is needed, and the retake
  // count stays zero because entersyscallblock handed the P off itself.
  pipe_pair pp;
  char got = 0;
  std::uint64_t retakes = 0;
  goro::run(
      [&] {
        goro::wait_group wg;
        wg.add(2);
        goro::go([&] {
          goro::blocking_long([&] { return read(pp.fd[0], &got, 1); });
          wg.done();
        });
        goro::go([&] {
          for (int i = 0; i < 1000; i++) goro::yield();
          (void)!write(pp.fd[1], "g", 1);
          wg.done();
        });
        wg.wait();
        retakes = goro::detail::getm_unchecked()->rt->nretakes.load();
      },
      opts(1));
  EXPECT_EQ(got, 'g');
  EXPECT_EQ(retakes, 0u);
}

TEST(SysmonTest, BlockingPassesResultsAndExceptionsThrough) {
  goro::run(
      [&] {
        int x = 41;
        int& r = goro::blocking([&]() -> int& { return x; });
        EXPECT_EQ(&r, &x);
        EXPECT_EQ(goro::blocking([] { return std::string("value"); }), "value");
        EXPECT_THROW(goro::blocking([]() -> int { throw std::runtime_error("in the call"); }),
                     std::runtime_error);
        // Back on a P after the exception: goroutines still work.
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] { wg.done(); });
        wg.wait();
        // Nested blocking calls and goro calls inside one are allowed.
        goro::blocking([] {
          goro::blocking([] {});
          goro::yield();
        });
      },
      opts(2));
  // Outside a goroutine it is a plain call.
  EXPECT_EQ(goro::blocking([] { return 7; }), 7);
}

int count_threads() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') n++;
    closedir(d);
  }
  return n;
}

TEST(SysmonTest, AThousandBlockingCallsLeaveTheRuntimeResponsive) {
  // 1000 goroutines block in reads at once: each holds an M, so the runtime
  // needs about 1000 threads, within max_threads. Meanwhile a ticker keeps
  // sleeping 1 ms: its worst gap shows the scheduler still runs the rest.
  constexpr int blocked = 1000;
  pipe_pair pp;
  goro::options o = opts(2);
  o.max_threads = 1500;
  std::atomic<int> reads{0};
  int peak_threads = 0;
  double worst_gap = 0;
  goro::run(
      [&] {
        goro::wait_group readers, ticker;
        readers.add(blocked);
        ticker.add(1);
        std::atomic<bool> stop{false};
        goro::go([&] {
          while (!stop) {
            auto t0 = clock_type::now();
            goro::sleep_for(1ms);
            worst_gap = std::max(worst_gap, ms(clock_type::now() - t0));
          }
          ticker.done();
        });
        for (int i = 0; i < blocked; i++)
          goro::go([&] {
            char c;
            if (goro::blocking([&] { return read(pp.fd[0], &c, 1); }) == 1) reads++;
            readers.done();
          });
        // Wait until every reader is in its call: threads = readers + Ps.
        auto deadline = clock_type::now() + 60s;
        while (count_threads() < blocked && clock_type::now() < deadline) goro::sleep_for(2ms);
        peak_threads = count_threads();
        std::vector<char> bytes(blocked, 'x');
        EXPECT_EQ(write(pp.fd[1], bytes.data(), bytes.size()), blocked);
        readers.wait();
        stop = true;
        ticker.wait();
      },
      o);
  EXPECT_EQ(reads.load(), blocked);
  EXPECT_GE(peak_threads, blocked) << "readers did not each get a thread";
  EXPECT_LE(peak_threads, static_cast<int>(o.max_threads) + 2);  // + sysmon, + the test's main
  std::printf("%d blocked readers: peak %d threads, ticker's worst gap %.1f ms\n", blocked,
              peak_threads, worst_gap);
  EXPECT_LT(worst_gap, 1000.0);
}

TEST(SysmonTest, StopTheWorldPreemptsASpinnerAndClaimsBlockedPs) {
  // gomaxprocs must stop every P: one runs a call-free loop (preempted), one
  // is in a blocking call (claimed by stop-the-world).
  if (!async_available()) GTEST_SKIP() << "asynchronous preemption is unavailable here";
  pipe_pair pp;
  goro::run(
      [&] {
        std::atomic<bool> stop{false};
        goro::wait_group wg;
        wg.add(2);
        goro::go([&] {
          call_free_spin(stop);
          wg.done();
        });
        goro::go([&] {
          char c;
          goro::blocking([&] { return read(pp.fd[0], &c, 1); });
          wg.done();
        });
        goro::sleep_for(20ms);  // let both get going
        for (unsigned n : {1u, 3u, 2u, 4u}) goro::gomaxprocs(n);
        EXPECT_EQ(goro::gomaxprocs(), 4u);
        stop = true;
        (void)!write(pp.fd[1], "x", 1);
        wg.wait();
      },
      opts(3));
}

TEST(SysmonTest, SleepersWakeInOrderAndNeverEarly) {
  // Deadlines 30 ms apart: far more than a timer's lateness on an idle
  // runtime, so only a wrong heap order or a lost wake-up reorders them
  // (a busy 2-core machine can still deschedule a thread for a few ms).
  // The deadlines are absolute, from one base: with relative sleeps, a
  // goroutine that starts 30 ms late (a loaded machine) would reorder them
  // with no fault in the timers.
  constexpr int n = 12;
  std::vector<int> order(n, -1);
  std::vector<clock_type::time_point> woke(n);
  std::atomic<int> next{0};
  const auto base = clock_type::now() + std::chrono::milliseconds(20);
  auto deadline = [&](int i) { return base + std::chrono::milliseconds(30 * (i + 1)); };
  goro::run(
      [&] {
        goro::wait_group wg;
        wg.add(n);
        // Started in reverse, so heap order, not start order, decides.
        for (int i = n - 1; i >= 0; i--)
          goro::go([&, i] {
            goro::sleep_until(deadline(i));
            woke[i] = clock_type::now();
            order[next.fetch_add(1)] = i;
            wg.done();
          });
        wg.wait();
      },
      opts(2));
  ASSERT_EQ(next.load(), n);
  for (int i = 0; i < n; i++) {
    EXPECT_EQ(order[i], i);
    EXPECT_GE(woke[i], deadline(i)) << "sleeper " << i << " woke early";
  }
}

TEST(SysmonTest, NewOptionsAreValidated) {
  auto message = [](goro::options o) {
    try {
      goro::run([] {}, o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  goro::options o = opts(2);
  o.time_slice = 10us;
  EXPECT_NE(message(o).find("goro::options::time_slice = 10000 ns: must be in 100000.."),
            std::string::npos)
      << message(o);
  o = opts(4);
  o.max_threads = 2;
  EXPECT_NE(message(o).find("goro::options::max_threads = 2: must be in 4..1000000"),
            std::string::npos)
      << message(o);
  goro::run(
      [] {
        EXPECT_THROW(goro::gomaxprocs(9), std::invalid_argument);  // max_threads 8
        EXPECT_EQ(goro::gomaxprocs(), 2u);
      },
      [] {
        goro::options x = opts(2);
        x.max_threads = 8;
        return x;
      }());
}

using SysmonDeathTest = ::testing::Test;

TEST(SysmonDeathTest, ExceedingMaxThreadsNamesTheOption) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        pipe_pair pp;
        goro::options o = opts(1);
        o.max_threads = 4;
        goro::run(
            [&] {
              goro::wait_group wg;
              wg.add(10);
              for (int i = 0; i < 10; i++)
                goro::go([&] {
                  char c;
                  goro::blocking_long([&] { return read(pp.fd[0], &c, 1); });
                  wg.done();
                });
              wg.wait();
            },
            o);
      },
      ::testing::ExitedWithCode(2), "exceeds the 4-thread limit \\(goro::options::max_threads\\)");
}

}  // namespace
