// The invariant auditor (build option GORO_CHECK_INVARIANTS, detail::checked;
// compiled in every build, run only in checked ones): checks the
// scheduler's invariants as it runs and ends the process with a precise
// message ("goro: fatal error: invariant violated: <Name>: ...") when one
// breaks. Names match spec/scheduler.md and tla/.
//
//  GStatus   checked by casgstatus (sched/gstatus.hpp) at every status change.
//  OneGPlace at a stopped world, every G in rt.allgs is in exactly one
//            place, the one its status says (audit_stopped_world):
//              runnable  in exactly one run-queue slot, runnext or the
//                        global queue, and no M's curg;
//              running   the curg of exactly one M, which holds a P (with the
//                        world stopped: the stopper's own G);
//              syscall   the curg of exactly one M, which holds no P (it is
//                        in a blocking call);
//              waiting   in no run queue, no M's curg, and g::waitreason says
//                        why (not wait_reason::zero);
//              dead      in no run queue, no M's curg, on at most one free
//                        list; and every G on a free list is dead;
//              idle      never (malg makes a G dead before publishing it).
//            Also: every queued G is runnable, the global queue's length is
//            runqsize, and LenBounds for every P.
//  Census    at a stopped world, goroutines created = finished + live, where
//            live counts every G not dead.
//
//  LockedPair at a stopped world: an M locked to a G (lock_os_thread) runs
//            no other G, and a parked G locked to an M is that M's lockedg;
//            stoplockedm and startlockedm check the pair as they use it.
//
// OneMPerP and PStatus are checked inline in acquirep/releasep/pidleput.
#pragma once
#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sched/gstatus.hpp"
#include "sched/runq.hpp"
#include "sched/runtime.hpp"

