// note: a one-shot sleep/wakeup on a futex (Go's note, lock_futex.go).
//
// Contracts (the fixed form of sched/proc.hpp):
//  sleep, sleep_until: Called from: g0 (an idle M, the stopper of the
//    world), sysmon, run's thread; never from a G, which would block its
//    M's thread without giving up its P. Locks: none held. May switch: no
//    (the thread blocks in the kernel).
//  wakeup: Called from: anywhere but a signal handler. Locks: any. May
//    switch: no. Its release (futex word store) pairs with the sleeper's
//    acquire load, so what the waker wrote before wakeup is seen after sleep.
//  clear: the sleeper only, between sleeps.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/atomic.hpp"

namespace goro::detail {

struct note {
  detail::atomic<std::uint32_t> key{0};
  // Blocks until wakeup has been called since the last clear.
  void sleep() noexcept;
  // As sleep, but gives up at `deadline` (CLOCK_MONOTONIC ns). True if woken,
  // false if the deadline passed first.
  bool sleep_until(std::int64_t deadline) noexcept;
  // Wakes the sleeper (or makes the next sleep return at once).
  void wakeup() noexcept;
  void clear() noexcept { key.store(0, std::memory_order_relaxed); }
};

void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t val) noexcept;
void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept;

// The calling thread's count of runtime locks held (lock_depth_add in
// goro/detail/waitq.hpp), read without ordering: by the SIGURG handler on the
// same thread, and by the scheduler's preemption checks. Defined in
// src/sync/lock.cpp with the futexes.
unsigned lock_depth_racy() noexcept;

}  // namespace goro::detail
