// Goroutine dumps, the goroutine profile, names and the stall warning
// (goro/debug.hpp, src/sched/dump.cpp, src/sysmon/stallwarn.cpp;
// spec/dumps.md). Built with -g (tests/CMakeLists.txt): file:line in a dump
// comes from the program's debug information, as in any program.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/godebug.hpp"
#include "goro/goro.hpp"
#include "sched/coarse_clock.hpp"
#include "sched/runtime.hpp"
#include "sysmon/stallwarn.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr int nparked = 3;

// The function the goroutines park in: a dump must show it in their stacks.
[[gnu::noinline]] void parked_on_chan_receive(goro::chan<int>* c, std::atomic<int>* started) {
  started->fetch_add(1, std::memory_order_relaxed);
  (void)c->recv();
  asm volatile("");  // keep the call from being a tail call
}

// The function with the go statements: the creator lines must name it.
[[gnu::noinline]] void spawn_parked(goro::chan<int>* c, std::atomic<int>* started,
                                    std::vector<std::uint64_t>* ids) {
  for (int i = 0; i < nparked; i++)
    goro::go([c, started, ids] {
      ids->push_back(goro::goid());
      parked_on_chan_receive(c, started);
    });
  goro::go(goro::named("reader"), [c, started] { parked_on_chan_receive(c, started); });
}

// With one P the spawned goroutines run in turn once main yields, each up to
// its park: when main runs again, all of them are parked.
void park_all(goro::chan<int>& c, std::atomic<int>& started, std::vector<std::uint64_t>& ids) {
  spawn_parked(&c, &started, &ids);
  while (started.load(std::memory_order_relaxed) < nparked + 1) goro::yield();
  // Each yields its P only by parking; one more round lets the last one
  // finish its park (it counted itself just before).
  goro::yield();
}

std::string dump_string() {
  std::ostringstream o;
  EXPECT_TRUE(goro::dump_goroutines(o));
  return o.str();
}

TEST(Dump, NoRuntimeNoDump) {
  std::ostringstream o;
  EXPECT_FALSE(goro::dump_goroutines(o));
  EXPECT_FALSE(goro::write_goroutine_profile(o));
  EXPECT_EQ(o.str(), "");
}

TEST(Dump, ShowsParkedGoroutinesWithReasonStackAndCreator) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  std::string out;
  std::vector<std::uint64_t> ids;
  goro::run(
      [&] {
        goro::chan<int> c;
        std::atomic<int> started{0};
        park_all(c, started, ids);
        out = dump_string();
        for (int i = 0; i < nparked + 1; i++) c.send(i);
      },
      goro_test::procs(1));
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(nparked));
  // The caller first, running.
  EXPECT_EQ(out.rfind("goroutine 1 [running]:\n", 0), 0u) << out;
  for (std::uint64_t id : ids) {
    std::string head = "goroutine " + std::to_string(id) + " [chan receive]:\n";
    std::size_t at = out.find(head);
    ASSERT_NE(at, std::string::npos) << head << "missing from:\n" << out;
    // Its section: up to the next blank line.
    std::string sec = out.substr(at, out.find("\n\n", at) - at);
    EXPECT_THAT(sec, HasSubstr("parked_on_chan_receive")) << sec;
    EXPECT_THAT(sec, HasSubstr("goro::chan<int>::recv")) << sec;
    EXPECT_THAT(sec, HasSubstr("\ncreated by (anonymous namespace)::spawn_parked")) << sec;
    EXPECT_THAT(sec, HasSubstr(" in goroutine 1\n\t")) << sec;
    EXPECT_THAT(sec, HasSubstr("dump_test.cpp:")) << sec;
    // The goroutine's entry wrappers are trimmed, as Go stops at goexit.
    EXPECT_THAT(sec, Not(HasSubstr("task_impl"))) << sec;
  }
  // The named one.
  std::regex named("goroutine [0-9]+ \"reader\" \\[chan receive\\]:\n");
  EXPECT_TRUE(std::regex_search(out, named)) << out;
}