namespace goro::detail {

// ---------------------------------------------------------------------------
// OneGPlace and Census with the world stopped.
//
// What "stopped" gives us: every P is stopped, so no M holds a P but the
// caller (the stopper, running its own G), no local queue changes, and no G
// runs on a P but the stopper. No M can acquire a P until start_the_world
// (pidleget finds the idle list empty), so nothing leaves a run queue.
// sched.lock (held while we look) also excludes injectg (and with it a
// foreign thread's go(), whose status change and census count injectg_newproc
// makes in the same round), the global free list and rt.allm.
//
// What is still moving: threads that need no P. Each can leave a G for a
// moment in a state that is not yet its final place; all of them finish
// with sched.lock alone, so they complete once we let go of it:
//  (a) goready from a thread without a P (a foreign thread, a goroutine
//      inside blocking(), the netpoller, sysmon): casgstatus(waiting ->
//      runnable) first, then injectg takes sched.lock and queues the G.
//      Between the two: runnable, in no queue.
//  (b) go() from a foreign thread: none. injectg_newproc makes the G
//      runnable, counts it and queues it in one sched.lock round; before
//      that it is dead, uncounted and on no free list (allowed).
//  (c) exitsyscall's slow path: with every P stopped the call cannot take
//      one back, so its M clears curg (a relaxed store, no lock: we may be
//      looking), switches to g0, and post_exitsyscall0 sets the G runnable
//      (a relaxed store) and queues it under sched.lock. Nothing orders our
//      reads of curg and of the status against those two stores, so we may
//      see either without the other. Between: syscall on no M; runnable in
//      no queue, on no M; or runnable and still the curg of that M, which
//      holds no P. All three are in no queue.
// After shutdown has begun (runtime::stopping), abandoned goroutines stay for
// good "runnable in no queue" (readied by a foreign thread: goready only
// marks them) or "syscall on no M" (exitsyscall abandoned them); no audit
// runs then (stop-the-world needs a running goroutine).
// So "runnable in no queue" and "syscall on no M" are transient, and every
// other mismatch is not (see each check below for why). We re-take the
// snapshot until each G that looked transient has reached its place; one
// that stays out of place for audit_settle_ns (5 s) is reported: it was lost.
//
// Transients that cannot occur at a stopped world (checked strictly):
//  - A G between casgstatus and the switch in gosched/gopark/goexit/
//    preemption, or between execute's casgstatus and its switch, or in a
//    post-switch step (requeue, unlockf, gfput): all run on an M holding
//    a P, and that M stops its P only in gcstopm, on g0, after the
//    post-switch step has run and curg was cleared.
//  - entersyscall(block) with its P not yet released, exitsyscall_done
//    after acquirep: both need the M to hold a P the stopper is waiting
//    for (stopwait counts it until it is released or stopped).
//  - A G taken off a queue but not yet running: needs a P.
//
// Races, and why this adds no synchronization (the checked program is the
// shipped program: spec/memory-model.md). We read m::curg and m::p_ of other
// Ms. Idle Ms and Ms in netpoll wrote both before their last sched.lock
// release (gcstopm, stopm, findrunnable's give-up); an M in a blocking call
// wrote them before its seq_cst P status store that the stopper's CAS read
// (or before entersyscall's own locked gcwaiting path). So we read at least
// those values. The only write an M can make while the world stays stopped
// is exitsyscall's curg = nullptr, with no lock: m::curg is an atomic, read
// here relaxed, and (c) lists what we may see. p_ stays a plain field: no M
// but the stopper writes one while the world is stopped. Statuses are
// atomics read relaxed; g::waitreason is written by the G itself in gopark,
// before its M's next sched.lock release. Our own lock rounds (sched.lock,
// allg_mu) order nothing the release build does not: start_the_world takes
// sched.lock right after us in every caller, and allg_mu guards only
// rt.allgs. The run queues are read with relaxed loads (for_each_stopped).
struct audit_place {
  const char* queue = nullptr;  // a run queue holding it, or null
  const m* on_m = nullptr;      // the M whose curg it is, or null
  bool freelisted = false;      // on a P's or the global free list
};

// One snapshot under sched.lock. Fatal for every mismatch that cannot be
// transient; returns the Gs that are out of place in a transient way,
// with what is wrong with each.
inline std::vector<std::pair<const g*, const char*>> audit_snapshot(runtime& rt) {
  sched_guard l(rt.sched);
  std::unordered_map<const g*, audit_place> place;
  auto gid = [](const g* gp) { return (unsigned long long)gp->goid; };
  auto queued = [&](const g* gp, const char* where) {
    if (!gp) fatal("invariant violated: OneGPlace: a null g* queued in %s", where);
    audit_place& pl = place[gp];
    if (pl.queue)
      fatal("invariant violated: OneGPlace: goroutine %llu is queued twice: in %s and in %s",
            gid(gp), pl.queue, where);
    pl.queue = where;
    gstatus s = gp->status.load(std::memory_order_relaxed);
    if (s != gstatus::runnable)
      fatal("invariant violated: OneGPlace: goroutine %llu queued in %s is %s, want runnable",
            gid(gp), where, gstatus_name(s));
  };
  auto freelisted = [&](const g* gp, const char* where) {
    audit_place& pl = place[gp];
    if (pl.freelisted)
      fatal("invariant violated: OneGPlace: goroutine struct %p is on the free lists twice "
            "(again in %s)",
            static_cast<const void*>(gp), where);
    pl.freelisted = true;
    gstatus s = gp->status.load(std::memory_order_relaxed);
    if (s != gstatus::dead)
      fatal("invariant violated: OneGPlace: goroutine %llu on %s is %s, want dead", gid(gp), where,
            gstatus_name(s));
  };

  std::uint32_t procs = rt.gomaxprocs.load(std::memory_order_relaxed);
  std::int64_t created = rt.nretired_created.load(std::memory_order_relaxed);
  std::int64_t finished = rt.nretired_finished.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < procs; i++) {
    p* pp = rt.allp[i].load(std::memory_order_relaxed);
    created += static_cast<std::int64_t>(pp->ncreated.load(std::memory_order_relaxed));
    finished += static_cast<std::int64_t>(pp->nfinished.load(std::memory_order_relaxed));
    std::uint32_t len = pp->runq.for_each_stopped(
        [&](g* gp, bool runnext) { queued(gp, runnext ? "a P's runnext" : "a P's runq"); });
    if (len > runq_capacity)
      fatal("invariant violated: LenBounds: P%d runqtail - runqhead = %u", pp->id, len);
    for (const g* gp = pp->gfree; gp; gp = gp->schedlink) freelisted(gp, "a P's free list");
  }
  std::int32_t n = 0;
  for (g* gp = l->runqhead; gp; gp = gp->schedlink, n++) queued(gp, "the global runq");
  if (n != rt.sched.runqsize.load(std::memory_order_relaxed))
    fatal("invariant violated: OneGPlace: the global runq holds %d Gs, runqsize says %d", n,
          rt.sched.runqsize.load(std::memory_order_relaxed));
  for (const g* gp = l->gfree; gp; gp = gp->schedlink) freelisted(gp, "the global free list");

