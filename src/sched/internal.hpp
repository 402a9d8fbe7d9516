// Declarations shared by the scheduler's own files (src/sched/*.cpp), which
// together are Go's runtime/proc.go split by concern:
//
//   switch.cpp        getg/getm, context switches, g_entry, execute, fatal
//   goroutine.cpp     gosched, gopark, goready, goexit1, preemption requests
//   spinning.cpp      M/P binding, idle lists, wakep, startm, newm, stopm
//   findrunnable.cpp  findrunnable, stealing, netpoll sleep, schedule_loop
//   syscall.cpp       entersyscall, exitsyscall, handoffp
//   newproc.cpp       newg_begin/commit, the G free lists
//   procresize.cpp    stop/start the world, gomaxprocs
//   checkdead.cpp     deadlock detection
//   lifetime.cpp      run_main, options, construction, shutdown, teardown
//   api.cpp           the public API of goro.hpp, scheduling statistics
//
// Not for use outside src/sched/: the rest of src/ goes through proc.hpp.
//
// Overview (Go's names; spec/scheduler.md has the long form):
//  - Every M runs schedule_loop on its g0 (the OS thread's own stack):
//    findrunnable picks a G, execute switches to it. When the G yields, parks
//    or exits it either switches straight to the next G of the same P (the
//    fast path: one context switch instead of two) or back to g0, which looks
//    further: the global queue, other Ps (work stealing), or parks the M.
//  - A switch leaves work for the context it lands on (m::sw_post): the G we
//    left can be requeued, unlocked from a wait queue or recycled only once no
//    CPU is executing on its stack any more. This is Go's mcall + gopark
//    unlockf: the park commits (the G's context is saved) before the
//    wait-queue lock is released, so a waker can never resume a G that is
//    still running.
//  - Spinning Ms (Go's "worker thread parking/unparking" protocol): an M that
//    has no work may spin (steal) if fewer than half the busy Ps have a
//    spinning M. A submitter of new work wakes an M only if there is an idle P
//    and no spinning M. The last spinner to give up re-checks every run queue
//    after decrementing nmspinning. Both sides separate their store from their
//    load with a seq_cst fence (StoreLoad), so either the submitter sees no
//    spinner and wakes one, or the spinner's re-check sees the new work: no
//    lost wakeup (tla/PHandoff.tla: NoLostWakeup; tests: SchedTest.*).
//
// Every entry point states its contract in one fixed form (Go's proc.go
// does the same in prose):
//   Called from: G with P | G in a call (inside blocking(), no P) | g0 |
//                sysmon | foreign thread | signal handler
//   Locks:       none held | holds X | takes X
//   May switch:  yes (the caller's G may resume on another M) | no
#pragma once
#include <cstdint>
#include <exception>

#include "base/fastrand.hpp"
#include "base/owner_add.hpp"
#include "sched/chaos.hpp"
#include "sched/gstatus.hpp"
#include "sched/proc.hpp"
#include "sched/spinning.hpp"
#include "sim/trace_log.hpp"
#include "trace/trace.hpp"

