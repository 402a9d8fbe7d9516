// The protocol of goro::wait_group (Go's sync.WaitGroup) over its state word,
// as a header: wait_group.cpp instantiates it with the runtime's lock and
// park/ready, and c11/wait_group_c11.cpp with Relacy fakes, so the checked
// protocol is the shipped one (issue 13).
//
// The state word packs the counter in the high 32 bits (signed) and the
// number of registered waiters in the low 32 bits. Keeping the waiters in the
// same atomic lets the add() that brings the counter to zero know, in the
// same RMW, whether anyone waits. If nobody does, it must not touch the
// wait_group again: a waiter that saw zero may already have returned and
// destroyed it, which Go allows ("wg.Wait(); return").
//
// Invariants (checked by c11/wait_group_c11.cpp, names as there):
//   W1 (WaitersListed)  registration (waiters + 1) and the push onto the
//       list happen under the list's lock, and so do the add-at-zero's take
//       of the list and its subtraction of the count, and the abandon path's
//       unlink and subtraction: under the lock, waiters == length of list.
//   W2 (WaitAfterDone)  a waiter returns only once the counter is zero: on
//       its fast path it saw zero, or its registration CAS failed on zero, or
//       the add that made it zero readied it; the done()s' release RMWs
//       on the word, read by its acquire loads (or the waking add's acquire
//       re-load) and ready()'s own ordering, carry every done()'s writes to
//       it.
//   W3 (NoLostWakeup)   a registered waiter is on the list (W1), and the add
//       that reaches zero sees it counted in its own RMW's result (the
//       registration CAS required a non-zero counter, so it precedes that
//       RMW in the word's modification order), takes the lock and readies it.
//   W4 (NoDoubleWake)   a waiter is taken off the list once, by one add or by
//       the abandon path, never both.
//   W5 (NoTouchAfterZero)  an add that reaches zero with no waiter counted
//       returns without another access to the wait_group.
//
// What the runtime provides, through Env (production: wait_group.cpp's
// wg_env; the check: its fake):
//   lock(), unlock()      the wait_group's lock (futex_lock lock_)
//   waiter                the waiter type; init(waiter&) fills it in
//   push(waiter*)         appends to the list (lock held)
//   remove(waiter*)       unlinks it if listed, true if it was (lock held)
//   list, take_all()      the whole list, emptied (lock held)
//   ready_all(list&)      readies every waiter of a taken list (lock free)
//   park_unlock(waiter&)  parks, releasing the lock once the park committed;
//                         records the abandon path (wait_group_abandon) first
//   negative(v)           the counter went negative: throws (Go panics)
#pragma once
#include <cstdint>

#include "base/atomic.hpp"
#include "base/build_config.hpp"
#include "sched/chaos.hpp"

