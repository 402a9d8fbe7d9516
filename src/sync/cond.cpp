// goro::cond: Go's sync.Cond (sync/cond.go, runtime/sema.go's notifyList)
// on goro's waiter list, park and ready.
//
// Go gives each waiter a ticket before it unlocks the mutex and has signal
// serve tickets in order, so that a signal never reaches a waiter that came
// later. goro gets the same order from the list itself: wait() queues its
// waiter (under lock_, while the caller still holds m_), only then unlocks
// m_, and parks afterwards. Between the two the waiter is queued but not
// parked, and a signal may choose it then: the signaller cannot ready a
// goroutine that has not parked, so it marks the waiter signalled instead,
// and the waiter, retaking lock_ to park, sees the mark and does not park.
// Invariants, all under lock_:
//   C1  waiters_ holds exactly the waiters that entered wait() and have not
//       been chosen by a signal or broadcast; oldest first.
//   C2  a chosen waiter leaves waiters_ in the same critical section that
//       chooses it. If it had parked (parked set, which it does under lock_
//       and keeps lock_ until the park committed, park_unlock), the chooser
//       readies it after releasing lock_; otherwise the chooser sets
//       signalled and never touches it again.
//   C3  a waiter parks only if it was not chosen (signalled clear) when it
//       retook lock_, so every park is matched by exactly one ready, and
//       every signal either chooses a waiter present at the time or finds
//       the list empty: no lost and no spurious wake-up.
// m_ is unlocked outside lock_ because goro::mutex's unlock may hand the
// mutex to a starving waiter and yield to it: lock_ is a spinning futex
// lock and must not be held across a switch.
//
// Abandonment (park.hpp, waiter_on_abandon): the record is set as soon as
// the waiter is queued, since a goroutine preempted while queued but not
// parked (unlocking m_) is abandoned runnable, and teardown's second pass
// runs the record for such goroutines too. Taking the waiter off the list
// undoes all that C1 counts for it.
#include "goro/cond.hpp"

#include "sched/runtime.hpp"
#include "sync/park.hpp"

namespace goro {

struct cond_access {
  // A waiter's frame, on its own stack. waiter.elem points back to it so
  // that signal() can reach the flags from the list entry.
  struct cond_waiter {
    detail::waiter w;
    cond* c = nullptr;
    bool parked = false;     // under c->lock_: the waiter parks (C2)
    bool signalled = false;  // under c->lock_: chosen before it parked (C2)
  };

  // Teardown (pass 1: parked, readied false; pass 2: runnable, readied
  // true). Returns whether the waiter was still queued: if not, a signaller
  // chose it, and for a parked waiter teardown then waits for its ready.
  static bool abandon(void* arg, bool) noexcept {
    auto* cw = static_cast<cond_waiter*>(arg);
    detail::futex_guard g(cw->c->lock_);
    return detail::waitq_remove(cw->c->waiters_, &cw->w);
  }

  // Chooses the oldest waiter (C2); returns it if the caller must ready it.
  static detail::waiter* choose_one(cond& c) GORO_REQUIRES(c.lock_) {
    detail::waiter* w = detail::waitq_pop(c.waiters_);
    if (!w) return nullptr;
    auto* cw = static_cast<cond_waiter*>(w->elem);
    if (cw->parked) return w;
    cw->signalled = true;  // last touch of cw: it may return once we unlock
    return nullptr;
  }
};

void cond::wait() {
  detail::honour_preempt();  // before touching *this (park.hpp)
  cond_access::cond_waiter cw;
  detail::waiter_init(cw.w);
  cw.w.elem = &cw;
  cw.c = this;
  lock_.lock();
  detail::waitq_push(waiters_, &cw.w);
  detail::waiter_on_abandon(cw.w, cond_access::abandon, &cw);
  lock_.unlock();
  m_.unlock();
  lock_.lock();
  if (cw.signalled) {
    lock_.unlock();
    // Not parking: the record must not outlive this wait (gopark would
    // have cleared it on resuming).
    detail::waiter_on_abandon(cw.w, nullptr, nullptr);
  } else {
    cw.parked = true;
    // Recorded again: nothing in m_.unlock() parks today (which would have
    // cleared the record on resuming), but the park must not depend on it.
    detail::waiter_on_abandon(cw.w, cond_access::abandon, &cw);
    detail::park_unlock(cw.w, lock_, detail::wait_reason::sync_cond_wait);
  }
  m_.lock();
}

// signal and broadcast take waiters off the list and ready them in one
// nopreempt region (park.hpp, ready): a goroutine preempted in between
// would be runnable with the waiters in its hands, and once its runtime
// stops it never runs again, while teardown waits for their goready
// (abandon_parked).
void cond::signal() {
  detail::honour_preempt();  // park.hpp
  detail::nopreempt np;
  lock_.lock();
  detail::waiter* w = cond_access::choose_one(*this);
  lock_.unlock();
  if (w) detail::ready(w);  // taken off the list: nobody else readies it (C2)
}

void cond::broadcast() {
  detail::honour_preempt();  // park.hpp
  detail::nopreempt np;
  detail::wait_list wake;  // the parked ones, readied after unlocking
  lock_.lock();
  while (waiters_.head)
    if (detail::waiter* w = cond_access::choose_one(*this)) detail::waitq_push(wake, w);
  lock_.unlock();
  while (detail::waiter* w = detail::waitq_pop(wake)) detail::ready(w);
}

}  // namespace goro