TEST(Dump, WaitOfAMinuteOrMoreShowsInMinutes) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  std::string out;
  std::vector<std::uint64_t> ids;
  goro::run(
      [&] {
        goro::chan<int> c;
        std::atomic<int> started{0};
        park_all(c, started, ids);
        // Backdate one park by 3 minutes (the stamp is read only with the
        // world stopped; the goroutine is parked, and only it writes it).
        goro::detail::g* gp = nullptr;
        {
          goro::detail::nopreempt np;
          goro::detail::runtime& rt = *goro::detail::getg()->rt;
          std::lock_guard lk(rt.allg_mu);
          for (goro::detail::g* x : rt.allgs)
            if (x->goid == ids[0]) gp = x;
        }
        ASSERT_NE(gp, nullptr);
        gp->waitsince = goro::detail::nanotime() - 3 * 60'000'000'000LL - 1'000'000'000LL;
        out = dump_string();
        for (int i = 0; i < nparked + 1; i++) c.send(i);
      },
      goro_test::procs(1));
  EXPECT_THAT(out,
              HasSubstr("goroutine " + std::to_string(ids[0]) + " [chan receive, 3 minutes]:\n"))
      << out;
  EXPECT_THAT(out, HasSubstr("goroutine " + std::to_string(ids[1]) + " [chan receive]:\n")) << out;
}

TEST(Dump, SleepAndMutexReasons) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  std::string out;
  goro::run(
      [&] {
        goro::mutex mu;
        mu.lock();
        std::atomic<int> started{0};
        goro::go([&] {
          started.fetch_add(1);
          mu.lock();
          mu.unlock();
        });
        goro::go([&] {
          started.fetch_add(1);
          goro::sleep_for(std::chrono::hours(1));
        });
        while (started.load() < 2) goro::yield();
        goro::yield();
        out = dump_string();
        mu.unlock();
      },
      goro_test::procs(1));
  EXPECT_THAT(out, HasSubstr(" [sync.Mutex.Lock]:\n")) << out;
  EXPECT_THAT(out, HasSubstr(" [sleep]:\n")) << out;
}

// From a thread outside the runtime, while main waits in a blocking call:
// main is in a system call, and its stack comes from its thread.
[[gnu::noinline]] void join_in_blocking(std::thread* t) {
  goro::blocking([t] { t->join(); });
  asm volatile("");
}

TEST(Dump, FromAForeignThreadWithMainInABlockingCall) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  std::string out;
  goro::run(
      [&] {
        goro::chan<int> c;
        std::atomic<int> started{0};
        std::vector<std::uint64_t> ids;
        park_all(c, started, ids);
        std::thread t([&] { out = dump_string(); });
        join_in_blocking(&t);
        for (int i = 0; i < nparked + 1; i++) c.send(i);
      },
      // One P, so the goroutines park in turn (park_all); the blocking call
      // hands it to the helper goroutine the foreign thread's dump runs on.
      goro_test::threads_wake_goroutines(goro_test::procs(1)));
  EXPECT_THAT(out, HasSubstr("goroutine 1 [syscall]:\n")) << out;
  EXPECT_THAT(out, HasSubstr("join_in_blocking")) << out;
  EXPECT_THAT(out, HasSubstr("parked_on_chan_receive")) << out;
  // The helper goroutine the foreign thread's dump runs on is not shown.
  EXPECT_THAT(out, Not(HasSubstr("[running]"))) << out;
}

TEST(Labels, SetAndRead) {
  EXPECT_EQ(goro::label(), "");
  goro::set_label("ignored outside a goroutine");
  EXPECT_EQ(goro::label(), "");
  std::string in_named, after_set, after_clear, recycled;
  goro::run(
      [&] {
        goro::chan<int> done;
        goro::go(goro::named("worker"), [&] {
          in_named = goro::label();
          done.send(1);
        });
        done.recv();
        goro::set_label("main");
        after_set = goro::label();
        goro::set_label("");
        after_clear = goro::label();
        // A G struct reused after a named one exited starts unnamed.
        goro::go([&] {
          recycled = goro::label();
          done.send(1);
        });
        done.recv();
      },
      goro_test::procs(1));
  EXPECT_EQ(in_named, "worker");
  EXPECT_EQ(after_set, "main");
  EXPECT_EQ(after_clear, "");
  EXPECT_EQ(recycled, "");
}

