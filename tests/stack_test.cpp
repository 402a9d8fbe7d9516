// Goroutine stacks. Unguarded stacks and their canary: the lowest
// stack_canary_bytes of the stack, which must stay zero (src/context/stack.hpp).
// The allocator never writes them, so a parked goroutine's bottom page stays
// non-resident; a frame that reaches into them ends the process at the next
// switch. Guarded stacks (the default): pooled with MADV_GUARD_INSTALL guard
// regions, or mprotect'd guard pages where the kernel lacks them (ctest also
// runs this binary with GORO_STACK_GUARD_MODE=mprotect, as "mprotect.*").
// Overflow reports (context/overflow.cpp), and asynchronous preemption on the
// smallest stack the options accept.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <alloca.h>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

#include "context/context.hpp"
#include "context/stack.hpp"
#include "goro/goro.hpp"
#include "sched/runtime.hpp"
#include "sysmon/sysmon.hpp"
#include "watchdog.hpp"

namespace {

using goro::detail::guard_mode;
using goro::detail::stack;
using goro::detail::stack_allocator;
using goro::detail::stack_canary_bytes;
using ::testing::HasSubstr;

constexpr std::size_t small_stack = 64 * 1024;

bool page_resident(const void* addr) {
  unsigned char vec = 0;
  EXPECT_EQ(mincore(const_cast<void*>(addr), stack_allocator::page_size(), &vec), 0);
  return vec & 1;
}

TEST(StackTest, AllocatingAnUnguardedStackLeavesItsBottomPageUntouched) {
  stack_allocator a(small_stack, false);
  stack s = a.allocate();
  ASSERT_TRUE(s);
  // A written canary would have made this page resident (8 KB, not 4 KB,
  // per parked goroutine).
  EXPECT_FALSE(page_resident(s.lo));
  EXPECT_TRUE(stack_allocator::canary_ok(s));
  // Released and allocated again (the pool is LIFO): still intact.
  a.release(s);
  stack t = a.allocate();
  ASSERT_EQ(t.lo, s.lo);
  EXPECT_TRUE(stack_allocator::canary_ok(t));
  a.release(t);
}

TEST(StackTest, AnyNonZeroByteInTheLowest64BytesBreaksTheCanary) {
  stack_allocator a(small_stack, false);
  stack s = a.allocate();
  ASSERT_TRUE(s);
  auto* lo = static_cast<volatile unsigned char*>(s.lo);
  for (std::size_t i = 0; i < stack_canary_bytes; i++) {
    lo[i] = 0x01;
    EXPECT_FALSE(stack_allocator::canary_ok(s)) << "byte " << i;
    lo[i] = 0;
    EXPECT_TRUE(stack_allocator::canary_ok(s)) << "byte " << i;
  }
  lo[stack_canary_bytes] = 0xff;  // usable stack, above the canary
  EXPECT_TRUE(stack_allocator::canary_ok(s));
  lo[stack_canary_bytes] = 0;
  a.release(s);
}

goro::options unguarded() {
  goro::options o;
  o.procs = 1;
  o.stack_guard = false;
  o.stack_size = small_stack;
  o.async_preempt = false;  // the only switch is reach_and_yield's yield
  return o;
}

// In a goroutine on an unguarded stack: leave what a deep call that has
// returned leaves behind, non-zero bytes from `above_lo` bytes over the
// stack's lowest byte up to 1 KiB below this frame, then switch away. The
// bytes are written from up here, not from a frame down there: a call made
// from down there (a sanitizer's hook, say) would write below the stack.
void reach_and_yield(std::size_t above_lo) {
  char* lo = static_cast<char*>(goro::detail::getg()->stk.lo);
  char* below_us = static_cast<char*>(__builtin_frame_address(0)) - 1024;
  for (volatile char* c = lo + above_lo; c < below_us; c++) *c = 0x5a;
  goro::yield();  // switch_context checks the canary of the G it leaves
}

TEST(StackTest, StackUsedDownToJustAboveTheCanaryIsNotAnOverflow) {
  std::atomic<int> done{0};
  goro::run(
      [&] {
        for (int i = 0; i < 3; i++) {  // one after another: the stack is recycled
          goro::wait_group wg;
          wg.add(1);
          goro::go([&] {
            reach_and_yield(stack_canary_bytes);
            done++;
            wg.done();
          });
          wg.wait();
        }
      },
      unguarded());
  EXPECT_EQ(done.load(), 3);
}

TEST(StackDeathTest, UnguardedOverflowIntoTheCanaryEndsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(goro::run(
                  [] {
                    goro::wait_group wg;
                    wg.add(1);
                    goro::go([&] {
                      reach_and_yield(stack_canary_bytes - 1);
                      wg.done();
                    });
                    wg.wait();
                  },
                  unguarded()),
              ::testing::KilledBySignal(SIGABRT),
              "goro: stack overflow in goroutine [0-9]+ \\(stack_size 65536 bytes\\); raise "
              "goro::options::stack_size");
}

// ---------------------------------------------------------------------------
// A million guarded goroutines.

// A million in release builds. Fewer under the sanitizers, for memory and
// time on a 2-core machine, not for the mechanism: ASan adds shadow memory
// and redzones to every stack and allocation (100,000 still needs 3x the
// goroutines the mprotect mode allows), and TSan creates a fiber with its
// own large state per goroutine, and maps about two regions of its own per
// fiber: with the mprotect fallback's two per stack, 20,000 goroutines
// already exhaust vm.max_map_count (TSan's allocator then dies), because
// the map budget counts only goro's maps.
#if defined(GORO_TSAN)
constexpr std::int64_t many_goroutines = 10'000;
#elif defined(GORO_ASAN)
constexpr std::int64_t many_goroutines = 100'000;
#else
constexpr std::int64_t many_goroutines = 1'000'000;
#endif

// Default options (guarded stacks) and small stacks: every goroutine starts
// (so it has its stack, with its guard) and parks, all at once, then all are
// released and finish. Under madvise mode that must simply work, with far
// fewer kernel maps than goroutines; under the mprotect fallback, go() must
// refuse near the map limit with the error naming it and the mode.
TEST(StackTest, DefaultGuardedStacksHoldAMillionParkedGoroutines) {
  goro_test::watchdog wd(std::chrono::seconds(280));
  goro::options o;
  ASSERT_TRUE(o.stack_guard) << "the test is about the default";
  o.stack_size = 32 * 1024;  // resident cost is the 1-2 touched pages, not this
  const guard_mode mode = stack_allocator::guarded_mode();
  std::int64_t spawned = 0;
  std::atomic<std::int64_t> finished{0};
  std::string err;
  std::size_t maps_parked = 0;
  std::uint64_t live_parked = 0;
  goro::run(
      [&] {
        goro::wait_group parked, release, all;
        release.add(1);
        try {
          for (; spawned < many_goroutines; spawned++) {
            parked.add(1);
            all.add(1);
            try {
              goro::go([&] {
                parked.done();
                release.wait();
                finished.fetch_add(1, std::memory_order_relaxed);
                all.done();
              });
            } catch (...) {
              parked.done();
              all.done();
              throw;
            }
          }
        } catch (const std::system_error& e) {
          err = e.what();
        }
        parked.wait();  // every spawned goroutine runs on its stack and waits
        live_parked = goro::num_goroutine();
        maps_parked = stack_allocator::maps_in_use();
        release.done();
        all.wait();
      },
      o);
  EXPECT_EQ(finished.load(), spawned);
  EXPECT_EQ(live_parked, static_cast<std::uint64_t>(spawned) + 1);
  if (mode == guard_mode::madvise) {
    EXPECT_EQ(err, "");
    EXPECT_EQ(spawned, many_goroutines);
    // One map per 64 pooled stacks (plus the program's own), not two per
    // stack: 1,000,000 / 64 is under 16 thousand. Not under TSan, which
    // maps state of its own for every fiber (about 2 maps per goroutine).
#ifndef GORO_TSAN
    EXPECT_LT(maps_parked, static_cast<std::size_t>(many_goroutines / 64 + 5000));
#endif
  } else {
    ASSERT_EQ(mode, guard_mode::mprotect);
    if (many_goroutines < 30'000) {  // TSan's count: under the map budget
      EXPECT_EQ(err, "");
      EXPECT_EQ(spawned, many_goroutines);
    } else {
      EXPECT_THAT(err, HasSubstr("vm.max_map_count"));
      EXPECT_THAT(err, HasSubstr("mprotect"));
      EXPECT_GT(spawned, 1000);
      EXPECT_LT(spawned, 40'000);
    }
  }
}

TEST(StackTest, GuardedModeIsDetectedOnceAndCanBeForced) {
  const char* env = std::getenv("GORO_STACK_GUARD_MODE");
  if (env && std::string(env) == "mprotect") {
    EXPECT_EQ(stack_allocator::guarded_mode(), guard_mode::mprotect);
    EXPECT_THAT(stack_allocator::guarded_mode_reason(), HasSubstr("GORO_STACK_GUARD_MODE"));
  } else {
    // These machines run Linux 6.18: the probe must find the new advice.
    // (On a kernel before 6.13 this line is the one that tells.)
    EXPECT_EQ(stack_allocator::guarded_mode(), guard_mode::madvise)
        << stack_allocator::guarded_mode_reason();
  }
  stack_allocator a(small_stack, true);
  EXPECT_EQ(a.mode(), stack_allocator::guarded_mode());
  EXPECT_TRUE(a.guarded());
}

// Whether touching `p` faults, probed in a child process so a fault is only
// an exit status.
bool access_faults(const void* p) {
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);  // not goro's (or ASan's) handler: just the fault
    (void)*static_cast<const volatile char*>(p);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

TEST(StackTest, PooledGuardedStacksEachHaveAGuardPageBelowThem) {
  if (stack_allocator::guarded_mode() != guard_mode::madvise)
    GTEST_SKIP() << "MADV_GUARD_INSTALL is not in use: " << stack_allocator::guarded_mode_reason();
  const std::size_t ps = stack_allocator::page_size();
  stack_allocator a(small_stack, guard_mode::madvise);
  stack s1 = a.allocate(), s2 = a.allocate();
  ASSERT_TRUE(s1 && s2);
  // Carved from one mapping: neighbours one guard page apart.
  auto d = static_cast<char*>(s2.lo) - static_cast<char*>(s1.lo);
  EXPECT_EQ(static_cast<std::size_t>(d < 0 ? -d : d), small_stack + ps);
  for (const stack& s : {s1, s2}) {
    EXPECT_TRUE(access_faults(static_cast<char*>(s.lo) - 1)) << "no guard below " << s.lo;
    EXPECT_TRUE(access_faults(static_cast<char*>(s.lo) - ps));
    EXPECT_FALSE(access_faults(s.lo));
    EXPECT_FALSE(access_faults(static_cast<char*>(s.hi()) - 1));
  }
  a.release(s1);
  a.release(s2);
}

// ---------------------------------------------------------------------------
// Overflow reports.

// Unbounded recursion in practice (a depth no stack reaches), with a frame
// the optimiser cannot drop or turn into a loop, and well under a page so
// the overflow lands in the guard rather than stepping over it.
__attribute__((noinline)) int recurse(int depth) {
  volatile char frame[128];
  frame[0] = static_cast<char>(depth);
  if (depth == INT_MAX) return frame[0];
  return recurse(depth + 1) + frame[0];
}

goro::options guarded_small() {
  goro::options o;
  o.procs = 1;
  o.stack_size = 32 * 1024;
  return o;
}

void overflow_in_a_goroutine(goro::options o) {
  goro::run(
      [] {
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] {
          recurse(0);
          wg.done();
        });
        wg.wait();
      },
      o);
}

