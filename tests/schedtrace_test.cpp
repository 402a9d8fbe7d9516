// GORO_DEBUG=schedtrace / scheddetail (src/sysmon/schedtrace.cpp): the
// lines sysmon prints to stderr parse as Go 1.26's, show the state they
// claim to (gomaxprocs, one entry per P, a goroutine parked on a channel
// with its wait reason) and come at the period asked for.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "goro/goro.hpp"
#include "test_options.hpp"
#include "watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using goro_test::procs;

// Runs `body` inside goro::run with GORO_DEBUG=`debug` and the process's
// stderr sent to a file; returns what was written there, line by line.
template <class Body>
std::vector<std::string> run_traced(const char* debug, goro::options o, Body body) {
  char path[] = "/tmp/goro_schedtrace_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  unlink(path);
  std::fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  setenv("GORO_DEBUG", debug, 1);
  goro::run(body, o);
  unsetenv("GORO_DEBUG");
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string text;
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, n);
  close(fd);
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::size_t count_words(const std::string& s) {
  std::istringstream in(s);
  std::size_t n = 0;
  for (std::string w; in >> w;) n++;
  return n;
}

// Go 1.26's schedtrace line (runtime/proc.go, schedtrace, not detailed).
const std::regex sched_line(
    R"(SCHED (\d+)ms: gomaxprocs=(\d+) idleprocs=(\d+) threads=(\d+) spinningthreads=(\d+) )"
    R"(needspinning=([01]) idlethreads=(\d+) runqueue=(\d+) \[ ((?:\d+ )*\d+) \] )"
    R"(schedticks=\[ ((?:\d+ )*)\])");

TEST(Schedtrace, LinesParseAsGosAndComeAtThePeriod) {
  goro_test::watchdog dog(60s);
  constexpr int period_ms = 20;
  auto lines = run_traced("schedtrace=20", procs(2), [] { goro::sleep_for(200ms); });
  std::vector<long> ms;
  for (const std::string& l : lines) {
    if (l.rfind("SCHED", 0) != 0) continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l, m, sched_line)) << l;
    EXPECT_EQ(m[2].str(), "2") << l;
    EXPECT_EQ(count_words(m[9].str()), 2u) << "one run queue length per P: " << l;
    EXPECT_EQ(count_words(m[10].str()), 2u) << "one schedtick per P: " << l;
    EXPECT_LE(std::stoi(m[3].str()), 2) << l;
    // sysmon's thread, and M0 once it exists (sysmon starts first, so the
    // 0 ms line may come before M0).
    EXPECT_GE(std::stoi(m[4].str()), ms.empty() ? 1 : 2) << l;
    ms.push_back(std::stol(m[1].str()));
  }
  // 200 ms at a 20 ms period: about 10 lines. At least 2 even on a
  // loaded machine; never more than one per period plus the first.
  ASSERT_GE(ms.size(), 2u);
  EXPECT_LE(ms.size(), 200u / period_ms + 2);
  EXPECT_EQ(ms[0], 0) << "the first line is at 0 ms, as Go's";
  // Line k is printed no earlier than k periods after the first.
  for (std::size_t k = 0; k < ms.size(); k++)
    EXPECT_GE(ms[k], static_cast<long>(k) * period_ms) << "line " << k;
}

// An idle runtime lets sysmon back off to 10 ms sleeps; a 1 ms period must
// still be kept. 200 ms give about 200 lines; sysmon's own idle ticks would
// give fewer than 40 (its fast ticks last ~20 ms, then one per 10 ms), so
// 80 is a bound only a trace paced by sysmon's sleep misses.
TEST(Schedtrace, PeriodShorterThanSysmonsIdleSleepIsKept) {
  goro_test::watchdog dog(60s);
  auto lines = run_traced("schedtrace=1", procs(1), [] { goro::sleep_for(200ms); });
  std::size_t n = 0;
  for (const std::string& l : lines) n += l.rfind("SCHED", 0) == 0;
  std::printf("SCHED lines in 200 ms at a 1 ms period: %zu\n", n);
  EXPECT_GE(n, 80u) << "SCHED lines in 200 ms at a 1 ms period";
  EXPECT_LE(n, 202u);
}

TEST(Schedtrace, OffWithoutTheKey) {
  auto lines = run_traced("", procs(1), [] { goro::sleep_for(30ms); });
  for (const std::string& l : lines) EXPECT_EQ(l.rfind("SCHED", 0), std::string::npos) << l;
}

TEST(Schedtrace, UnknownKeyWarnsOnce) {
  auto lines = run_traced("nosuchkey=1", procs(1), [] {});
  int warnings = 0;
  for (const std::string& l : lines)
    if (l.find("unknown key \"nosuchkey\"") != std::string::npos) warnings++;
  EXPECT_EQ(warnings, 1);
}