// ---- SIGQUIT -----------------------------------------------------------------

[[noreturn]] void sigquit_child() {
  goro::run(
      [] {
        goro::chan<int> c;
        std::atomic<int> started{0};
        std::vector<std::uint64_t> ids;
        park_all(c, started, ids);
        raise(SIGQUIT);
        // sysmon starts the dump within a tick; it exits the process.
        goro::sleep_for(std::chrono::seconds(60));
      },
      goro_test::procs(1));
  std::_Exit(0);  // not reached: the dump exits with 2
}

TEST(DumpDeathTest, SigquitPrintsEveryGoroutineAndExitsWith2) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(sigquit_child(), ::testing::ExitedWithCode(2),
              "SIGQUIT: quit\n\ngoroutine 1 \\[sleep\\]:(.|\n)*parked_on_chan_receive(.|\n)*"
              "created by \\(anonymous namespace\\)::spawn_parked");
}

TEST(DumpDeathTest, GoroDebugSigquit0LeavesTheDefault) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("GORO_DEBUG", "sigquit=0", 1);
        sigquit_child();
      },
      ::testing::KilledBySignal(SIGQUIT), "");
}

// ---- GORO_DEBUG ------------------------------------------------------------------

TEST(GoroDebug, ParsesTheDumpKeysAndNamesBadValues) {
  using goro::detail::parse_godebug;
  EXPECT_EQ(parse_godebug("").stallwarn, 0);
  EXPECT_EQ(parse_godebug("").sigquit, 1);
  EXPECT_EQ(parse_godebug("stallwarn=250").stallwarn, 250);
  EXPECT_EQ(parse_godebug("stallwarn=5,sigquit=0").sigquit, 0);
  auto msg = [](const char* env) {
    try {
      parse_godebug(env);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(msg("stallwarn=abc"), HasSubstr("\"stallwarn=abc\""));
  EXPECT_THAT(msg("stallwarn=-1"), HasSubstr("0..86400000"));
  EXPECT_THAT(msg("sigquit=2"), HasSubstr("sigquit must be a whole number in 0..1"));
  EXPECT_THAT(msg("stallwarn"), HasSubstr("want key=value"));
  std::string warnings;
  parse_godebug("frobnicate=1", &warnings);
  EXPECT_THAT(warnings, HasSubstr("unknown key \"frobnicate\""));
}

// ---- Stall warnings --------------------------------------------------------------

[[gnu::noinline]] void spin_without_scheduling_points(std::uint64_t reports_before) {
  // No call, no preemption point: only sysmon sees it run on.
  while (goro::detail::stall_reports() == reports_before) asm volatile("pause");
}

TEST(StallWarn, ReportsASpinnerWithAsyncPreemptionOff) {
  goro_test::watchdog wd(std::chrono::seconds(60));
  setenv("GORO_DEBUG", "stallwarn=50", 1);
  goro::options o = goro_test::procs(1);
  o.async_preempt = false;
  ::testing::internal::CaptureStderr();
  std::uint64_t before = goro::detail::stall_reports();
  goro::run([before] { spin_without_scheduling_points(before); }, o);
  std::string err = ::testing::internal::GetCapturedStderr();
  unsetenv("GORO_DEBUG");
  EXPECT_THAT(err, HasSubstr("goro: stall: goroutine 1 has run "));
  EXPECT_THAT(err, HasSubstr("(asynchronous preemption off)\ngoroutine 1 [running]:\n"));
  // ThreadSanitizer holds a signal back until the thread calls into libc,
  // which the spinner never does: the report then says its stack is
  // unavailable.
  if (!goro_test::under_tsan) {
    EXPECT_THAT(err, HasSubstr("spin_without_scheduling_points")) << err;
  }
}

[[gnu::noinline]] void spin_where_preemption_is_refused(std::uint64_t reports_before) {
  // The runtime's own no-preemption mark: the SIGURG handler declines here
  // at every sysmon tick, as it would in libc or the runtime.
  goro::detail::nopreempt np;
  while (goro::detail::stall_reports() == reports_before) asm volatile("pause");
}

TEST(StallWarn, ReportsASpinnerThatRefusesAsyncPreemption) {
  if (!goro_test::async_available()) GTEST_SKIP() << "asynchronous preemption unavailable here";
  goro_test::watchdog wd(std::chrono::seconds(60));
  setenv("GORO_DEBUG", "stallwarn=50", 1);
  ::testing::internal::CaptureStderr();
  std::uint64_t before = goro::detail::stall_reports();
  goro::run([before] { spin_where_preemption_is_refused(before); }, goro_test::procs(1));
  std::string err = ::testing::internal::GetCapturedStderr();
  unsetenv("GORO_DEBUG");
  EXPECT_THAT(err, HasSubstr("(asynchronous preemption refused)\ngoroutine 1 [running]:\n"));
  EXPECT_THAT(err, HasSubstr("spin_where_preemption_is_refused")) << err;
}

// ---- The goroutine profile -------------------------------------------------------

std::string find_go() {
  if (const char* g = std::getenv("GO"); g && *g) return g;
  for (const char* p : {"/usr/local/go/bin/go", "/usr/lib/go/bin/go", "/usr/bin/go"})
    if (access(p, X_OK) == 0) return p;
  if (std::system("command -v go >/dev/null 2>&1") == 0) return "go";
  return {};
}

TEST(Profile, GoToolPprofReadsIt) {
  goro_test::watchdog wd(std::chrono::seconds(240));
  std::string prof;
  goro::run(
      [&] {
        goro::chan<int> c;
        std::atomic<int> started{0};
        std::vector<std::uint64_t> ids;
        park_all(c, started, ids);
        std::ostringstream o;
        EXPECT_TRUE(goro::write_goroutine_profile(o));
        prof = o.str();
        for (int i = 0; i < nparked + 1; i++) c.send(i);
      },
      goro_test::procs(1));
  ASSERT_GT(prof.size(), 100u);
  std::string go = find_go();
  if (go.empty()) GTEST_SKIP() << "Go not found: the profile is not checked with go tool pprof";
  auto dir = std::filesystem::temp_directory_path() / ("goro_prof_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string pb = (dir / "goroutine.pb").string(), txt = (dir / "raw.txt").string();
  {
    std::ofstream f(pb, std::ios::binary);
    f << prof;
  }
  // go needs a build cache for its first `go tool pprof` (it compiles the
  // tool); without HOME it has no default one.
  if (!std::getenv("HOME") && !std::getenv("GOCACHE")) setenv("GOCACHE", "/tmp/goro-gocache", 0);
  std::string cmd = go + " tool pprof -raw " + pb + " > " + txt + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(txt);
  std::stringstream raw;
  raw << in.rdbuf();
  std::filesystem::remove_all(dir);
  ASSERT_EQ(rc, 0) << cmd << "\n" << raw.str();
  std::string r = raw.str();
  EXPECT_THAT(r, HasSubstr("goroutine/count")) << r;
  // The three unnamed parked goroutines share one stack: one sample of 3,
  // whose stack names the function they parked in. -raw prints each sample
  // as "   <count>: <location ids>", then the locations.
  EXPECT_TRUE(std::regex_search(r, std::regex("\n +3: [0-9 ]+\n"))) << r;
  EXPECT_THAT(r, HasSubstr("parked_on_chan_receive")) << r;
  EXPECT_THAT(r, HasSubstr("name:[reader]")) << r;
}

}  // namespace
