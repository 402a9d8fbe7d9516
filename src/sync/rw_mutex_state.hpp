// The protocol of goro::rw_mutex (Go's sync.RWMutex, sync/rwmutex.go) over its
// two words, as a header: rw_mutex.cpp instantiates it with the runtime's
// wait table, park/ready and goro::mutex, and c11/rw_mutex_c11.cpp with
// Relacy fakes, so the checked protocol is the shipped one (issue 13).
//
// The words:
//   readers   epoch << 32 | count, count a signed 32-bit field (Go's
//             readerCount): the readers inside or waiting to get in, less
//             rw_max_readers while a writer is pending or holds the lock.
//             The epoch counts writer unlocks. Arithmetic on the word is
//             modulo 2^64 with count as its signed low half, so adding a
//             signed delta to count leaves the epoch as it was.
//   departing the readers a pending writer still waits for (Go's readerWait).
// Writers are serialized by a goro::mutex (Go's w), taken before and
// released at the start of unlock.
//
// Where Go's order differs, and why. Go's Unlock adds rwmutexMaxReaders back
// (letting readers in) and then unlocks w, so a reader let in may unlock and
// destroy the RWMutex while w.Unlock is still to run; [thread.sharedmutex]
// allows that destruction. Here unlock releases w first and the readers in
// its very last access to *this. A writer that takes w in between must not
// subtract before that release: writers subtract and release with the wait
// bucket's lock held (Env lock()), and a writer that finds the previous
// writer still pending, with the lock held, waits for its release (R4). The
// bucket lock also replaces Go's counting semaphores: every sleeper counts
// itself (or checks that it must sleep) and queues itself under the lock,
// so a wake never needs a token left behind in *this.
//
// Invariants (c11/rw_mutex_c11.cpp checks them, names as there):
//   R1 (MutualExclusion)  count >= 0 while no writer is pending; a writer
//       subtracts only with the lock held, seeing count >= 0, and holding w,
//       so one writer at a time is pending; it returns from lock only when
//       every reader counted at its subtraction has departed (departing
//       reached 0), and readers that count themselves while it is pending
//       wait until its release.
//   R2 (NoLostWakeup, readers)  a reader that counted itself while a writer
//       was pending takes the lock and reads the word: if the epoch is the
//       one its count saw, that writer has not released (its release is an
//       RMW made with the lock held, and bumps the epoch), so it queues
//       itself before unlocking, and the release takes every queued reader.
//       If the epoch moved, it was released and is counted as inside. The
//       epoch moves at most once meanwhile: the next writer counts it among
//       the readers it waits for.
//   R3 (NoLostWakeup, writer)  departing counts down from the readers the
//       writer saw; it reaches 0 only after the writer's add (it starts at 0
//       and readers only subtract), which the writer makes with the lock
//       held and queues itself before unlocking; the reader that reaches 0
//       then takes the lock and wakes it.
//   R4 (WriterAfterWriter)  the subtraction and the release are made with
//       the lock held, so a writer that holds w and the lock and sees count
//       < 0 has a predecessor between its w unlock and its release: it
//       queues itself; that release wakes it.
//   R5 (NoTouchAfterRelease)  unlock's releasing RMW is its last access to
//       *this; a reader's departure touches departing only while a writer
//       waits for it (the rw_mutex cannot be destroyed yet); wakes use the
//       address as a key only.
//
// What the runtime provides, through Env (production: rw_mutex.cpp's env;
// the check: its fake):
//   lock(), unlock()         the wait bucket's lock
//   wlock(), wunlock()       the writer mutex (goro::mutex w_); wtry_lock()
//   sleep_reader()           queue the caller as a reader (lock held), record
//                            the abandon path, park, releasing the lock once
//                            the park committed
//   sleep_writer()           the same as the writer waiting for departures
//   sleep_behind()           the same as a writer waiting for R4's release
//   release_waiters()        (lock held) take every queued reader and the
//                            writer of sleep_behind, to be readied by
//                            ready_released() after the unlock
//   wake_writer()            take the lock, dequeue the writer of
//                            sleep_writer, unlock, ready it; false if none
//   waiter, remove(waiter*)  the waiter type, and the abandon paths' unlink
//                            of one if it is still queued (lock held)
//   fatal(msg)               misuse or a broken invariant: does not return
#pragma once
#include <cstdint>