// The report comes from goro's SIGSEGV handler on the M's alternate stack.
// Under ASan too: ASan's own SIGSEGV handler (which would say
// "stack-overflow") is the one goro's replaced and passes other faults to;
// ASan lets a program install its own (allow_user_segv_handler, on by
// default).
constexpr const char* overflow_32k =
    "goro: stack overflow in goroutine [0-9]+ \\(stack_size 32768 bytes\\); raise "
    "goro::options::stack_size";

TEST(StackDeathTest, OverflowIntoTheGuardNamesTheGoroutine) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // In whichever mode this process uses (madvise, or mprotect in the
  // mprotect.* run).
  EXPECT_EXIT(overflow_in_a_goroutine(guarded_small()), ::testing::KilledBySignal(SIGABRT),
              overflow_32k);
}

TEST(StackDeathTest, OverflowIntoAnMprotectGuardPageNamesTheGoroutine) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The child is a fresh process (threadsafe style re-executes the binary),
  // so the mode is decided there, after this setenv.
  EXPECT_EXIT(
      {
        setenv("GORO_STACK_GUARD_MODE", "mprotect", 1);
        if (stack_allocator::guarded_mode() != guard_mode::mprotect) {
          std::fprintf(stderr, "the mode was not forced\n");
          std::_Exit(1);
        }
        overflow_in_a_goroutine(guarded_small());
      },
      ::testing::KilledBySignal(SIGABRT), overflow_32k);
}

