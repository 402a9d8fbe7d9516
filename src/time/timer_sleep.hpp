// The timer sleeper's StoreLoad handshake (spec/memory-model.md §7, timers;
// checked under C11 by c11/timer_sleep_c11.cpp).
//
// One M at a time, having found no work, blocks in netpoll until the
// earliest timer instead of parking (block_in_netpoll in findrunnable.cpp).
// A goroutine that then adds an earlier timer must break that poll, or the
// timer fires late by up to the whole sleep. Both sides write one location
// and then read the other's, the store-buffering shape:
//
//   sleeper:  until = deadline (relaxed); fence(seq_cst); re-read every
//             P's when0; if a timer earlier than the deadline is there,
//             take it as the deadline and go round again.
//   adder:    when0 = its timer (under the heap's lock); fence(seq_cst);
//             read until; if a sleeper's deadline is later than the timer,
//             break its poll.
//
// The two fences are totally ordered. If the adder's comes first, the
// sleeper's re-read after its own fence sees the adder's when0 (or a later
// value). If the sleeper's comes first, the adder's read sees the deadline.
// Either way the timer is not slept past. Release/acquire alone would let
// both reads miss (that is what the seq_cst fences are for); the check's
// weakening rows show each fence is needed.
//
// The functions are the shipped code: production calls them with the
// runtime's atomics and the real timer heaps and netpoll_break; the check
// calls them with Relacy's atomics and stand-ins.
#pragma once
#include <cstdint>

#include "base/atomic.hpp"

namespace goro::detail {

// The sleeper's side. Publishes `when` (0: no timer, stored as INT64_MAX,
// "no deadline") as its deadline and re-reads the timers through
// earliest() (0: none) until the deadline it published is no later than
// every timer it can see. Returns the deadline to sleep until (0: none).
template <class Earliest>
std::int64_t timer_sleep_commit(atomic<std::int64_t>& until, std::int64_t when,
                                Earliest&& earliest) {
  for (;;) {
    // relaxed (was seq_cst, Go's order): the StoreLoad is the fences' job,
    // whatever the order of the store sequenced before ours ([atomics.order]
    // p4.4, C++20), and the deadline publishes nothing (its readers load it
    // relaxed, with no acquire after: the adder only compares it, poll_wait
    // takes it as a hint). spec/memory-model.md §12.
    until.store(when == 0 ? INT64_MAX : when, std::memory_order_relaxed);
    // StoreLoad against timer_sleep_wake: see the header comment.
    fence(std::memory_order_seq_cst);
    std::int64_t again = earliest();
    if (again == 0 || (when != 0 && again >= when)) return when;
    when = again;
  }
}

// The adder's side, after its timer's `when` is published (when0, under the
// heap lock): breaks the sleeper's poll through brk() if the sleeper's
// deadline is later than `when`. No sleeper (0): nothing to do; the next M
// to sleep reads the timer in its own re-read.
template <class Break>
void timer_sleep_wake(atomic<std::int64_t>& until, std::int64_t when, Break&& brk) {
  // StoreLoad: the timer (when0) was published before this.
  fence(std::memory_order_seq_cst);
  // relaxed: the fence orders it; the value is only compared.
  std::int64_t u = until.load(std::memory_order_relaxed);
  if (u != 0 && when < u) brk();
}

}  // namespace goro::detail