#include "base/atomic.hpp"

namespace goro::detail {

// AR and AD, the types of the readers word and the departing count: detail::
// atomic (the c11 checks, the simulation) or the public header's std::atomic.

inline constexpr std::int32_t rw_max_readers = std::int32_t(1) << 30;  // Go's rwmutexMaxReaders
inline constexpr std::uint64_t rw_epoch_one = std::uint64_t(1) << 32;

// The signed count in the low half, and the epoch above it.
constexpr std::int32_t rw_count(std::uint64_t w) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(w));
}
constexpr std::uint32_t rw_epoch(std::uint64_t w) {
  return static_cast<std::uint32_t>((w - static_cast<std::uint64_t>(std::int64_t{rw_count(w)})) >>
                                    32);
}
// Adds a signed delta to the count (modulo 2^64: the epoch stays).
constexpr std::uint64_t rw_delta(std::int32_t d) {
  return static_cast<std::uint64_t>(std::int64_t{d});
}

// The orders c11/ weakens one step to show its check catches each;
// production uses exactly these.
struct rw_mutex_orders {
  // lock_shared's fetch_add: acquire pairs with the releasing RMW of the
  // last writer's unlock (or one in its release sequence: every change of
  // the word is an RMW), so what that writer wrote is visible.
  static constexpr std::memory_order reader_add = std::memory_order_acquire;
  // unlock's RMW: releases the critical section to the readers that read it
  // (and to the next writer, whose subtraction acquires it).
  static constexpr std::memory_order writer_release = std::memory_order_release;
  // unlock_shared's fetch_sub: releases the reader's reads, so the next
  // writer's writes do not race with them; the writer acquires it through
  // its subtraction (a departure before it) or through departing (after).
  static constexpr std::memory_order reader_sub = std::memory_order_release;
  // the writer's subtraction: acquires the departures before it.
  static constexpr std::memory_order writer_sub = std::memory_order_acquire;
  // unlock releases w before the readers (R5). false only in c11's teeth:
  // Go's order, which touches w after a reader it let in may have
  // destroyed the rw_mutex.
  static constexpr bool unlock_w_first = true;
};

// Go's TryRLock: never blocks; fails while a writer is pending.
template <class O = rw_mutex_orders, class AR>
inline bool rw_try_lock_shared(AR& readers) noexcept {
  // relaxed: only a hint for the CAS, which decides.
  std::uint64_t old = readers.load(std::memory_order_relaxed);
  for (;;) {
    if (rw_count(old) < 0) return false;
    // acquire on success: as lock_shared's fetch_add. relaxed on failure:
    // we only look again.
    if (readers.compare_exchange_weak(old, old + 1, O::reader_add /* acquire */,
                                      std::memory_order_relaxed))
      return true;
  }
}

// lock_shared's slow path: our fetch_add (which returned old) counted us
// while a writer was pending (R2).
template <class O = rw_mutex_orders, class Env, class AR>
inline void rw_lock_shared_slow(AR& readers, std::uint64_t old, Env& env) {
  env.lock();
  // relaxed: the writer's release is an RMW made with the lock held, so if
  // it came first the lock orders it (and its critical section) before
  // this load; if not, we read our own epoch and queue ourselves.
  std::uint64_t cur = readers.load(std::memory_order_relaxed);
  if (rw_epoch(cur) != rw_epoch(old)) {
    env.unlock();  // released meanwhile: we are counted as inside (R2)
    return;
  }
  env.sleep_reader();  // releases the lock; the writer's release readies us
}