namespace goro::detail {

// --- switch.cpp -------------------------------------------------------------

// errno is a thread-local of the M. Out of line, so that each call asks
// __errno_location() afresh: the compiler may not reuse one thread's errno
// address after a switch that resumed us on another thread.
int errno_get();
void errno_set(int e);

// Gives gp a stack and an initial context if it has none (a new or recycled
// G): stacks are allocated lazily, so queued goroutines that have not started
// cost none. Fatal if no stack can be mapped.
// Called from: G with P, g0. Locks: none held. May switch: no.
void prepare_start(runtime& rt, g* gp);

// Leaves the current context (G `from`, or g0 if from is null) for G `to` (or
// g0 if to is null); post(mp, from, arg) runs in `to` once nothing executes
// on from's stack any more (Go's mcall + unlockf).
// Called from: G (inside nopreempt) or g0 of mp. Locks: none held (post may
// release one the caller handed it). May switch: yes; returns when something
// switches back to `from`.
void switch_context(m* mp, g* from, g* to, post_switch_fn post, void* arg);

// True when the G-side fast path must not pick the next G itself: the world
// is stopping, shutting down, or it is the 61st tick and the global queue
// deserves a turn, or a timer of pp is due (findrunnable does those on g0).
// Inline, as new_slice: both are on every yield's path (yield_switch).
// Called from: G with P. Locks: none. May switch: no.
inline bool wants_g0(runtime& rt, p* pp) {
  if (rt.stopping.load(std::memory_order_relaxed) ||
      rt.sched.gcwaiting.load(std::memory_order_relaxed) ||
      (pp->schedtick.load(std::memory_order_relaxed) % 61 == 0 &&
       rt.sched.runqsize.load(std::memory_order_relaxed) > 0))
    return true;
  // A due timer on this P: findrunnable runs it. The clock is read only when
  // the P has a timer at all, so a yield without timers pays one load.
  std::int64_t when = pp->timers.when0.load(std::memory_order_relaxed);
  return when != 0 && when <= nanotime();
}

// A new time slice starts on pp (Go: execute's schedtick++). Only the
// holder writes schedtick; sysmon reads it. The preempt flag is peeked here
// so that the common case (no request) makes no call.
// Called from: the holder of pp (G or g0). Locks: none. May switch: no.
inline void new_slice(p* pp) {
  owner_add(pp->schedtick, 1);
  if (pp->preempt.load(std::memory_order_relaxed)) [[unlikely]]
    clear_preempt(pp);
}

// gp, runnable, is about to run on pp: if casgstatus stamped it when it
// became runnable (one in latency_tracking_period entries: every entry
// counts in latency_seq, so the count tells whether this one did), its wait goes to
// pp's latency histogram (/sched/latencies:seconds). The stamp was written
// by whoever made gp runnable, before the run-queue hand-off we took it
// through; only the holder of pp writes pp's histogram.
// Called from: the holder of pp (G or g0). Locks: none. May switch: no.
inline void latency_record(p* pp, g* gp) {
  if ((gp->latency_seq & (latency_tracking_period - 1)) == 0) [[unlikely]] {
    std::int64_t ns = nanotime() - gp->runnable_since;
    owner_add(pp->stat.latency[latency_bucket(ns)], 1);
  }
}

// Runs gp (runnable, just taken from a queue) on mp's P.
// Called from: g0 with a P. Locks: none held. May switch: yes (returns when
// the G switches back to g0).
void execute(m* mp, g* gp, bool inherit_time);

// The G-side fast path's second half: run r.gp (just taken from our own
// queue) in place of gp. Inlined into gosched, the hottest caller.
// Called from: G with P (inside nopreempt). Locks: none held. May switch: yes.
__attribute__((always_inline)) inline void switch_to_local(m* mp, g* gp, runq_result r,
                                                           post_switch_fn post, void* arg) {
  p* pp = mp->p_;
  if (!r.inherit_time) new_slice(pp);
  owner_add(pp->stat.schedules, 1);
  latency_record(pp, r.gp);
  prepare_start(*mp->rt, r.gp);
  casgstatus(r.gp, gstatus::runnable, gstatus::running, "execute (G-side)");
  trace::go_start(r.gp);
  mp->curg.store(r.gp, std::memory_order_relaxed);
  switch_context(mp, gp, r.gp, post, arg);
}

// True when the G-side fast path may not run `next` on mp: mp is wired to a
// G (lock_os_thread: it runs no other) or `next` is wired to an M (only that
// one runs it). Both cases go to g0 (schedule_loop: stoplockedm,
// startlockedm). One branch for both: the two words are or-ed, so an
// unlocked switch pays two loads of lines it touches anyway (mp's, and
// next's status line) and one never-taken jump.
// Called from: G with P (inside nopreempt). Locks: none. May switch: no.
inline bool locked_switch(const m* mp, const g* next) {
  return (reinterpret_cast<std::uintptr_t>(mp->lockedg.load(std::memory_order_relaxed)) |
          reinterpret_cast<std::uintptr_t>(next->lockedm.load(std::memory_order_relaxed))) != 0;
}

// locked_switch said no to r.gp, just taken from our own queue: back where
// it came from (runnext or the head: either way runnext is empty now, since
// only the owner fills it, so nothing is kicked), for g0 to find again.
// Called from: G with P (inside nopreempt). Locks: none held. May switch: no.
inline void unget_locked(m* mp, g* gp) { runqput(*mp->rt, mp->p_, gp, true); }

// Switches away from the running G `gp`: straight to the next G of this P if
// there is one (fast path), else to g0. post/arg as in switch_context.
// Inline: every park, exit and preemption goes through it.
// Called from: G with P (inside nopreempt). Locks: none held. May switch: yes.
inline void switch_from_g(m* mp, g* gp, post_switch_fn post, void* arg) {
  if (!wants_g0(*mp->rt, mp->p_)) {
    if (runq_result r = runqget(mp->p_); r.gp) {
      if (!locked_switch(mp, r.gp)) [[likely]] {
        switch_to_local(mp, gp, r, post, arg);
        return;
      }
      unget_locked(mp, r.gp);
    }
  }
  mp->curg.store(nullptr, std::memory_order_relaxed);
  switch_context(mp, gp, nullptr, post, arg);
}

// --- goroutine.cpp ----------------------------------------------------------

// Runs the G's task; an exception escaping a goroutine other than main ends
// the process (an unrecovered panic), main's is kept for run() to rethrow.
// Called from: G (g_entry). Locks: none. May switch: yes (the task may).
void run_task(g* gp);
// Destroys gp's task (closure) if it has one.
// Called from: G (goexit1) or teardown (~runtime). Locks: none. May switch: no.
void destroy_task(g* gp);

// --- spinning.cpp -----------------------------------------------------------

// mp leaves the scheduler: its loop ended, or its G entered a blocking
// call. The M that empties the count while the runtime is stopping wakes
// run_main, which waits for that. seq_cst, both: a Dekker pair with
// begin_shutdown's store of `stopping` before run_main's load of nmsched:
// either we see `stopping` and wake run_main, or run_main sees our
// decrement. Inline: it is on every blocking call.
// Called from: the M itself (g0, or its G in entersyscall). Locks: none.
// May switch: no.
inline void msched_leave(runtime& rt) {
  if (rt.nmsched.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      rt.stopping.load(std::memory_order_seq_cst))
    rt.shutdown_note.wakeup();
}

// The runtime as the spinning protocol's environment (sched/spinning.hpp,
// which the c11/ check instantiates with fakes instead). Every member is an
// inline forward to the runtime, so the protocol's instantiation here is the
// code it was before the extraction.
struct sched_env {
  using orders = spin_orders;
  using m_type = m;
  using p_type = p;
  using g_type = g;
  using locked = sched_locked;

