// G status transitions (Go's casgstatus), the one place a G's status moves.
//
// Invariant GStatus: every G status change is one Go allows (casgstatus):
//              dead     -> runnable  (newproc: a new or recycled G)
//              runnable -> running   (execute, the G-side fast path)
//              running  -> runnable  (Gosched, preemption)
//              running  -> waiting   (gopark)
//              waiting  -> runnable  (goready)
//              running  -> syscall   (entersyscall)
//              syscall  -> running   (exitsyscall, fast path)
//              syscall  -> runnable  (exitsyscall, no P: to the global queue)
//              running  -> dead      (goexit)
//            and the status is the one the caller expects (a CAS, so two
//            racing transitions of one G are caught too).
//
// Checked (fatal on violation) in builds with GORO_CHECK_INVARIANTS; see
// sched/audit.hpp for the invariants checked at a stopped world.
#pragma once
#include "sched/runtime.hpp"

namespace goro::detail {

constexpr bool gstatus_transition_ok(gstatus from, gstatus to) {
  using enum gstatus;
  switch (from) {
    case dead:
    case idle: return to == runnable;
    case runnable: return to == running;
    case running: return to == runnable || to == waiting || to == syscall || to == dead;
    case waiting: return to == runnable;
    case syscall: return to == running || to == runnable;
  }
  return false;
}

// Go's casgstatus: gp moves from `from` to `to`. In checked builds the move
// is a CAS and both the expected status and the transition are verified;
// otherwise it is the relaxed store it always was (status is read only as a
// hint outside the owner of the transition).
inline void casgstatus(g* gp, gstatus from, gstatus to, const char* where) {
#ifdef GORO_CHECK_INVARIANTS
  if (!gstatus_transition_ok(from, to))
    fatal("invariant violated: GStatus: %s: goroutine %llu: %s -> %s is not a transition Go "
          "allows",
          where, (unsigned long long)gp->goid, gstatus_name(from), gstatus_name(to));
  gstatus cur = from;
  if (!gp->status.compare_exchange_strong(cur, to, std::memory_order_relaxed))
    fatal("invariant violated: GStatus: %s: goroutine %llu is %s, want %s (moving to %s)", where,
          (unsigned long long)gp->goid, gstatus_name(cur), gstatus_name(from), gstatus_name(to));
#else
  (void)from;
  (void)where;
  gp->status.store(to, std::memory_order_relaxed);
#endif
}

}  // namespace goro::detail