TEST(StackDeathTest, OverflowOfTheMainGoroutineIsNamedToo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(goro::run([] { recurse(0); }, guarded_small()), ::testing::KilledBySignal(SIGABRT),
              "goro: stack overflow in goroutine 1 \\(stack_size 32768 bytes\\)");
}

// A program's own SIGSEGV handler, installed before run, must still get the
// faults that are not stack overflows. The child process (fresh: goro's
// handler is installed once per process, at the first run) installs one,
// runs goro, and a goroutine writes to a PROT_NONE page the handler opens.
char* user_page = nullptr;
std::atomic<int> user_faults{0};

void user_segv_siginfo(int, siginfo_t* si, void*) {
  if (si->si_addr != user_page) std::_Exit(20);  // not the fault we made
  user_faults.fetch_add(1);
  mprotect(user_page, stack_allocator::page_size(), PROT_READ | PROT_WRITE);
}

void user_segv_plain(int) {
  user_faults.fetch_add(1);
  mprotect(user_page, stack_allocator::page_size(), PROT_READ | PROT_WRITE);
}

// Exit status 0 when the user handler saw exactly the one fault, the write
// went through, and goro's handler was in front of it (so the fault really
// was passed on, not just never intercepted).
int user_handler_child(bool siginfo) {
  user_page = static_cast<char*>(
      mmap(nullptr, stack_allocator::page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (user_page == MAP_FAILED) return 10;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  if (siginfo) {
    sa.sa_sigaction = user_segv_siginfo;
    sa.sa_flags = SA_SIGINFO;
  } else {
    sa.sa_handler = user_segv_plain;
  }
  if (sigaction(SIGSEGV, &sa, nullptr) != 0) return 11;
  goro::run(
      [] {
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] {
          *reinterpret_cast<volatile char*>(user_page) = 42;
          wg.done();
        });
        wg.wait();
      },
      guarded_small());
  struct sigaction now;
  sigaction(SIGSEGV, nullptr, &now);
  bool goro_in_front = siginfo ? now.sa_sigaction != user_segv_siginfo
                               : now.sa_handler != user_segv_plain;
  if (!goro_in_front) return 12;
  if (user_faults.load() != 1) return 13;
  return user_page[0] == 42 ? 0 : 14;
}

