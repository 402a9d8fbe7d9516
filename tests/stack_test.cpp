// Unguarded stacks and their canary: the lowest stack_canary_bytes of the
// stack, which must stay zero (src/context/stack.hpp). The allocator never
// writes them, so a parked goroutine's bottom page stays non-resident; a
// frame that reaches into them ends the process at the next switch.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>

#include "context/stack.hpp"
#include "goro/goro.hpp"
#include "sched/runtime.hpp"

namespace {

using goro::detail::stack;
using goro::detail::stack_allocator;
using goro::detail::stack_canary_bytes;

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
              ::testing::ExitedWithCode(2),
              "goroutine [0-9]+ overflowed its 65536-byte stack.*stack_size");
}

}  // namespace