template <class O = rw_mutex_orders, class Env, class AR>
inline void rw_lock_shared(AR& readers, Env& env) {
  // acquire: pairs with the last writer's releasing RMW (rw_mutex_orders).
  std::uint64_t old = readers.fetch_add(1, O::reader_add /* acquire */);
  if (rw_count(old) < 0) rw_lock_shared_slow<O>(readers, old, env);
}

template <class O = rw_mutex_orders, class Env, class AR>
inline void rw_unlock(AR& readers, Env& env);

// unlock_shared's slow path: our fetch_sub (which returned old) saw a
// writer pending, or no reader at all (misuse).
template <class O = rw_mutex_orders, class Env, class AR, class AD>
inline void rw_unlock_shared_slow(AR& readers, AD& departing, std::uint64_t old, Env& env) {
  std::int32_t c = rw_count(old);
  if (c == 0 || c == -rw_max_readers)
    env.fatal("goro::rw_mutex: unlock_shared of an rw_mutex not locked for reading");
  // A writer is pending and waits for us (R3): the rw_mutex stays alive
  // until it has returned from lock. acq_rel: release our reads to the
  // writer; the RMW that reaches 0 also acquires every earlier departure
  // (each heads a release sequence this RMW continues) and passes them on
  // through the lock and ready() to the writer we wake.
  if (departing.fetch_sub(1, std::memory_order_acq_rel) - 1 != 0) return;
  // Only the address from here on (R5), unless nobody was queued: the
  // pending writer was abandoned (rw_abandon_writer) and we unlock for it.
  if (!env.wake_writer()) rw_unlock<O>(readers, env);
}

template <class O = rw_mutex_orders, class Env, class AR, class AD>
inline void rw_unlock_shared(AR& readers, AD& departing, Env& env) {
  // release: our reads happen before the next writer's writes.
  std::uint64_t old = readers.fetch_sub(1, O::reader_sub /* release */);
  if (rw_count(old) <= 0) rw_unlock_shared_slow<O>(readers, departing, old, env);
}

// The writer's step once it holds w: with the lock held, become the pending
// writer and wait for the readers inside to depart (R1, R3, R4).
template <class O = rw_mutex_orders, class Env, class AR, class AD>
inline void rw_lock_pending(AR& readers, AD& departing, Env& env) {
  env.lock();
  for (;;) {
    // relaxed: the lock orders us after the previous writer's release if
    // we see it; the subtraction below acquires.
    std::uint64_t cur = readers.load(std::memory_order_relaxed);
    if (rw_count(cur) >= 0) break;
    env.sleep_behind();  // R4: releases the lock; the release wakes us
    env.lock();
  }
  // acquire: the departures before this RMW (their release fetch_subs are
  // in the word's modification order before it) and the last writer's
  // release happen before our critical section.
  std::uint64_t old = readers.fetch_add(rw_delta(-rw_max_readers), O::writer_sub /* acquire */);
  std::int32_t r = rw_count(old);
  if (r < 0) env.fatal("goro::rw_mutex: inconsistent state (two writers pending)");
  // acquire: the departures already made (they drove departing below 0)
  // happen before our critical section when we need not sleep. No release:
  // the readers publish to us, not we to them. If it is not 0, readers are
  // still inside: sleep, queued before the lock is released (R3).
  if (r != 0 && departing.fetch_add(r, std::memory_order_acquire) + r != 0) {
    env.sleep_writer();  // releases the lock; the last reader readies us
    return;
  }
  env.unlock();
}

template <class O = rw_mutex_orders, class Env, class AR, class AD>
inline void rw_lock(AR& readers, AD& departing, Env& env) {
  env.wlock();
  rw_lock_pending<O>(readers, departing, env);
}