TEST(StackDeathTest, AUserSigsegvHandlerStillGetsOtherFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::_Exit(user_handler_child(true)), ::testing::ExitedWithCode(0), "");
}

TEST(StackDeathTest, APlainUserSigsegvHandlerStillGetsOtherFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::_Exit(user_handler_child(false)), ::testing::ExitedWithCode(0), "");
}

// Without a handler of the program's, a fault that is no overflow gets the
// default action (killed by SIGSEGV), not goro's report. Under ASan the
// previous handler is ASan's, which reports the SEGV and exits with 1;
// TSan, behind a default disposition, reports it and exits with 66.
bool killed_by_default_segv(int st) {
#if defined(GORO_ASAN) || defined(GORO_TSAN)
  return WIFEXITED(st) && WEXITSTATUS(st) != 0;
#else
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
#endif
}

TEST(StackDeathTest, OtherFaultsGetTheDefaultAction) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        void* page = mmap(nullptr, stack_allocator::page_size(), PROT_NONE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        goro::run([page] { *static_cast<volatile char*>(page) = 1; }, guarded_small());
      },
      killed_by_default_segv,
#ifdef GORO_ASAN
      "SEGV"
#else
      ""
#endif
  );
}

// ---------------------------------------------------------------------------
// Asynchronous preemption at the smallest stack the options accept.

constexpr std::size_t min_stack_size = 24 * 1024;

