// The protocol of goro::mutex (Go's sync.Mutex, sync/mutex.go) over its state
// word, as a header: mutex.cpp instantiates it with the runtime's semaphore
// table, park/ready, spinning and clock, and c11/mutex_c11.cpp with Relacy
// fakes (a fake clock among them, so that starvation mode is entered
// deterministically), so the checked protocol is the shipped one (issue 13).
//
// state = waiters << 3 | starving | woken | locked, changed only by atomic
// RMW. The invariants M1-M5 are mutex.cpp's (and spec/channels.md's,
// "Mutex"): M1 the count matches the queued sleepers, M2 a wake is decided
// only by unlock's releasing RMW that saw a counted sleeper, M3 one owner of
// woken, M4 in starvation mode only the head waiter sets locked, M5 unlock
// touches *this only up to its releasing RMW.
//
// The inline fast paths of goro/mutex.hpp (one CAS each: lock 0 -> locked
// acquire, unlock locked -> 0 release) are a public header's and cannot
// include this one; mutex_lock / mutex_unlock below are the same CAS with the
// same orders, for the check and for the abandon path.
//
// What the runtime provides, through Env (production: mutex.cpp's mutex_env;
// the check: its fake):
//   can_spin(iter), spin_pause()  Go's sync_runtime_canSpin / doSpin
//   now()                 the clock (nanotime), never 0
//   sleep_lock(), sleep_unlock()  the semaphore bucket's lock
//   waiter                the waiter type the abandon path names
//   sleep(requeue)        queues the caller (at the front if requeue) with the
//                         bucket lock held, records the abandon path, parks,
//                         releasing the lock once the park committed
//   remove(waiter*)       unlinks a waiter if queued (bucket lock held)
//   queued(waiter*)       whether a waiter is queued (bucket lock held)
//   wait_wake()           teardown only: releases the bucket lock, waits a
//                         moment for a wake in flight on this mutex (the
//                         check: until some wake has run), locks it again
//   wake()                wakes the first sleeper of this mutex; true if one
//   after_handoff()       after a starvation hand-off woke its receiver
//   fatal(msg)            a broken invariant: does not return
#pragma once
#include <cstdint>

#include "base/atomic.hpp"

