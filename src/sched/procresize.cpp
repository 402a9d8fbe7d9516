// Stop the world and procresize (gomaxprocs).
#include "sched/internal.hpp"

#include <vector>

#include "sched/audit.hpp"

namespace goro::detail {

bool gcstopm(m* mp) {
  runtime& rt = *mp->rt;
  if (mp->spinning) {
    mp->spinning = false;
    drop_spinning(rt, "gcstopm");
  }
  p* pp = releasep(mp);
  {
    sched_guard l(rt.sched);
    pp->status.store(pstatus::stopped, std::memory_order_relaxed);
    if (--l->stopwait == 0) rt.sched.stopnote.wakeup();
  }
  return stopm(mp);
}

void compute_coprimes(runtime& rt, std::uint32_t n) {
  rt.steal_coprimes.clear();
  for (std::uint32_t i = 1; i <= n; i++) {
    std::uint32_t a = i, b = n;
    while (b) {
      std::uint32_t tmp = a % b;
      a = b;
      b = tmp;
    }
    if (a == 1) rt.steal_coprimes.push_back(i);
  }
}

namespace {

// Empties a P that is leaving (procresize shrinking): its queued Gs go to the
// head of the global queue in their order, runnext first, so none is lost
// (invariant NoGLost) and they run before later arrivals.
void destroy_p_locked(runtime& rt, sched_locked& l, p* pp) {
  pp->runq.drain_stopped([&](g* gp, bool runnext) {
    // MUTANT resize_drops_runnext: the removed P's runnext G is forgotten
    // (runnable, in no queue).
    if (mutant_on(mutant_id::resize_drops_runnext))
      if (runnext) return;
    globrunqputhead(rt, l, gp);
  });
  while (g* gp = pp->gfree) {
    pp->gfree = gp->schedlink;
    gfput_global_locked(rt, l, gp);
  }
  pp->gfreecnt = 0;
  // Its timers go to P0, which always survives (Go: moveTimers).
  if (pp->timers.count.load(std::memory_order_relaxed) != 0) {
    p* dest = rt.allp[0].load(std::memory_order_relaxed);
    pp->timers.lock.lock();
    dest->timers.lock.lock();
    for (timer* t : pp->timers.heap) timer_push_locked(dest->timers, t);
    pp->timers.heap.clear();
    pp->timers.count.store(0, std::memory_order_relaxed);
    pp->timers.when0.store(0, std::memory_order_relaxed);
    dest->timers.lock.unlock();
    pp->timers.lock.unlock();
  }
  clear_preempt(pp);
  // Its goroutine and event counts go to the runtime's own. seq_cst, as
  // before, though only atomicity is needed: the world is stopped, so nobody
  // writes the P's counts now (what they counted happened before the stop,
  // through sched.lock), and foreign threads' concurrent fetch_adds to
  // nretired_created need only an exact sum.
  rt.nretired_created.fetch_add(
      static_cast<std::int64_t>(pp->ncreated.exchange(0, std::memory_order_seq_cst)),
      std::memory_order_seq_cst);
  rt.nretired_finished.fetch_add(
      static_cast<std::int64_t>(pp->nfinished.exchange(0, std::memory_order_seq_cst)),
      std::memory_order_seq_cst);
  rt.nop_stat.fold(pp->stat);
  pp->status.store(pstatus::stopped, std::memory_order_relaxed);
}

}  // namespace

void stop_the_world(m* mp) {
  runtime& rt = *mp->rt;
  schedt& s = rt.sched;
  std::uint32_t nprocs = rt.gomaxprocs.load(std::memory_order_relaxed);
  {
    sched_guard l(s);
    l->stopwait = static_cast<std::int32_t>(nprocs);
    // seq_cst: StoreLoad against entersyscall, which stores P status syscall
    // and then loads gcwaiting. Either it sees gcwaiting and stops its P
    // itself, or our scan below sees the syscall status and claims the P.
    s.gcwaiting.store(true, std::memory_order_seq_cst);
    mp->p_->status.store(pstatus::stopped, std::memory_order_relaxed);
    l->stopwait--;
    while (p* pp = pidleget(rt, *l)) {
      pp->status.store(pstatus::stopped, std::memory_order_relaxed);
      l->stopwait--;
    }
  }
  // Ps in a blocking call are claimed here (their Ms are busy in the call);
  // running Ps stop at their Ms' next scheduling point (gcstopm), which we
  // hurry along with preemption requests. The last one wakes us (and we
  // see stopwait at zero under the lock); we also look again every 100 µs,
  // as Go does, in case a P entered a blocking call or a request was missed.
  for (;;) {
    {
      sched_guard l(s);
      for (std::uint32_t i = 0; i < nprocs; i++) {
        p* pp = rt.allp[i].load(std::memory_order_relaxed);
        pstatus st = pstatus::syscall;
        if (pp->status.compare_exchange_strong(st, pstatus::stopped, std::memory_order_seq_cst)) {
          trace::proc_steal(pp);
          l->stopwait--;
        }
      }
      GORO_INVARIANT(l->stopwait >= 0, "stop_the_world: stopwait %d", l->stopwait);
      if (l->stopwait == 0) break;
    }
    for (std::uint32_t i = 0; i < nprocs; i++) {
      p* pp = rt.allp[i].load(std::memory_order_relaxed);
      if (pp->status.load(std::memory_order_relaxed) == pstatus::running) preemptone(rt, pp);
    }
    s.stopnote.sleep_until(nanotime() + 100'000);
  }
  s.stopnote.clear();
  if constexpr (checked) audit_stopped_world(rt);  // OneGPlace and Census (sched/audit.hpp)
}

void start_the_world(m* mp, unsigned nprocs) {
  runtime& rt = *mp->rt;
  schedt& s = rt.sched;
  std::vector<p*> runnable;
  sched_guard l(s);
  std::uint32_t old = rt.gomaxprocs.load(std::memory_order_relaxed);
  for (std::uint32_t i = old; i < nprocs; i++) {
    if (!rt.allp[i].load(std::memory_order_relaxed)) {
      p* pp = new p;
      pp->id = static_cast<std::int32_t>(i);
      rt.allp[i].store(pp, std::memory_order_release);
    }
  }
  for (std::uint32_t i = nprocs; i < old; i++) destroy_p_locked(rt, *l, rt.allp[i]);
  p* cur = mp->p_;
  if (static_cast<std::uint32_t>(cur->id) >= nprocs) {
    // Our own P is going away; continue on P0.
    trace::proc_stop(cur);
    cur->m_ = nullptr;
    mp->p_ = nullptr;
    p* p0 = rt.allp[0].load(std::memory_order_relaxed);
    p0->status.store(pstatus::idle, std::memory_order_relaxed);
    acquirep(mp, p0);
  } else {
    cur->status.store(pstatus::running, std::memory_order_relaxed);
  }
  rt.gomaxprocs.store(nprocs, std::memory_order_release);
  compute_coprimes(rt, nprocs);
  for (std::uint32_t i = 0; i < nprocs; i++) {
    p* pp = rt.allp[i].load(std::memory_order_relaxed);
    if (pp == mp->p_) continue;
    pp->status.store(pstatus::idle, std::memory_order_relaxed);
    if (runqempty(pp)) pidleput(rt, *l, pp);
    else runnable.push_back(pp);
  }
  s.gcwaiting.store(false, std::memory_order_release);
  l.unlock();
  for (p* pp : runnable) startm(rt, pp, false);
  // Work may also wait in the global queue (moved from removed Ps).
  ready_wake(rt);
}

}  // namespace goro::detail