  runtime& rt;

  schedt& sched() const { return rt.sched; }
  std::uint32_t procs() const { return rt.gomaxprocs.load(std::memory_order_relaxed); }
  template <class F>
  decltype(auto) with_lock(F&& f) const {
    sched_guard l(rt.sched);
    return f(*l);
  }
  // The idle P list (spin::pidleput/pidleget keep npidle).
  static void pidle_push(sched_locked& l, p* pp) {
    // Relaxed: the check must not order anything (our callers' own
    // runqempty or runqget already read the queue empty, and coherence
    // keeps it so for us).
    GORO_INVARIANT(pp->runq.empty(std::memory_order_relaxed), "pidleput: P%d has queued work",
                   pp->id);
    pp->status.store(pstatus::idle, std::memory_order_relaxed);
    pp->link = l.pidle;
    l.pidle = pp;
    pp->idle_listed.store(true, std::memory_order_relaxed);
    if constexpr (sim) simulator::trace_p(simulator::pev::pidleput, pp, nullptr);
  }
  static p* pidle_pop(sched_locked& l) {
    p* pp = l.pidle;
    if (pp) {
      l.pidle = pp->link;
      pp->link = nullptr;
      pp->idle_listed.store(false, std::memory_order_relaxed);
      if constexpr (sim) simulator::trace_p(simulator::pev::pidleget, pp, nullptr);
    }
    return pp;
  }
  p* allp(std::uint32_t i) const { return rt.allp[i].load(std::memory_order_relaxed); }
  static bool runqempty(const p* pp) { return detail::runqempty(pp); }
  void wakep() const { detail::wakep(rt); }
  void startm(p* pp, bool spinning) const { detail::startm(rt, pp, spinning); }
  static p* releasep(m* mp) { return detail::releasep(mp); }
  static void acquirep(m* mp, p* pp) { detail::acquirep(mp, pp); }
  bool restart_locked(sched_locked&) const {
    if (rt.sched.gcwaiting.load(std::memory_order_relaxed)) return true;
    return rt.stopping.load(std::memory_order_relaxed);
  }
  // The sim's trace log of the spinning protocol (sim/trace_log.hpp; called
  // only under `if constexpr (sim)`).
  static void trace_claim() {
    simulator::trace_p(simulator::pev::claim, nullptr, getm_unchecked());
  }
  static void trace_spin(m* mp, std::int32_t old) {
    simulator::trace_p(simulator::pev::spin, mp->p_, mp, old);
  }
  static void trace_spinclear(m* mp) { simulator::trace_p(simulator::pev::spinclear, mp->p_, mp); }
  static void trace_recheck(m* mp) { simulator::trace_p(simulator::pev::recheck, nullptr, mp); }
  static void trace_drop(const char* where, std::int32_t old) {
    simulator::trace_drop_spinning(where, old);
  }
  static void trace_needspin() {
    simulator::trace_p(simulator::pev::needspin, nullptr, getm_unchecked());
  }
  static void trace_giveup(m* mp) { simulator::trace_p(simulator::pev::giveup, mp->p_, mp); }
  g* globrunq_take(sched_locked& l, m* mp) const {
    if (rt.sched.runqsize.load(std::memory_order_relaxed) == 0) return nullptr;
    return globrunqget(rt, l, mp->p_, 0);
  }
};

// The submission side of the spinning protocol (spin::ready_wake): call
// after making a G runnable on a local queue; after a seq_cst fence, wakes a
// spinner if none spins (the other side is findrunnable's re-check).
// Called from: G with P (goready, newg_commit, a yield's post-switch step),
// g0 (resetspinning), the stopper (start_the_world). Locks: none held.
// May switch: no.
// Inline: it is on every goready and go() (its fast exit with one P, and
// the fence, cost less than the call).
inline void ready_wake(runtime& rt) {
  sched_env env{rt};
  spin::ready_wake(env);
}

// injectg for a G that go() created on a thread without a P (dead, not yet
// counted): its first status change (dead -> runnable) and its census count
// (nretired_created) happen in the same sched.lock round that queues it, so
// the stopped-world auditor, which holds sched.lock, sees the new G either
// dead and uncounted or runnable, counted and queued, and never in between.
// Called from: newg_commit, on a thread without a P. Locks: none held;
// takes sched.lock. May switch: no.
void injectg_newproc(runtime& rt, g* gp);

// pidleget, and if no P is idle, asks an M about to drop its P to spin
// instead (sched.needspinning), so the work the caller found is not lost.
// Called from: any M. Locks: holds sched.lock. May switch: no.
p* pidleget_spinning(runtime& rt, sched_locked& l);

// Creates an M (an OS thread) that will run pp, spinning if `spinning` (the
// caller has already counted it in nmspinning). Fatal past max_threads.
// Called from: any M, sysmon, foreign thread, run_main. Locks: takes
// sched.lock. May switch: no.
void newm(runtime& rt, p* pp, bool spinning);

// Parks mp (which holds no P) until startm hands it one. Returns false if the
// runtime is shutting down instead (the M then leaves its loop). Runs
// checkdead before parking.
// Called from: g0. Locks: takes sched.lock. May switch: no (the thread sleeps).
bool stopm(m* mp);

// The spinning transitions (their list and orders are at their definition
// in sched/spinning.hpp; these are its runtime instantiation): every change
// of sched.nmspinning goes through them.
// Called from: claim_spinning: any M with or without a P, sysmon (handoffp);
// resetspinning: g0 of mp; drop_spinning: g0, or whoever claimed.
// (become_spinning is findrunnable's alone: spin::want_spin, spin::give_up_p.)
// Locks: none required. May switch: no.
bool claim_spinning(runtime& rt);
void resetspinning(m* mp);
void drop_spinning(runtime& rt, const char* where);

// --- lockosthread.cpp ------------------------------------------------------

// Go's stoplockedm: mp's locked G has left the CPU (parked, yielded,
// preempted, or queued by exitsyscall's slow path); mp hands its P off (if
// it holds one) and sleeps until startlockedm hands it a P with the G
// runnable. Returns true holding a P, to run m::lockedg; false at shutdown.
// Called from: g0 (schedule_loop). Locks: none held; takes sched.lock.
// May switch: no (the thread sleeps).
bool stoplockedm(m* mp);
// Go's startlockedm: gp (runnable, just taken off a queue by mp) is locked
// to another M: mp's P goes to that M, which is woken to run gp; mp parks
// (stopm). Returns stopm's answer.
// Called from: g0 with a P (schedule_loop). Locks: none held. May switch: no.
bool startlockedm(m* mp, g* gp);
// Retires mp, whose locked G has exited (m::mexit): its P is handed off,
// mcount drops, checkdead runs; the thread then exits (mstart).
// Called from: g0 with a P (schedule_loop). Locks: none held; takes
// sched.lock. May switch: no.
void mexit_locked(m* mp);

// Hands the creation of mp's thread to the template thread (Go's
// newmHandoff); false if there is none (at shutdown), and the caller
// creates it. Called from: newm, on a locked or retiring M. Locks: takes
// sched.lock. May switch: no.
bool newm_handoff(runtime& rt, m* mp);
// Starts the template thread if it is not running yet (not once the
// runtime is stopping). Called from: G (lock_os_thread, before it locks).
// Locks: takes sched.lock (and creates the thread under it, once per run).
// May switch: no.
void start_template_thread(runtime& rt);
// Ends the template thread once no M is in the scheduler (no newm can come).
// Called from: run_main. Locks: none held. May switch: no.
void stop_template_thread(runtime& rt);
// The thread an M runs on (newm, the template thread).
void mstart(m* mp);

// --- checkdead.cpp ----------------------------------------------------------

// Go's checkdead: the deadlock report if every M is idle and every goroutine
// is asleep with no timer, network waiter or outside thread to wake one;
// else null. Fatal if a runnable G is lost. Sets rt.deadlocked when it
// reports.
// Called from: stopm (g0), sysmon (checkdead_recheck). Locks: holds
// sched.lock; takes allg_mu. May switch: no.
std::exception_ptr checkdead(runtime& rt, sched_locked& l);

// --- findrunnable.cpp -------------------------------------------------------

// The M's scheduler loop (Go's schedule): find a runnable G, run it, repeat,
// until the runtime shuts down.
// Called from: g0 (mstart). Locks: none held. May switch: yes.
void schedule_loop(m* mp);

// --- syscall.cpp ------------------------------------------------------------

// The end of a call the SIGURG handler began on a G's behalf (see
// entersyscall_for_blocked_thread): takes a P back, as exitsyscall does.
// Called from: G in a call, from its outermost nopreempt. Locks: none held.
// May switch: yes.
void exitsyscall_implicit(g* gp) noexcept;

// --- newproc.cpp ------------------------------------------------------------

// With guarded stacks every live goroutine may need two kernel maps; refuse
// a new one in go() (where the caller can handle it) rather than failing to
// map a stack later in the scheduler. Checked every this many spawns per P,
// with the slack reserved in the budget (runtime's constructor).
constexpr std::uint32_t budget_check_every = 64;

// Puts dead gp on pp's free list (half of it moves to the global one when
// full). Called from: the post-switch step of goexit1, on pp's M. Locks:
// may take sched.lock. May switch: no.
void gfput(runtime& rt, p* pp, g* gp);
// The global free list. Locks: holds sched.lock. May switch: no.
void gfput_global_locked(runtime& rt, sched_locked& l, g* gp);
// A new g struct, registered in rt.allgs. Locks: takes allg_mu.
g* malg(runtime& rt);
// Live goroutines: created minus finished over every P and the retired
// counts. Racy (relaxed reads of counters others write): exact only while
// nothing is created or finishes. Called from: anywhere. Locks: none.
std::int64_t live_goroutines_racy(runtime& rt);

// Threads the runtime owns (Go's mcount(), /sched/threads/total:threads):
// its Ms, sysmon's thread and the template thread if started.
// Called from: anywhere but a signal handler. Locks: takes sched.lock.
// May switch: no.
std::uint64_t runtime_threads(runtime& rt);

// --- procresize.cpp ---------------------------------------------------------

// Stops mp's P for a waiting stop-the-world (gcwaiting) and parks mp.
// Returns stopm's answer. Called from: g0 (findrunnable). Locks: takes
// sched.lock. May switch: no.
bool gcstopm(m* mp);
// Strides coprime to n, for stealing in random order.
// Called from: the world stopped, or before any M runs. Locks: none.
void compute_coprimes(runtime& rt, std::uint32_t n);

// --- lifetime.cpp -----------------------------------------------------------

// Shutdown's first steps (the list is at its definition): main returned or
// a deadlock was declared.
// Called from: G (goexit1 of main), g0 (stopm), sysmon (checkdead_recheck).
// Locks: takes active_mu, then sched.lock. May switch: no.
void begin_shutdown(runtime& rt);

}  // namespace goro::detail