  // Every M's curg (rt.allm is guarded by sched.lock, which we hold). An M
  // runs at most one G and a G runs on at most one M; a curg is running or
  // in a blocking call. Running: its M holds a P (the stopper's M is the
  // only one that does). Blocking call: its M holds none.
  for (const m* mp : l->allm) {
    const g* gp = mp->curg.load(std::memory_order_relaxed);
    if (!gp) continue;
    audit_place& pl = place[gp];
    if (pl.on_m)
      fatal("invariant violated: OneGPlace: goroutine %llu is the curg of M%lld and of M%lld",
            gid(gp), (long long)pl.on_m->id, (long long)mp->id);
    pl.on_m = mp;
    // LockedPair: an M wired to a G (lock_os_thread) runs no other. Only
    // that G changes lockedg, and only while it is this M's curg.
    if (const g* lg = mp->lockedg.load(std::memory_order_relaxed); lg && lg != gp)
      fatal("invariant violated: LockedPair: M%lld, locked to goroutine %llu, runs goroutine "
            "%llu",
            (long long)mp->id, gid(lg), gid(gp));
    gstatus s = gp->status.load(std::memory_order_relaxed);
    if (s == gstatus::running && !mp->p_)
      fatal("invariant violated: OneGPlace: goroutine %llu is running on M%lld, which holds no "
            "P, with the world stopped",
            gid(gp), (long long)mp->id);
    if (s == gstatus::syscall && mp->p_)
      fatal("invariant violated: OneGPlace: goroutine %llu is in a blocking call on M%lld, "
            "which still holds P%d, with the world stopped",
            gid(gp), (long long)mp->id, mp->p_->id);
    // (c): runnable, and the M that ran its call has not been seen to let
    // go of it yet. Only an M without a P: the stopper's G is running.
    if (s == gstatus::runnable && !mp->p_) continue;
    if (s != gstatus::running && s != gstatus::syscall)
      fatal("invariant violated: OneGPlace: goroutine %llu is %s but is the curg of M%lld", gid(gp),
            gstatus_name(s), (long long)mp->id);
  }

