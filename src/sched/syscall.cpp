// Blocking calls (Go's entersyscall/exitsyscall) and handoffp.
//
// Protocol (tla/PHandoff.tla: EnterSyscall, ExitSyscall, Retake, HandoffP):
//  - entersyscall: the G goes to status syscall and its M lets go of the P
//    (m.p = P.m = null) but remembers it in m.oldp; the P goes to status
//    syscall. Nothing else changes, so a short call costs a few stores.
//  - A P in status syscall belongs to whoever CASes its status away from
//    syscall first: the M coming back (exitsyscall fast path, to idle and
//    then acquirep), sysmon (retake, to idle and then handoffp), or
//    stop-the-world (to stopped). The CAS is what makes "one M per P" hold
//    across the race between a call returning and sysmon retaking.
//  - exitsyscall: fast path, CAS the old P back; else take any idle P; else
//    switch to g0, put the G on the global queue and park the M (slow path).
// The P-status steps (the detach, the fast path and the idle-P path,
// retake's claim) are sched/psyscall.hpp's, which c11/syscall_c11.cpp
// checks under Relacy; this file supplies their environment.
#include "sched/internal.hpp"

#include "sched/chaos.hpp"
#include "sched/psyscall.hpp"
#include "sim/controller.hpp"
#include "sim/trace_log.hpp"