TEST(StackTest, StackSizeBelowTheMinimumIsRefusedWithTheReason) {
  goro::options o;
  o.stack_size = 16 * 1024;  // accepted before, and then never preempted
  try {
    goro::run([] {}, o);
    FAIL() << "16 KiB stacks accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("goro::options::stack_size = 16384"));
    EXPECT_THAT(e.what(), HasSubstr("24576..1073741824"));
    EXPECT_THAT(e.what(), HasSubstr("asynchronous preemption"));
  }
  o.stack_size = min_stack_size;
  EXPECT_NO_THROW(goro::run([] {}, o));
}

__attribute__((noinline)) void call_free_spin(std::atomic<bool>& stop) {
  volatile std::uint64_t n = 0;
  while (!stop.load(std::memory_order_relaxed)) n = n + 1;
}

// Spins with the stack pointer `target` bytes above the stack's lowest byte
// (less the call_free_spin frame); `got` is where it ended up.
__attribute__((noinline)) void spin_at(std::atomic<bool>& stop, char* lo, std::size_t target,
                                       std::size_t& got) {
  char* sp = static_cast<char*>(__builtin_frame_address(0));
  std::size_t drop = static_cast<std::size_t>(sp - (lo + target));
  volatile char* pad = static_cast<volatile char*>(alloca(drop));
  pad[drop - 1] = 1;
  // alloca's block is at the stack pointer (the frame address does not move).
  got = static_cast<std::size_t>(const_cast<char*>(pad) - lo);
  call_free_spin(stop);
  pad[drop - 1] = 0;  // keeps pad live across the call
}

// On one P, a call-free loop gets off the P only by an asynchronous
// preemption; a sleeper beside it finishes only if that happens. The loop
// runs about as deep in a minimum-size stack as a preemption is allowed
// (1 KiB above preempt.cpp's stack_room), so the preemption's own frames, the
// saved registers and the scheduler's frames down to the switch, must fit
// in the reserve: on an unguarded stack, a byte written into the canary
// ends the process at that switch, and the scan below checks again.
TEST(StackTest, AsyncPreemptionWorksAtTheMinimumStackSize) {
  const std::size_t room = goro::detail::async_preempt_stack_room();
  if (room == 0)
    GTEST_SKIP() << "asynchronous preemption is unavailable here (ThreadSanitizer defers "
                    "signals; see spec/preemption.md)";
  goro_test::watchdog wd(std::chrono::seconds(60));  // no preemption: a hang
  for (bool guard : {false, true}) {
    goro::options o;
    o.procs = 1;
    o.stack_size = min_stack_size;
    o.stack_guard = guard;
    // Where the spinner's frames start, bytes above the stack's bottom: 1 KiB
    // above the reserve, so the spinning frame's sp stays at or above
    // lo + room even with ASan's alloca and frame redzones (a few hundred
    // bytes between the alloca'd block and the spinning sp there).
    const std::size_t target = room + 1024;
    // Before: 16 KiB of scheduler reserve plus 11 KiB of XSAVE area (AMX)
    // was more than the whole 24 KiB stack, so no depth was preemptible.
    ASSERT_LT(target + 2048, min_stack_size)
        << "the preemption reserve (" << room << " bytes) leaves a minimum-size stack no room";
    char* lo = nullptr;
    std::size_t got = 0;
    int slept = 0;
    goro::run(
        [&] {
          std::atomic<bool> stop{false};
          goro::wait_group wg;
          wg.add(2);
          goro::go([&] {
            lo = static_cast<char*>(goro::detail::getg()->stk.lo);
            spin_at(stop, lo, target, got);
            wg.done();
          });
          goro::go([&] {
            for (; slept < 20; slept++) goro::sleep_for(std::chrono::milliseconds(1));
            stop.store(true, std::memory_order_relaxed);
            wg.done();
          });
          wg.wait();
          if (!guard) {
            // The finished spinner's stack is on the P's free list, as it was
            // left. Nothing below the reserve was written.
            const char* p = lo;
            while (p < lo + target && *p == 0) p++;
            EXPECT_GE(static_cast<std::size_t>(p - lo), stack_canary_bytes)
                << "the preemption wrote " << (lo + target - p) << " bytes below the spinner";
            // And no deeper below the spinner than the reserve says.
            EXPECT_LE(static_cast<std::size_t>(lo + got - p), room);
            std::printf("preemption reserve %zu bytes; deepest write %zu bytes below the "
                        "spinner's frame\n",
                        room, static_cast<std::size_t>(lo + got - p));
          }
        },
        o);
    EXPECT_EQ(slept, 20);
    EXPECT_GE(got, room);
    EXPECT_LE(got, target);
  }
}

