// The futex protocols of lock.cpp as a header: futex_lock's slow path
// (Drepper's "Futexes are tricky", mutex #3) and note's sleep/wakeup (Go's
// note, lock_futex.go). lock.cpp instantiates them with the real futex
// system calls, and c11/futex_c11.cpp with a Relacy fake futex, so the
// checked protocol is the shipped one (issue 13).
//
// futex_lock's word: 0 free, 1 locked, 2 locked and there may be sleepers.
//   F1 (MutualExclusion)  only a 0 -> 1 CAS or an exchange that returned 0
//       takes the lock; unlock's exchange returns it to 0.
//   F2 (NoLostWakeup)  a locker sleeps only on a word it has just set to 2,
//       and the kernel puts it to sleep only if the word is still 2; the
//       unlock that finds 2 wakes one sleeper, which sets 2 again on its way
//       in, so while a sleeper remains the next unlock wakes again.
// note's key: 0 not signalled, 1 signalled (one-shot until clear).
//   N1 (NoLostWakeup)  the sleeper sleeps only while the key is 0, and
//       wakeup stores 1 before waking.
//
// The inline fast paths of goro/detail/waitq.hpp (lock: CAS 0 -> 1 acquire;
// unlock: exchange 0 release, wake if it was 2) are a public header's and
// cannot include this one: futex_lock_lock / futex_lock_unlock below are the
// same operations with the same orders, for the check.
//
// What the runtime provides, through Env:
//   spin_tries            lock_slow's spin rounds before it sleeps (100)
//   pause()               one spin round's pause (cpu_relax)
//   futex_wait(a, v)      sleeps while *a == v (may return spuriously)
//   futex_wake(a, n)      wakes up to n sleepers on a
#pragma once
#include <climits>
#include <cstdint>

#include "base/atomic.hpp"

namespace goro::detail {

// A is the futex word's type: detail::atomic<std::uint32_t> (the c11 checks
// and the simulation) or the std::atomic<std::uint32_t> of the public
// header's futex_lock, whose inline fast path must be the same in every build.

// The orders c11/ weakens one step to show its check catches each; production
// uses exactly these.
struct futex_orders {
  // lock_slow's exchange to 2: takes the lock when it returns 0.
  static constexpr std::memory_order slow_xchg = std::memory_order_acquire;
  // note's wakeup store: publishes what the waker wrote before it.
  static constexpr std::memory_order note_wake = std::memory_order_release;
};

template <class O = futex_orders, class Env, class A>
inline void futex_lock_slow(A& state, Env& env) noexcept {
  for (int i = 0; i < Env::spin_tries; i++) {
    std::uint32_t c = state.load(std::memory_order_relaxed);
    if (c == 0 &&
        state.compare_exchange_weak(c, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
    env.pause();
  }
  // acquire on success: as in lock(). Setting 2 even when it was 0 is
  // Drepper's point: we cannot know whether others sleep, so the unlock that
  // follows ours wakes one (F2).
  while (state.exchange(2, O::slow_xchg /* acquire */) != 0) env.futex_wait(&state, 2);
}

// goro/detail/waitq.hpp's inline futex_lock::lock() and release_state().
template <class O = futex_orders, class Env, class A>
inline void futex_lock_lock(A& state, Env& env) noexcept {
  std::uint32_t c = 0;
  // acquire: everything the previous holder wrote before unlock is visible.
  if (!state.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed))
    futex_lock_slow<O>(state, env);
}
template <class Env, class A>
inline void futex_lock_unlock(A& state, Env& env) noexcept {
  // release: publishes the critical section to the next acquirer.
  if (state.exchange(0, std::memory_order_release) == 2) env.futex_wake(&state, 1);
}

template <class Env, class A>
inline void note_sleep(A& key, Env& env) noexcept {
  // acquire: everything the waker wrote before wakeup() is visible.
  while (key.load(std::memory_order_acquire) == 0) env.futex_wait(&key, 0);
}

template <class O = futex_orders, class Env, class A>
inline void note_wakeup(A& key, Env& env) noexcept {
  key.store(1, O::note_wake /* release */);
  env.futex_wake(&key, INT_MAX);
}

}  // namespace goro::detail