namespace goro::detail {

bool entersyscall(bool handoff) noexcept {
  g* gp = getg();
  if (!gp) return false;  // a foreign thread: just make the call
  // sim: a user's blocking call is a scheduling point (the call itself runs
  // holding the baton; a kernel wait inside it is not simulated).
  if constexpr (sim) simulator::point(simulator::site::syscall_enter);
  nopreempt np;
  m* mp = getm();
  p* pp = mp->p_;
  if (!pp) return false;  // already inside a blocking call
  runtime& rt = *mp->rt;
  casgstatus(gp, gstatus::running, gstatus::syscall, "entersyscall");
  trace::go_syscall_begin(pp);
  owner_add(pp->stat.syscalls, 1);
  // Out of the scheduler for the call: run_main does not wait for it.
  msched_leave(rt);
  owner_add(pp->syscalltick, 1);
  if (handoff) {
    // entersyscallblock: the call is known to be long; hand the P off now.
    mp->oldp = nullptr;
    handoffp(rt, releasep(mp));
    return true;
  }
  mp->oldp = pp;
  mp->p_ = nullptr;
  // P.m = null, then status syscall (seq_cst): the status store must be
  // visible before we read gcwaiting (StoreLoad against stop_the_world, see
  // there). It also releases our writes to the P to whoever CASes it away
  // (sysmon, then another M).
  syscall_detachp(*pp);
  if constexpr (sim) simulator::trace_p(simulator::pev::entersyscall, pp, mp);
  if (rt.sched.gcwaiting.load(std::memory_order_seq_cst)) {
    // A stop-the-world is waiting for our P: give it up now rather than
    // after the call (Go: entersyscall_gcwait).
    sched_guard l(rt.sched);
    pstatus st = pstatus::syscall;
    if (pp->status.compare_exchange_strong(st, pstatus::stopped, std::memory_order_acq_rel)) {
      trace::proc_stop(pp);
      mp->oldp = nullptr;
      if (--l->stopwait == 0) rt.sched.stopnote.wakeup();
    }
  }
  return true;
}

// exitsyscall's slow path, on g0 after the G left its stack: the G waits in
// the global queue unless an idle P appeared meanwhile; the M parks.
void post_exitsyscall0(m* mp, g* prev, void*) {
  runtime& rt = *mp->rt;
  casgstatus(prev, gstatus::syscall, gstatus::runnable, "exitsyscall0");
  p* pp;
  {
    sched_guard l(rt.sched);
    pp = pidleget(rt, *l);
    if (!pp) globrunqput(rt, *l, prev);
  }
  bool locked = mp->lockedg.load(std::memory_order_relaxed) != nullptr;
  if (pp) {
    acquirep(mp, pp);
    // A G locked to this M (lock_os_thread) runs here at once (Go's
    // exitsyscall0: execute); schedule_loop's stoplockedm sees the flag.
    if (locked) [[unlikely]] {
      mp->locked_resume = true;
      return;
    }
    runqput(rt, pp, prev, true);  // schedule_loop runs it next
    return;
  }
  // A locked G waits in the global queue for whoever takes it to hand us a
  // P (schedule_loop: stoplockedm, with no P to hand off; Go's exitsyscall0:
  // stoplockedm). Only this M runs it, so reading our own lockedg after
  // the put is safe: it cannot change until the G runs again here.
  if (locked) [[unlikely]]
    return;
  // The G is queued; this M has nothing to do. stopm returns with a P (or at
  // shutdown), and schedule_loop carries on from there.
  stopm(mp);
}

// Back on a P after a blocking call.
void exitsyscall_done(g* gp, p* pp) {
  owner_add(pp->syscalltick, 1);
  casgstatus(gp, gstatus::syscall, gstatus::running, "exitsyscall");
}

void exitsyscall() noexcept {
  g* gp = getg();
  nopreempt np;
  m* mp = getm();
  runtime& rt = *mp->rt;
  p* oldp = mp->oldp;
  mp->oldp = nullptr;
  // Back in the scheduler, then look at `stopping`. seq_cst: the other half
  // of msched_leave's Dekker pair: either run_main counts us (and waits) or
  // we see `stopping`.
  rt.nmsched.fetch_add(1, std::memory_order_seq_cst);
  if (rt.stopping.load(std::memory_order_seq_cst)) {
    // main has returned while we were in the call: the goroutine is
    // abandoned (Go's process would have exited) and never runs its own
    // code again. It stays in status syscall, holding no P and on no queue;
    // teardown frees its stack. Our g0 waits in execute(); from there the
    // loop sees `stopping` and the M exits (msched_leave, release).
    mp->curg.store(nullptr, std::memory_order_relaxed);
    switch_context(mp, gp, nullptr, nullptr, nullptr);
    fatal("exitsyscall: goroutine %llu, abandoned at shutdown, was resumed",
          (unsigned long long)gp->goid);
  }
  GORO_CHAOS_POINT();
  // Fast path: our P, if nobody retook it (a CAS, acquire: we see what the
  // last holder, us or another M, wrote; spec/memory-model.md §12); else any
  // idle P (Go: exitsyscallfast_pidle).
  struct exit_env {
    m* mp;
    runtime& rt;
    // The P came from the idle list, not back from our call (the tracer's
    // ProcStart and GoSyscallEndBlocked; the fast path's is GoSyscallEnd).
    bool lost_p = false;
    void acquirep(p* pp) noexcept { detail::acquirep(mp, pp, lost_p); }
    p* pidleget() noexcept {
      if (rt.sched.npidle.load(std::memory_order_relaxed) <= 0) return nullptr;
      sched_guard l(rt.sched);
      p* pp = detail::pidleget(rt, *l);
      lost_p = pp != nullptr;
      return pp;
    }
  } env{mp, rt};
  if (p* pp = exitsyscall_acquirep(oldp, env)) {
    trace::go_syscall_end(gp, env.lost_p);
    exitsyscall_done(gp, pp);
    return;
  }
  // Slow path: wait for a P in the global queue; another M will run us.
  // We let go of the G with no lock held, even with the world stopped: the
  // auditor reads curg racily and counts "a G in a call on no M" and "a
  // runnable G that is still some M's curg" as in transit (audit.hpp, (c)).
  trace::go_syscall_end_blocked(gp);
  mp->curg.store(nullptr, std::memory_order_relaxed);
  switch_context(mp, gp, nullptr, post_exitsyscall0, nullptr);
  // Resumed by execute(), on some M with a P: status running, slice new.
}

// A thread blocked in the kernel on something goro does not see (a futex of
// libstdc++'s static-init guard, std::call_once, std::mutex, ...) while its
// P's other goroutines wait, possibly for the very goroutine that holds the
// lock and was preempted: the SIGURG handler, on that thread, makes the
// entersyscall the code never made, and the P then follows the ordinary
// syscall protocol (sysmon's Retake CASes it away; OneMPerP holds by the
// same CAS as for goro::blocking). Called only by the handler, with the G
// running user code on this M (curg, status running, preemptoff == 0,
// lock_depth == 0: is_detachable in preempt.cpp), which is exactly where a
// goroutine may call goro::blocking itself. The G does not move: its thread
// carries on where it was, without a P, until its next runtime entry.
bool entersyscall_for_blocked_thread(g* gp) noexcept {
  if (!entersyscall(false)) return false;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  gp->exitsyscall_pending.store(true, std::memory_order_relaxed);
  gp->rt->nkernel_detaches.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// The other half, from the outermost nopreempt of the detached G (its
// preemptoff is already 1, so no handler acts between here and the switch
// exitsyscall may make). A runtime lock held here (it cannot be: the
// outermost guard comes first) would postpone it to the next entry.
void exitsyscall_implicit(g* gp) noexcept {
  if (lock_depth_racy() != 0) return;
  gp->exitsyscall_pending.store(false, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // The G's errno, as its library call left it, must not change because the
  // runtime entry it reached first took a P back (perhaps on another M).
  int saved_errno = errno_get();
  exitsyscall();
  errno_set(saved_errno);
}

void handoffp(runtime& rt, p* pp) {
  rt.nhandoffs.fetch_add(1, std::memory_order_relaxed);
  schedt& s = rt.sched;
  // Work on it, or in the global queue: an M runs it now.
  if (!runqempty(pp) || s.runqsize.load(std::memory_order_relaxed) != 0) {
    if constexpr (sim) simulator::trace_p(simulator::pev::handoff, pp, nullptr);
    startm(rt, pp, false);
    return;
  }
  // Nobody spinning and no idle P: this P may be the only way to pick up
  // work that arrives elsewhere; give it a spinning M (Go does the same).
  if (s.nmspinning.load(std::memory_order_relaxed) + s.npidle.load(std::memory_order_relaxed) ==
      0) {
    if (claim_spinning(rt)) {
      if constexpr (sim) simulator::trace_p(simulator::pev::handoff, pp, nullptr);
      startm(rt, pp, true);
      return;
    }
  }
  bool work;
  {
    sched_guard l(s);
    if (s.gcwaiting.load(std::memory_order_relaxed)) {
      pp->status.store(pstatus::stopped, std::memory_order_relaxed);
      if (--l->stopwait == 0) s.stopnote.wakeup();
      return;
    }
    work = s.runqsize.load(std::memory_order_relaxed) != 0;
    if (!work) pidleput(rt, *l, pp);
  }
  if (work) {  // arrived in the global queue meanwhile: an M runs pp now
    if constexpr (sim) simulator::trace_p(simulator::pev::handoff, pp, nullptr);
    startm(rt, pp, false);
    return;
  }
  // It may hold timers: the M sleeping for timers must count them.
  if (std::int64_t when = pp->timers.when0.load(std::memory_order_relaxed))
    wake_timer_sleeper(rt, when);
}

}  // namespace goro::detail