// sysmon's SIGURG runs on the goroutine's stack (no alternate stack), so the
// kernel pushes its signal frame there before the handler can decline. With
// less room left than a frame, on a guarded stack, the kernel's write hits
// the guard and it sends SIGSEGV (SI_KERNEL, no address) instead: goro's
// handler names that as the overflow it is, rather than a bare SIGSEGV.
// sysmon's SIGURG keeps knocking on a call-free loop that runs 1 KiB above
// its stack's lowest byte, too deep to preempt (is_async_safe refuses). The
// kernel's signal frame (AT_MINSIGSTKSZ plus the XSAVE area, far more than
// 1 KiB) must land on the M's alternate signal stack (SA_ONSTACK), not below
// the goroutine's stack pointer: there it hit the guard page (a SIGSEGV the
// overflow handler named an overflow) or, unguarded, wrote through the
// canary into the stack below, which the next switch's canary check ends
// the process for. Two Ps, so the stopper runs beside the unpreemptible
// spinner; a child process, so a death is a clean failure.
// A program's own signal without SA_ONSTACK, delivered to a goroutine 1 KiB
// above its guard: the kernel cannot push the signal frame and sends
// SIGSEGV with si_code SI_KERNEL and no address, which the overflow handler
// names an overflow (the interrupted stack pointer is within a frame of the
// bottom), rather than a bare crash.
void user_signal(int) {}

TEST(StackDeathTest, AUserSignalWithNoRoomForItsFrameIsNamedAnOverflow) {
#if defined(GORO_ASAN) || defined(GORO_TSAN)
  // The sanitizers' own signal interceptors run first on the goroutine's
  // stack, with frames of their own: what faults, and where, is theirs.
  GTEST_SKIP() << "under a sanitizer, whose signal interceptors take the frame";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        goro_test::watchdog wd(std::chrono::seconds(30));
        struct sigaction sa {};
        sa.sa_handler = user_signal;  // no SA_ONSTACK: the frame goes on the current stack
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, nullptr);
        goro::options o = guarded_small();
        o.procs = 2;
        goro::run(
            [] {
              std::atomic<bool> stop{false};
              std::atomic<pthread_t> spinner{};
              std::atomic<bool> spinning{false};
              goro::wait_group wg;
              wg.add(1);
              goro::go([&] {
                spinner.store(pthread_self());
                spinning.store(true);
                std::size_t got = 0;
                spin_at(stop, static_cast<char*>(goro::detail::getg()->stk.lo), 1024, got);
                wg.done();
              });
              while (!spinning.load()) goro::yield();
              goro::sleep_for(std::chrono::milliseconds(5));  // let it reach the spin
              pthread_kill(spinner.load(), SIGUSR1);
              wg.wait();  // not reached: the signal is the overflow
            },
            o);
      },
      ::testing::KilledBySignal(SIGABRT), overflow_32k);
}

TEST(StackDeathTest, ASignalNearTheStackBottomLandsOnTheAlternateStack) {
  if (goro::detail::async_preempt_stack_room() == 0)
    GTEST_SKIP() << "no asynchronous preemption here, so sysmon sends no signal";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (bool guard : {true, false}) {
    EXPECT_EXIT(
        {
          goro_test::watchdog wd(std::chrono::seconds(30));
          goro::options o;
          o.procs = 2;
          o.stack_size = 32 * 1024;
          o.stack_guard = guard;
          goro::run(
              [] {
                std::atomic<bool> stop{false};
                goro::wait_group wg;
                wg.add(2);
                goro::go([&] {
                  std::size_t got = 0;
                  spin_at(stop, static_cast<char*>(goro::detail::getg()->stk.lo), 1024, got);
                  wg.done();
                });
                goro::go([&] {  // twenty time slices of signals at the spinner
                  for (int i = 0; i < 200; i++) goro::sleep_for(std::chrono::milliseconds(1));
                  stop.store(true, std::memory_order_relaxed);
                  wg.done();
                });
                wg.wait();
              },
              o);
          std::exit(0);
        },
        ::testing::ExitedWithCode(0), "")
        << (guard ? "guarded" : "unguarded") << " stack";
  }
}

}  // namespace