namespace goro::detail {

// A, the state word's type in every function here: detail::atomic (the c11
// checks, the simulation) or the public header's std::atomic.

inline constexpr std::int32_t mutex_locked_bit = 1;
inline constexpr std::int32_t mutex_woken_bit = 2;
inline constexpr std::int32_t mutex_starving_bit = 4;
inline constexpr int mutex_waiter_shift = 3;
inline constexpr std::int64_t mutex_starvation_threshold_ns = 1'000'000;  // 1 ms, as Go

// The orders c11/ weakens one step to show its check catches each; production
// uses exactly these.
struct mutex_orders {
  // lock_slow's CAS: acquire when it takes the lock (pairs with unlock's
  // release RMW). Not acq_rel: a lock publishes nothing (spec/memory-model.md
  // §12, "Orders weakened because of the table").
  static constexpr std::memory_order lock_cas = std::memory_order_acquire;
  // unlock_slow's CAS: publishes the critical section to the next owner.
  static constexpr std::memory_order unlock_cas = std::memory_order_release;
  // mutex_abandon unlinks a waiter only with a count to give back, waiting
  // for the wake in flight otherwise. false only in c11's teeth.
  static constexpr bool abandon_waits_for_wake = true;
};

// Keeps M4: never takes a lock that starvation mode has promised to the head
// waiter, and never counts itself as a waiter (it does not sleep).
template <class A>
inline bool mutex_try_lock(A& state) noexcept {
  // relaxed load: only a hint for the CAS, which decides.
  std::int32_t old = state.load(std::memory_order_relaxed);
  if (old & (mutex_locked_bit | mutex_starving_bit)) return false;
  // acquire on success: as in lock().
  return state.compare_exchange_strong(old, old | mutex_locked_bit, std::memory_order_acquire,
                                       std::memory_order_relaxed);
}

// Keeps M1-M4. Each trip round the loop computes the state we want from the
// state we saw and installs it with one CAS; a failed CAS reloads and retries.
template <class O = mutex_orders, class Env, class A>
inline void mutex_lock_slow(A& state, Env& env) {
  std::int64_t wait_start = 0;  // when we first went to sleep; 0: not yet
  bool starving = false;        // we have waited longer than the threshold
  bool awoke = false;           // we own the woken flag (M3)
  int iter = 0;
  // relaxed loads and failure orders: the CAS below decides; only a CAS
  // that takes the lock needs acquire.
  std::int32_t old = state.load(std::memory_order_relaxed);
  for (;;) {
    // Held in normal mode: spin a little if it may be released soon.
    if ((old & (mutex_locked_bit | mutex_starving_bit)) == mutex_locked_bit && env.can_spin(iter)) {
      // Claim woken so that unlock does not wake a sleeper who would only
      // lose to us (M3). relaxed: claiming the flag takes no lock and
      // publishes nothing; only its atomicity matters (one owner).
      if (!awoke && !(old & mutex_woken_bit) && (old >> mutex_waiter_shift) != 0 &&
          state.compare_exchange_strong(old, old | mutex_woken_bit, std::memory_order_relaxed,
                                        std::memory_order_relaxed))
        awoke = true;
      env.spin_pause();
      iter++;
      old = state.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t want = old;
    // Normal mode: try to take it. Starvation mode: never (M4).
    if (!(old & mutex_starving_bit)) want |= mutex_locked_bit;
    // Held or promised: we will sleep, so count ourselves (M1, below).
    if (old & (mutex_locked_bit | mutex_starving_bit)) want += 1 << mutex_waiter_shift;
    // We have starved: switch to starvation mode, but only while it is held
    // (if it is free, the unlock that would honour it may never come).
    if (starving && (old & mutex_locked_bit)) want |= mutex_starving_bit;
    if (awoke) {
      if (!(want & mutex_woken_bit)) env.fatal("goro::mutex: inconsistent state (woken flag lost)");
      want &= ~mutex_woken_bit;
    }
    // Held or promised: we will sleep. Count ourselves and queue ourselves
    // in one step (M1): the CAS runs with the bucket locked, and the lock is
    // released only after the park has committed, so the unlock that counts
    // on us finds us queued.
    bool sleep = (old & (mutex_locked_bit | mutex_starving_bit)) != 0;
    if (sleep) env.sleep_lock();
    // acquire on success: when this CAS takes the lock, it reads the last
    // unlock's release RMW or a later RMW in its release sequence (every
    // change of the word is an RMW). No release: nobody needs our earlier
    // writes from this CAS. Our critical sections were released by our own
    // unlocks; the sleeper's queue entry reaches the waker through the
    // bucket lock, which the waker takes after reading our count (§12).
    if (!state.compare_exchange_weak(old, want, O::lock_cas /* acquire */,
                                     std::memory_order_relaxed)) {
      if (sleep) env.sleep_unlock();
      continue;
    }
    if (!sleep) return;  // taken by our CAS
    // Sleep. A waiter that has slept before goes back to the front of the
    // queue (LIFO), so that it keeps its turn.
    bool requeue = wait_start != 0;
    if (!requeue) wait_start = env.now();
    env.sleep(requeue);
    // Dequeued by an unlock's wake; what the previous owner wrote reached us
    // through its release RMW and ready()'s own ordering.
    starving = starving || env.now() - wait_start > mutex_starvation_threshold_ns;
    old = state.load(std::memory_order_relaxed);
    if (old & mutex_starving_bit) {
      // Handed to us (M4): locked is clear and we are still counted. Take
      // it, leave the count, and end starvation mode if we are the last
      // waiter or did not starve ourselves.
      if ((old & (mutex_locked_bit | mutex_woken_bit)) || (old >> mutex_waiter_shift) == 0)
        env.fatal("goro::mutex: inconsistent state in starvation hand-off");
      std::int32_t delta = mutex_locked_bit - (1 << mutex_waiter_shift);
      if (!starving || (old >> mutex_waiter_shift) == 1) delta -= mutex_starving_bit;
      // acquire: the RMW reads the hand-off's release CAS or a later RMW
      // (every change of the word is one), so the previous owner's critical
      // section happens-before ours, as on every path that takes the lock.
      // The unlock that handed it over also readied us after its CAS, and
      // that wake-up carries the same edge (§12). No release, as the CAS
      // above: taking the lock publishes nothing.
      state.fetch_add(delta, std::memory_order_acquire);
      return;
    }
    // Woken in normal mode: compete again, owning woken (the unlocker set it).
    awoke = true;
    iter = 0;
  }
}

// Keeps M1-M5. One CAS both releases the lock and decides whether to wake
// (M2), so nothing of the mutex is touched after the release (M5); a failed
// CAS only reloads. Wakes a sleeper only if there is one and nobody is awake
// to take the lock already (M3); in starvation mode hands it to the head
// waiter. Always inlined: unlock_slow is this and nothing else (the abandon
// path's copy is cold), so production keeps its one frame.
template <class O = mutex_orders, class Env, class A>
[[gnu::always_inline]] inline void mutex_unlock_slow(A& state, std::int32_t old, Env& env) {
  for (;;) {
    if (!(old & mutex_locked_bit)) env.fatal("goro::mutex: unlock of unlocked mutex");
    std::int32_t want = old - mutex_locked_bit;
    bool handoff = (old & mutex_starving_bit) != 0;
    // Normal mode: wake one if someone sleeps and nobody is awake (M3);
    // take it off the count and mark it woken in the same RMW.
    bool wake = !handoff && (old >> mutex_waiter_shift) != 0 && !(old & mutex_woken_bit);
    if (wake) want = (want - (1 << mutex_waiter_shift)) | mutex_woken_bit;
    // release: publishes the critical section to the next owner, who
    // acquires through its own CAS (or, after a hand-off, through its
    // final RMW, which reads this value). relaxed on failure: we only retry.
    if (!state.compare_exchange_weak(old, want, O::unlock_cas /* release */,
                                     std::memory_order_relaxed))
      continue;
    // From here on only the address: the mutex may be gone (M5).
    if (handoff) {
      // Hand ownership to the head waiter (M4) and let it run at once.
      if (env.wake()) env.after_handoff();
    } else if (wake) {
      env.wake();
    }
    return;
  }
}

// goro/mutex.hpp's inline lock() and unlock(), the same CAS and orders.
template <class O = mutex_orders, class Env, class A>
inline void mutex_lock(A& state, Env& env) {
  std::int32_t unlocked = 0;
  // acquire: everything the previous owner wrote before unlock is visible.
  if (state.compare_exchange_strong(unlocked, mutex_locked_bit, std::memory_order_acquire,
                                    std::memory_order_relaxed))
    return;
  mutex_lock_slow<O>(state, env);
}
template <class O = mutex_orders, class Env, class A>
inline void mutex_unlock(A& state, Env& env) {
  std::int32_t old = mutex_locked_bit;
  // release: publishes the critical section to the next owner.
  if (state.compare_exchange_strong(old, 0, std::memory_order_release, std::memory_order_relaxed))
    return;
  mutex_unlock_slow<O>(state, old, env);
}

// The abandon path (park.hpp, waiter_on_abandon) of a locker parked in
// mutex_lock_slow. Not readied: leave the bucket, and the waiter count if we
// are still queued (M1: queued and counted go together, both changed under
// the bucket lock). Readied but never run: the unlock that woke us handed us
// the woken flag (normal mode, M3) or the mutex itself (starvation mode, M4);
// give it back as we would have on resuming.
template <class O = mutex_orders, class Env, class A>
inline bool mutex_abandon(A& state, Env& env, bool readied, typename Env::waiter* w) {
  if (readied) {
    std::int32_t cur = state.load(std::memory_order_relaxed);
    if (cur & mutex_starving_bit) {
      // Take it as the hand-off does, ending starvation mode (we never ran,
      // so we did not starve), then unlock: the next sleeper, if any (only
      // live threads' waiters are left), gets it. acq_rel: acquire as the
      // hand-off's RMW; its release half is not needed either (as there,
      // §12), but no c11/ scenario reaches this branch to check the weaker
      // order, so it stays.
      state.fetch_add(mutex_locked_bit - (1 << mutex_waiter_shift) - mutex_starving_bit,
                      std::memory_order_acq_rel);
      mutex_unlock<O>(state, env);
    } else {
      // Only the owner of woken clears it (M3): we own it. Then do what our
      // competing would have led to: if it is free, an unlock wakes a
      // sleeper the flag held back. relaxed: the flag publishes nothing.
      state.fetch_and(~mutex_woken_bit, std::memory_order_relaxed);
      if (mutex_try_lock(state)) mutex_unlock<O>(state, env);
    }
    return true;
  }
  env.sleep_lock();
  if constexpr (!O::abandon_waits_for_wake) {
    // The old path (only c11's teeth compile it): unlinks w even when the
    // count no longer includes it, orphaning the in-flight wake's woken flag.
    bool found = env.remove(w);
    if (found) {
      std::int32_t cur = state.load(std::memory_order_relaxed);
      while ((cur >> mutex_waiter_shift) > 0 &&
             !state.compare_exchange_weak(cur, cur - (1 << mutex_waiter_shift),
                                          std::memory_order_relaxed, std::memory_order_relaxed)) {
      }
    }
    env.sleep_unlock();
    return found;
  }
  // Unlink w only together with a count to give back (M1). A queued waiter
  // with no count left for it is the target of a normal-mode wake in flight:
  // count = queued - wakes in flight + receivers (M1) is 0 with w queued, so
  // an unlock's releasing RMW has already taken w's count and set woken for
  // it, and only its sema_wake is still to come (a foreign thread's unlock,
  // racing teardown). Unlinking w then would make that wake find nobody and
  // leave woken set with no owner, so that no unlock would wake a sleeper
  // again (M3). The waker may not touch the word any more (M5), so teardown
  // waits for it instead: it releases the bucket lock until a wake has run
  // and looks again. Then either the wake took w (return false: the caller
  // waits for its ready() and gives back the woken flag, readied == true
  // below), or it took a waiter that queued itself in front of w (a
  // requeue), and that waiter's counting CAS left a count for w. The wait
  // ends: the unlocker has passed its RMW and needs only the bucket lock (a
  // goroutine cannot be stopped between the two: unlock_slow runs them in
  // one nopreempt region, no scheduling point lies between them, and
  // teardown starts once no goroutine runs).
  // relaxed: a count change publishes nothing (as unlock_slow's CAS).
  std::int32_t cur = state.load(std::memory_order_relaxed);
  for (;;) {
    if (!env.queued(w)) {
      env.sleep_unlock();
      return false;  // a waker took it
    }
    if ((cur >> mutex_waiter_shift) == 0) {
      env.wait_wake();  // releases the bucket lock, waits, takes it again
      cur = state.load(std::memory_order_relaxed);
      continue;
    }
    // relaxed: as above. The CAS decides against an unlock's concurrent
    // decrement: whichever takes the last count, the other sees 0.
    if (state.compare_exchange_weak(cur, cur - (1 << mutex_waiter_shift), std::memory_order_relaxed,
                                    std::memory_order_relaxed))
      break;
  }
  env.remove(w);
  env.sleep_unlock();
  return true;
}

}  // namespace goro::detail
