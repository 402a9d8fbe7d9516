// The invariant auditor (build option GORO_CHECK_INVARIANTS): checks the
// scheduler's invariants as it runs and ends the process with a precise
// message ("goro: fatal error: invariant violated: <Name>: ...") when one
// breaks. Names match spec/scheduler.md and tla/.
//
//  GStatus   every G status change is one Go allows (casgstatus):
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
//  OneGPlace at a stopped world, every queued G (local rings, runnext, the
//            global queue) is in exactly one of them and is runnable.
//  Census    at a stopped world, goroutines created = finished + live, where
//            live counts every G not dead.
//
// OneMPerP and PStatus are checked inline in acquirep/releasep/pidleput.
#pragma once
#include <mutex>
#include <unordered_map>

#include "sched/runq.hpp"
#include "sched/runtime.hpp"

namespace goro::detail {

constexpr bool gstatus_transition_ok(gstatus from, gstatus to) {
  using enum gstatus;
  switch (from) {
    case dead: return to == runnable;
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

#ifdef GORO_CHECK_INVARIANTS
// OneGPlace and Census with the world stopped (every P stopped, so no G runs
// on a P but the caller, and no local queue changes). Takes sched.lock, which
// also excludes injectg and a foreign thread's newg_commit (see there).
inline void audit_stopped_world(runtime& rt) {
  std::lock_guard lk(rt.sched.lock);
  std::unordered_map<const g*, const char*> place;
  auto note = [&](const g* gp, const char* where) {
    if (!gp) fatal("invariant violated: OneGPlace: a null g* queued in %s", where);
    auto [it, fresh] = place.emplace(gp, where);
    if (!fresh)
      fatal("invariant violated: OneGPlace: goroutine %llu is queued twice: in %s and in %s",
            (unsigned long long)gp->goid, it->second, where);
    gstatus s = gp->status.load(std::memory_order_relaxed);
    if (s != gstatus::runnable)
      fatal("invariant violated: OneGPlace: goroutine %llu queued in %s is %s, want runnable",
            (unsigned long long)gp->goid, where, gstatus_name(s));
  };
  std::uint32_t procs = rt.gomaxprocs.load(std::memory_order_relaxed);
  std::int64_t created = rt.nretired_created.load(std::memory_order_relaxed);
  std::int64_t finished = rt.nretired_finished.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < procs; i++) {
    p* pp = rt.allp[i].load(std::memory_order_relaxed);
    created += static_cast<std::int64_t>(pp->ncreated.load(std::memory_order_relaxed));
    finished += static_cast<std::int64_t>(pp->nfinished.load(std::memory_order_relaxed));
    std::uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    std::uint32_t t = pp->runqtail.load(std::memory_order_acquire);
    if (t - h > runq_capacity)
      fatal("invariant violated: LenBounds: P%d runqtail - runqhead = %u", pp->id, t - h);
    for (; h != t; h++) note(pp->runq[h % runq_capacity].load(std::memory_order_relaxed), "a P's runq");
    if (g* nx = pp->runnext.load(std::memory_order_acquire)) note(nx, "a P's runnext");
  }
  std::int32_t n = 0;
  for (g* gp = rt.sched.runqhead; gp; gp = gp->schedlink, n++) note(gp, "the global runq");
  if (n != rt.sched.runqsize.load(std::memory_order_relaxed))
    fatal("invariant violated: OneGPlace: the global runq holds %d Gs, runqsize says %d", n,
          rt.sched.runqsize.load(std::memory_order_relaxed));
  std::int64_t live = 0;
  {
    std::lock_guard lk(rt.allg_mu);
    for (g* gp : rt.allgs)
      if (gp->status.load(std::memory_order_relaxed) != gstatus::dead) live++;
  }
  if (created != finished + live)
    fatal("invariant violated: Census: goroutines created %lld != finished %lld + live %lld",
          (long long)created, (long long)finished, (long long)live);
}
#else
inline void audit_stopped_world(runtime&) {}
#endif

}  // namespace goro::detail