// Go's TryLock: w free and no reader inside or waiting.
template <class O = rw_mutex_orders, class Env, class AR>
inline bool rw_try_lock(AR& readers, Env& env) {
  if (!env.wtry_lock()) return false;
  // relaxed: only a hint for the CAS. A predecessor between its w unlock
  // and its release (R4) leaves count < 0: we fail, as under contention.
  std::uint64_t old = readers.load(std::memory_order_relaxed);
  for (;;) {
    if (rw_count(old) != 0) {
      env.wunlock();
      return false;
    }
    // acquire on success: as the subtraction in lock. relaxed on failure.
    if (readers.compare_exchange_weak(old, old + rw_delta(-rw_max_readers),
                                      O::writer_sub /* acquire */, std::memory_order_relaxed))
      return true;
  }
}

template <class O, class Env, class AR>
inline void rw_unlock(AR& readers, Env& env) {
  // relaxed: a misuse check only; the holder is the only writer pending.
  if (rw_count(readers.load(std::memory_order_relaxed)) >= 0)
    env.fatal("goro::rw_mutex: unlock of an rw_mutex not locked for writing");
  // w first: the release below is our last access to *this (R5). A writer
  // that takes w now waits for that release (R4).
  if constexpr (O::unlock_w_first) env.wunlock();
  env.lock();
  // release: our critical section happens before every reader we let in
  // (they acquire with their fetch_add, or through the lock and ready()),
  // and before the next writer (its subtraction acquires). Bumps the epoch
  // and lets in the readers that counted themselves meanwhile (R2).
  std::uint64_t old = readers.fetch_add(rw_delta(rw_max_readers) + rw_epoch_one,
                                        O::writer_release /* release */);
  // From here on only the address (R5).
  if (rw_count(old) >= 0) env.fatal("goro::rw_mutex: inconsistent state (unlock without writer)");
  auto woken = env.release_waiters();
  env.unlock();
  if constexpr (!O::unlock_w_first) env.wunlock();  // teeth only: Go's order
  env.ready_released(woken);
}

// The abandon paths (park.hpp, waiter_on_abandon) of the three sleeps. Not
// readied: leave the queue and undo what the sleep counted, as if we had
// never come; false if a waker took us first (teardown then waits for its
// ready() and calls again with readied). Readied but never run: give back
// what the wake handed us.

// A reader of sleep_reader. Queued: the writer it waits for is still
// pending (its release takes every queued reader), so our count is among
// the waiting ones and leaves no departure owed. Readied: the release let
// us in; leave as a reader.
template <class O = rw_mutex_orders, class Env, class AR, class AD>
inline bool rw_abandon_reader(AR& readers, AD& departing, Env& env, bool readied,
                              typename Env::waiter* w) {
  if (readied) {
    rw_unlock_shared<O>(readers, departing, env);
    return true;
  }
  env.lock();
  bool found = env.remove(w);
  // relaxed: a waiting reader's count publishes nothing.
  if (found) readers.fetch_sub(1, std::memory_order_relaxed);
  env.unlock();
  return found;
}

// A writer of sleep_writer (pending, waiting for departures). Queued: it
// leaves the queue; the reader whose departure reaches 0 then finds no
// writer to wake (rw_unlock_shared_slow) and unlocks on its behalf, so the
// readers queued behind it get in and w is free again. Readied: it holds
// the lock; unlock.
template <class O = rw_mutex_orders, class Env, class AR>
inline bool rw_abandon_writer(AR& readers, Env& env, bool readied, typename Env::waiter* w) {
  if (readied) {
    rw_unlock<O>(readers, env);
    return true;
  }
  env.lock();
  bool found = env.remove(w);
  env.unlock();
  return found;
}

// A writer of sleep_behind (holds w, not pending yet): give w back.
template <class Env>
inline bool rw_abandon_behind(Env& env, bool readied, typename Env::waiter* w) {
  if (!readied) {
    env.lock();
    bool found = env.remove(w);
    env.unlock();
    if (!found) return false;
  }
  env.wunlock();
  return true;
}

}  // namespace goro::detail