const std::regex detail_header(
    R"(SCHED (\d+)ms: gomaxprocs=(\d+) idleprocs=(\d+) threads=(\d+) spinningthreads=(\d+) )"
    R"(needspinning=([01]) idlethreads=(\d+) runqueue=(\d+) gcwaiting=(true|false) )"
    R"(nmidlelocked=(\d+) stopwait=(\d+) sysmonwait=(true|false))");
const std::regex p_line(
    R"(  P(\d+): status=([0-4]) schedtick=(\d+) syscalltick=(\d+) m=(\d+|nil) runqsize=(\d+) )"
    R"(gfreecnt=(\d+) timerslen=(\d+))");
const std::regex m_line(
    R"(  M(\d+): p=(\d+|nil) curg=(\d+|nil) mallocing=0 throwing=0 preemptoff= locks=(\d+) )"
    R"(dying=0 spinning=(true|false) blocked=(true|false) lockedg=(\d+|nil))");
const std::regex g_line(R"(  G(\d+): status=([0-6])\(([^)]*)\) m=(\d+|nil) lockedm=(\d+|nil))");

TEST(Schedtrace, DetailShowsPsMsAndAGoroutineParkedOnAChannel) {
  goro_test::watchdog dog(60s);
  std::atomic<std::uint64_t> parked_id{0};
  auto lines = run_traced("schedtrace=10,scheddetail=1", procs(2), [&] {
    goro::chan<int> c;
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      parked_id = goro::goid();
      c.recv();
      wg.done();
    });
    // Several trace periods with the goroutine parked on c (it parks as
    // soon as it runs) and main asleep.
    goro::sleep_for(150ms);
    c.send(1);
    wg.wait();
  });
  ASSERT_NE(parked_id.load(), 0u);
  const std::string want_g = "  G" + std::to_string(parked_id.load()) + ": status=4(chan receive)";
  int headers = 0, parked_seen = 0, main_asleep_seen = 0;
  int ps_in_block = -1;
  for (const std::string& l : lines) {
    std::smatch m;
    if (l.rfind("SCHED", 0) == 0) {
      ASSERT_TRUE(std::regex_match(l, m, detail_header)) << l;
      EXPECT_EQ(m[2].str(), "2") << l;
      if (ps_in_block >= 0) {
        EXPECT_EQ(ps_in_block, 2) << "P lines per SCHED line";
      }
      ps_in_block = 0;
      headers++;
    } else if (l.rfind("  P", 0) == 0) {
      ASSERT_TRUE(std::regex_match(l, m, p_line)) << l;
      EXPECT_EQ(std::stoi(m[1].str()), ps_in_block) << l;
      ps_in_block++;
    } else if (l.rfind("  M", 0) == 0) {
      ASSERT_TRUE(std::regex_match(l, m, m_line)) << l;
    } else if (l.rfind("  G", 0) == 0) {
      ASSERT_TRUE(std::regex_match(l, m, g_line)) << l;
      if (l.rfind(want_g, 0) == 0) {
        parked_seen++;
        EXPECT_EQ(m[4].str(), "nil") << "a parked goroutine is on no M: " << l;
      }
      if (l.rfind("  G1: status=4(sleep)", 0) == 0) main_asleep_seen++;
      // Only a waiting goroutine shows a reason.
      if (m[2].str() != "4") {
        EXPECT_EQ(m[3].str(), "") << l;
      }
    }
  }
  ASSERT_GE(headers, 2);
  if (ps_in_block >= 0) {
    EXPECT_EQ(ps_in_block, 2);
  }
  EXPECT_GE(parked_seen, 1) << "no trace showed goroutine " << parked_id.load()
                            << " parked on the channel";
  EXPECT_GE(main_asleep_seen, 1) << "no trace showed main asleep";
}

// The printer reads the Ps, Ms and Gs without stopping them: under
// ThreadSanitizer this shows those reads race with nothing (goroutines
// spawned, recycled, parked, readied and exiting on both Ps while a trace
// with every detail line is printed each millisecond).
TEST(Schedtrace, DetailWhileGoroutinesChurn) {
  goro_test::watchdog dog(60s);
  auto lines = run_traced("schedtrace=1,scheddetail=1", procs(2), [] {
    auto until = std::chrono::steady_clock::now() + 50ms;
    while (std::chrono::steady_clock::now() < until) {
      goro::wait_group wg;
      goro::chan<int> c;
      wg.add(8);
      for (int i = 0; i < 8; i++)
        goro::go([&, i] {
          if (i % 2) c.send(i);
          else c.recv();
          wg.done();
        });
      wg.wait();
    }
  });
  int headers = 0;
  for (const std::string& l : lines) {
    std::smatch m;
    if (l.rfind("SCHED", 0) == 0) {
      EXPECT_TRUE(std::regex_match(l, m, detail_header)) << l;
      headers++;
    } else if (l.rfind("  G", 0) == 0) {
      EXPECT_TRUE(std::regex_match(l, m, g_line)) << l;
    }
  }
  EXPECT_GE(headers, 2);
}

}  // namespace