namespace goro::detail {

// A, the state word's type in every function here: detail::atomic (the c11
// checks, the simulation) or the public header's std::atomic.

// The orders c11/ weakens one step to show its check catches each; production
// uses exactly these.
struct wait_group_orders {
  // add's RMW of the word: release publishes the finished goroutine's writes.
  // No acquire: the only add that needs the earlier done()s' writes is the
  // one that reaches zero with waiters, and it acquires them through its
  // acquire re-load under the lock, which reads this RMW or a later one, all
  // in the release sequence of every earlier done() (spec/memory-model.md
  // §12, "Orders weakened because of the table").
  static constexpr std::memory_order add = std::memory_order_release;
  // wait's fast-path load: a waiter that sees zero returns at once, so it
  // must acquire every done()'s writes through the word's release sequence.
  static constexpr std::memory_order wait_fast = std::memory_order_acquire;
};

inline constexpr std::int64_t wg_counter_one = std::int64_t(1) << 32;
constexpr std::int32_t wg_count_of(std::int64_t s) { return static_cast<std::int32_t>(s >> 32); }
constexpr std::uint32_t wg_waiters_of(std::int64_t s) { return static_cast<std::uint32_t>(s); }

// add(n) for n != 0 within the 32-bit range (the caller checked).
template <class O = wait_group_orders, class Env, class A>
inline void wait_group_add(A& state, std::int64_t n, Env& env) {
  // release: done() publishes the finished goroutine's writes; the add that
  // reaches zero with waiters acquires all of them by its re-load below
  // before waking the waiters, who then see them through ready()'s own
  // release/acquire chain (W2).
  std::int64_t s = state.fetch_add(n * wg_counter_one, O::add /* release */) + n * wg_counter_one;
  std::int32_t v = wg_count_of(s);
  if (v < 0) env.negative(v);
  // MUTANT wg_stale_wake: the old protocol: lock and wake whatever is
  // listed, even with no waiter registered at zero time (a later waiter's
  // list entry is woken too, and *this is touched after a waiter that saw
  // zero may have destroyed it).
  const bool stale_wake = mutant_on(mutant_id::wg_stale_wake);
  // Nobody registered when the counter reached zero: done, and the wait_group
  // is not touched again (W5). Registered waiters cannot return before we
  // wake them, so with one or more it stays alive until ready_all below.
  if (v > 0 || n > 0 || (!stale_wake && wg_waiters_of(s) == 0)) return;
  GORO_CHAOS_POINT();  // between reaching zero and taking the lock
  env.lock();
  if (!stale_wake) {
    // Re-armed since it reached zero: only possible when add() races with
    // wait(), which Go calls misuse; the listed waiters then wait for the
    // next zero instead of returning early. acquire: the one acquire of the
    // add that wakes: it reads our RMW or a later one, so it synchronizes
    // with every done() before ours, whose writes the waiters we wake need
    // (W2).
    std::int64_t now = state.load(std::memory_order_acquire);
    if (wg_count_of(now) != 0) {
      env.unlock();
      return;
    }
    // Registration happens under the lock, so the list holds exactly the
    // registered waiters (W1): take them all and clear their count.
    // relaxed: the lock orders it against every registration and abandon.
    state.fetch_sub(static_cast<std::int64_t>(wg_waiters_of(now)), std::memory_order_relaxed);
  }
  auto woken = env.take_all();
  env.unlock();
  // From here on only the waiters, not the wait_group: the first one readied
  // may return and destroy it.
  env.ready_all(woken);
}

template <class O = wait_group_orders, class Env, class A>
inline void wait_group_wait(A& state, Env& env) {
  if (wg_count_of(state.load(O::wait_fast /* acquire */)) == 0) return;
  typename Env::waiter w;
  env.init(w);
  env.lock();
  // Register (waiters + 1) only while the counter is non-zero, in one CAS:
  // the add() that reaches zero then either sees us counted (and takes the
  // lock, which we hold until the park commits, so it finds us listed) or
  // reached zero first (and our CAS fails and we see zero) (W3).
  std::int64_t s = state.load(std::memory_order_acquire);
  for (;;) {
    if (wg_count_of(s) == 0) {
      env.unlock();
      return;
    }
    // acquire on failure: the value that ends the loop may be the zero that
    // releases us. acquire on success: as the fast path's load (a later
    // wake also carries it, through the lock and ready()), and no weaker
    // than the failure order. No release: registration publishes nothing
    // the add that reads it needs; our list entry reaches it through the
    // lock, which it takes after reading our count (§12).
    if (state.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_acquire))
      break;
  }
  env.push(&w);
  env.park_unlock(w);
}

// The abandon path (park.hpp, waiter_on_abandon): a parked waiter that will
// never run again leaves the list and the registered count, as if it had
// never waited. False if an add took it first (it is being readied).
template <class Env, class A>
inline bool wait_group_abandon(A& state, Env& env, typename Env::waiter* w) {
  env.lock();
  bool found = env.remove(w);
  // relaxed: registration is guarded by the lock (see wait_group_add).
  if (found) state.fetch_sub(1, std::memory_order_relaxed);
  env.unlock();
  return found;
}

}  // namespace goro::detail
