// The P-status protocol of blocking calls (Go's entersyscall,
// exitsyscallfast and retake), as a template over its environment, so the
// runtime (sched/syscall.cpp, sysmon/sysmon.cpp) and the c11/ check
// (c11/syscall_c11.cpp, under Relacy) compile this same source (issue 13).
//
// Protocol (tla/PHandoff.tla: EnterSyscall, ExitSyscall, Retake):
//  - An M entering a blocking call lets go of its P (P.m = null) and stores
//    status syscall (syscall_detachp). Nothing else changes: a short call
//    costs a few stores.
//  - A P in status syscall belongs to whoever CASes its status away from
//    syscall first: the M coming back (exitsyscall_acquirep's fast path, to
//    idle and then acquirep), sysmon (retakep, to idle and then handoffp),
//    or stop-the-world (to stopped; entersyscall_gcwait and
//    stop_the_world's scan, which stay in their .cpp). Exactly one CAS from
//    syscall succeeds per store of syscall, so OneMPerP holds across the
//    race between a call returning and sysmon retaking.
//  - The M that lost its P takes any idle P, else goes the slow path (the
//    caller's: the G waits in the global queue, the M parks).
//
// Memory orders (spec/memory-model.md §4, psyscall_orders below): the
// syscall store releases everything the last holder wrote to the P, and
// each claimant's CAS acquires it, so the winner sees the P as its last
// holder left it. Whoever stored syscall may be another M than the one
// coming back (the P was retaken, handed off, run by a second M that then
// made its own call): the returning M's acquire is what orders its use of
// the P after that second M's.
//
// Environment (template parameters; the runtime's are in syscall.cpp and
// sysmon.cpp, the check's in c11/syscall_c11.cpp):
//  P       status (atomic<pstatus>) and m_ (atomic<M*>); nothing else.
//  Env     exitsyscall's M: env.acquirep(P*) binds a P to the M (status
//          running); env.pidleget() returns an idle P off sched.pidle, or
//          null.
//  Handoff retake's continuation once it owns the P (handoffp).
//  O       the orders c11/ weakens (psyscall_orders).
// Atomics go through base/atomic.hpp: std::atomic here, rl::atomic there.
#pragma once
#include <cstdint>

#include "base/atomic.hpp"
#include "base/build_config.hpp"
#include "sched/chaos.hpp"

namespace goro::detail {

// p::status (Go's _Pidle, _Prunning, _Psyscall, _Pgcstop).
enum class pstatus : std::uint32_t { idle, running, syscall, stopped };

// The orders c11/ weakens one step to show the check catches each;
// production uses exactly these. A CAS has a success and a failure order
// (Relacy wants the failure order no stronger than the success order, so a
// scenario that weakens one overrides both).
struct psyscall_orders {
  // entersyscall's store of syscall: releases the P to its claimant, and
  // the store side of the StoreLoad pair with stop_the_world (seq_cst; the
  // load of gcwaiting after it is syscall.cpp's).
  static constexpr std::memory_order enter = std::memory_order_seq_cst;
  // exitsyscall's fast-path CAS syscall -> idle: acquires the P from
  // whoever stored syscall. Acquire only (was acq_rel): the idle it writes
  // publishes nothing; the winner hands the P on later through its own
  // release (a syscall store, sched.lock, a note), and the failed CASes and
  // racy status loads that read idle then touch nothing of the P
  // (spec/memory-model.md §12, "Orders weakened because of the table").
  // Relaxed on failure: the loser reads nothing of the P and goes for an
  // idle P under sched.lock.
  static constexpr std::memory_order exit_claim = std::memory_order_acquire;
  static constexpr std::memory_order exit_claim_fail = std::memory_order_relaxed;
  // retake's CAS syscall -> idle: acquires the P for handoffp. Acquire and
  // relaxed on failure, for the same reasons (sysmon's earlier writes are
  // its own bookkeeping and hints; handoffp publishes the P through
  // sched.lock or startm's note; a losing sysmon just moves on).
  static constexpr std::memory_order retake_claim = std::memory_order_acquire;
  static constexpr std::memory_order retake_claim_fail = std::memory_order_relaxed;
};

// entersyscall's detach, by the M holding pp, after it has cleared its own
// m.p and recorded pp in m.oldp: from here pp belongs to whoever claims it.
template <class O = psyscall_orders, class P>
inline void syscall_detachp(P& pp) {
  pp.m_.store(nullptr, std::memory_order_relaxed);
  GORO_CHAOS_POINT();
  // Release: our writes to the P (syscalltick, m_ = null, its queues) are
  // published to whoever CASes it away; seq_cst: see psyscall_orders::enter.
  pp.status.store(pstatus::syscall, O::enter /* seq_cst */);
}

// exitsyscall's P: the old one if nobody claimed it meanwhile (fast path),
// else any idle P (Go: exitsyscallfast_pidle), acquired for the calling M
// through env.acquirep. Null: none; the caller goes the slow path.
template <class O = psyscall_orders, class P, class Env>
inline P* exitsyscall_acquirep(P* oldp, Env& env) {
  if (oldp) {
    bool won;
    if (mutant_on(mutant_id::exitsyscall_no_cas)) {
      // MUTANT: take the old P back with a check and a store instead of a
      // CAS; sysmon may have retaken it between the two, so two Ms run one P.
      won = oldp->status.load(std::memory_order_acquire) == pstatus::syscall;
      if (won) {
        GORO_CHAOS_POINT();
        oldp->status.store(pstatus::idle, std::memory_order_release);
      }
    } else {
      // acquire: we see the P as whoever stored syscall left it (us, or a
      // second M that ran it after a retake and made its own call).
      pstatus st = pstatus::syscall;
      won = oldp->status.compare_exchange_strong(st, pstatus::idle, O::exit_claim /* acquire */,
                                                 O::exit_claim_fail /* relaxed */);
    }
    if (won) {
      env.acquirep(oldp);
      return oldp;
    }
  }
  if (P* pp = env.pidleget()) {
    env.acquirep(pp);
    return pp;
  }
  return nullptr;
}

// sysmon's claim of a P in a blocking call (Go's retake): wins the P from
// the M in the call (whose exitsyscall CASes too: exactly one of us wins)
// and passes it to handoff(pp). False: the call returned (or the world
// stopped) first; the P is not ours.
template <class O = psyscall_orders, class P, class Handoff>
inline bool retakep(P& pp, Handoff&& handoff) {
  pstatus want = pstatus::syscall;
  // acquire: we see the P as its last holder left it.
  if (!pp.status.compare_exchange_strong(want, pstatus::idle, O::retake_claim /* acquire */,
                                         O::retake_claim_fail /* relaxed */))
    return false;
  handoff(pp);
  return true;
}

}  // namespace goro::detail