  std::vector<std::pair<const g*, const char*>> transient;
  std::int64_t live = 0;
  {
    std::lock_guard lk2(rt.allg_mu);
    for (const g* gp : rt.allgs) {
      gstatus s = gp->status.load(std::memory_order_relaxed);
      if (s != gstatus::dead) live++;
      auto it = place.find(gp);
      audit_place pl = it == place.end() ? audit_place{} : it->second;
      // Queued => runnable, curg => running/syscall and freelisted => dead
      // were checked above; here each status gets its one place.
      switch (s) {
        case gstatus::runnable:
          // (c) above: still the curg of an M that holds no P. Queued as
          // well would not be transient: exitsyscall clears curg before
          // post_exitsyscall0 queues the G under sched.lock, which we hold,
          // so for a queued G we must read the cleared curg.
          if (pl.on_m && (pl.on_m->p_ || pl.queue))
            fatal("invariant violated: OneGPlace: goroutine %llu is runnable but the curg of "
                  "M%lld",
                  gid(gp), (long long)pl.on_m->id);
          if (pl.on_m)
            transient.emplace_back(gp, "runnable but still the curg of an M that holds no P");
          // (a), (c) above.
          else if (!pl.queue) transient.emplace_back(gp, "runnable but in no run queue");
          break;
        case gstatus::running:
          if (!pl.on_m)
            fatal("invariant violated: OneGPlace: goroutine %llu is running but no M runs it",
                  gid(gp));
          break;
        case gstatus::syscall:
          // (c): on its way out of the call.
          if (!pl.on_m) transient.emplace_back(gp, "in a blocking call (syscall) but no M is");
          break;
        case gstatus::waiting:
          // LockedPair: a parked G locked to an M is that M's lockedg (both
          // written by the G before it parked, on an M that has released
          // sched.lock since: gcstopm, stopm or stoplockedm).
          if (const m* lm = gp->lockedm.load(std::memory_order_relaxed);
              lm && lm->lockedg.load(std::memory_order_relaxed) != gp)
            fatal("invariant violated: LockedPair: parked goroutine %llu is locked to M%lld, "
                  "which is not locked to it",
                  gid(gp), (long long)lm->id);
          // Read after the status: a waker without a P may ready the G
          // meanwhile, but wakers never write waitreason; only gopark does.
          if (gp->waitreason.load(std::memory_order_relaxed) == wait_reason::zero)
            fatal("invariant violated: OneGPlace: goroutine %llu is waiting with no wait "
                  "reason (gopark records one)",
                  gid(gp));
          break;
        case gstatus::dead: break;
        case gstatus::idle:
          fatal("invariant violated: GStatus: goroutine struct %p in allgs is idle (malg makes "
                "every G dead before publishing it)",
                static_cast<const void*>(gp));
      }
    }
  }
  if (created != finished + live)
    fatal("invariant violated: Census: goroutines created %lld != finished %lld + live %lld",
          (long long)created, (long long)finished, (long long)live);
  return transient;
}

// How long a G may look transient before it counts as lost. A transient
// above ends within microseconds of our releasing sched.lock (each needs
// that lock and nothing else); this is generous enough for a descheduled
// thread under a sanitizer on a loaded machine, and is paid only when a G
// really is lost.
constexpr std::int64_t audit_settle_ns = 5'000'000'000;

inline void audit_stopped_world(runtime& rt) {
  std::vector<std::pair<const g*, const char*>> pending = audit_snapshot(rt);
  std::int64_t deadline = nanotime() + audit_settle_ns;
  while (!pending.empty()) {
    if (nanotime() > deadline) {
      const g* gp = pending.front().first;
      fatal("invariant violated: OneGPlace: goroutine %llu is %s, with the world stopped, for "
            "%lld s (a lost goroutine: nothing will ever run it)",
            (unsigned long long)gp->goid, pending.front().second,
            (long long)(audit_settle_ns / 1'000'000'000));
    }
    // Let the threads in (a)-(c) take sched.lock and finish, then look
    // again. Only Gs out of place in both looks stay pending: a G that
    // reached its place is done (nothing can take it out of a run queue
    // while the world is stopped), and new transients are new Gs.
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    std::vector<std::pair<const g*, const char*>> now = audit_snapshot(rt);
    std::erase_if(pending, [&](const auto& e) {
      return std::none_of(now.begin(), now.end(),
                          [&](const auto& f) { return f.first == e.first; });
    });
    for (auto& e : pending)
      for (auto& f : now)
        if (f.first == e.first) e.second = f.second;
  }
}

}  // namespace goro::detail
