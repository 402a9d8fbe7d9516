// goro::cond: Go's sync.Cond.
#pragma once

#include "goro/detail/export.hpp"
#include "goro/detail/thread_annotations.hpp"
#include "goro/detail/waitq.hpp"
#include "goro/mutex.hpp"

namespace goro {

// A condition variable with Go's sync.Cond semantics, bound to one
// goro::mutex (Go's c.L; Go accepts any Locker, goro only goro::mutex).
//
// wait() must be called with the mutex locked: it unlocks it and parks the
// calling goroutine (or blocks the calling thread, outside a goroutine or
// inside blocking()) until signal() or broadcast() wakes it, and locks the
// mutex again before it returns. signal() wakes the waiter that has waited
// longest, if any; broadcast() wakes every waiter. Either may be called with
// or without the mutex held. As Go's notify list does, a wake reaches only
// waiters that were waiting when signal() or broadcast() was called: a
// waiter is counted from the moment wait() is entered (while the caller
// still holds the mutex), so a signal sent by someone who locked the mutex
// after a waiter entered wait() is never lost, and a wait() that begins
// after a signal is never woken by it. Goroutines and foreign threads may
// wait on and signal the same cond, mixed.
//
// No spurious wake-ups: wait() returns only after a signal() or broadcast()
// chose this waiter. Go's documentation asks callers to wait in a loop
// over their condition anyway, and that remains the right pattern: another
// goroutine may lock the mutex between the wake and wait()'s re-lock and
// change the condition.
//
// Not copyable or movable (Go's copy checker panics on a copied Cond; here
// the compiler refuses): waiters point into it. A cond may be created
// before goro::run and used after it; goroutines still waiting when run's
// main returns are abandoned and taken off the cond. Destroying a cond
// while a goroutine or thread waits on it is undefined behaviour (as in
// Go, where it cannot be expressed); it may be destroyed as soon as no
// wait(), signal() or broadcast() is in progress.
//
// Errors: wait() without the mutex locked is a misuse that goro::mutex
// detects at the unlock (the process ends, as Go's fatal "unlock of
// unlocked mutex"), if nobody else holds it.
//
// Memory ordering: a signal() or broadcast() happens before every wait()
// it wakes returns; in addition, wait()'s unlock and re-lock order it with
// the mutex's other owners as unlock and lock do (goro::mutex), so what a
// waker wrote while holding the mutex is visible to the woken waiter.
class GORO_API cond {
 public:
  explicit cond(mutex& m) noexcept : m_(m) {}
  cond(const cond&) = delete;
  cond& operator=(const cond&) = delete;

  void wait();
  void signal();
  void broadcast();

 private:
  friend struct cond_access;  // src/sync/cond.cpp's waiter and abandon code
  mutex& m_;
  detail::futex_lock lock_;
  // The waiters that entered wait() and have not been chosen yet, oldest
  // first (a waiter is queued before it unlocks m_, so the order is the
  // order of entry).
  detail::wait_list waiters_ GORO_GUARDED_BY(lock_);
};

}  // namespace goro
