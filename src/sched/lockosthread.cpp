// Goroutines wired to their OS thread (Go's LockOSThread/UnlockOSThread and
// the scheduler's side of it: stoplockedm, startlockedm, and the retiring of
// a thread whose locked goroutine exits).
//
// The pair g::lockedm / m::lockedg (runtime.hpp) is set and cleared only by
// the locked G itself, on its M. The scheduler keeps it so:
//  - The M runs no other G: its G-side fast path refuses (locked_switch,
//    internal.hpp), and its g0 loop (schedule_loop) sends it to
//    stoplockedm whenever the locked G has left the CPU (parked, yielded,
//    preempted, or back from a blocking call without a P): the M hands its
//    P off (handoffp) and sleeps on its note.
//  - The G runs on no other M: whoever takes it off a run queue (the loop,
//    after findrunnable; the fast path puts it back and goes to g0) hands
//    its own P to the locked M, wakes it (startlockedm) and parks itself.
//  - A G that exits while locked: goexit1 clears the pair and sets
//    m::mexit; the loop then retires the M (mexit_locked): the thread exits.
#include "sched/internal.hpp"
#include "sim/controller.hpp"

#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "goro/goro.hpp"

namespace goro::detail {

std::uint32_t lock_os_count() {
  if (!getg()) return 0;
  nopreempt np;
  return getm()->locked_ext;
}

bool stoplockedm(m* mp) {
  runtime& rt = *mp->rt;
  g* lg = mp->lockedg.load(std::memory_order_relaxed);
  GORO_INVARIANT(lg && lg->lockedm.load(std::memory_order_relaxed) == mp,
                 "LockedPair: stoplockedm: M%lld's locked goroutine is not locked to it",
                 (long long)mp->id);
  // Back from a blocking call on an idle P (post_exitsyscall0): run it now.
  if (mp->locked_resume) {
    mp->locked_resume = false;
    return true;
  }
  if (rt.stopping.load(std::memory_order_acquire)) return false;
  // Someone else runs our P meanwhile (Go: handoffp(releasep())). Without a
  // P (exitsyscall's slow path queued the G globally), nothing to hand off.
  if (mp->p_) handoffp(rt, releasep(mp));
  std::exception_ptr dead;
  {
    sched_guard l(rt.sched);
    if (rt.stopping.load(std::memory_order_relaxed)) return false;
    // Go's incidlelocked(1): checkdead must not count us as running, or a
    // deadlock involving a locked goroutine would never be reported.
    l->nmidlelocked++;
    mp->idlelocked = true;
    dead = checkdead(rt, *l);
  }
  if (dead) {
    // As in stopm (begin_shutdown also wakes us: idlelocked is set).
    rt.main_exc = std::move(dead);
    begin_shutdown(rt);
  }
  // Until startlockedm hands us a P (and our G, runnable, in no queue), or
  // begin_shutdown wakes us. The note's release/acquire publishes nextp.
  mp->park.sleep();
  mp->park.clear();
  {
    sched_guard l(rt.sched);
    l->nmidlelocked--;
    mp->idlelocked = false;
  }
  if (rt.stopping.load(std::memory_order_acquire)) return false;
  p* pp = mp->nextp;
  mp->nextp = nullptr;
  GORO_INVARIANT(pp != nullptr, "stoplockedm: M%lld woken without a P", (long long)mp->id);
  GORO_INVARIANT(lg->status.load(std::memory_order_relaxed) == gstatus::runnable,
                 "GStatus: stoplockedm: locked goroutine %llu is %s, want runnable",
                 (unsigned long long)lg->goid,
                 gstatus_name(lg->status.load(std::memory_order_relaxed)));
  acquirep(mp, pp);
  return true;
}

bool startlockedm(m* mp, g* gp) {
  m* lm = gp->lockedm.load(std::memory_order_relaxed);
  GORO_INVARIANT(lm != mp, "LockedPair: startlockedm: goroutine %llu is locked to this M%lld",
                 (unsigned long long)gp->goid, (long long)mp->id);
  // lm's last write of nextp (clearing it after its previous wake-up) came
  // before its G ran and was queued, which is before we took the G.
  GORO_INVARIANT(lm->nextp == nullptr, "startlockedm: locked M%lld already has a P",
                 (long long)lm->id);
  // Our P goes straight to the locked M, which runs gp on it; we park.
  lm->nextp = releasep(mp);
  lm->park.wakeup();  // release: nextp is seen by lm after its sleep
  return stopm(mp);
}

void mexit_locked(m* mp) {
  runtime& rt = *mp->rt;
  // m::mexit stays set: newm, asked by handoffp below on this tainted
  // thread, hands the clone to the template thread.
  p* pp = releasep(mp);
  // At shutdown the P goes nowhere (no M may start); otherwise to an M.
  if (!rt.stopping.load(std::memory_order_acquire)) handoffp(rt, pp);
  std::exception_ptr dead;
  {
    sched_guard l(rt.sched);
    // Before the thread exits: no_outside_threads (checkdead) may then see
    // one thread more than it counts (not provable: asked again), never
    // one fewer (which could hide a thread outside the runtime).
    l->mcount--;
    // The M that exits may have been the last one running (Go's mexit
    // calls checkdead too).
    dead = checkdead(rt, *l);
  }
  if (dead) {
    rt.main_exc = std::move(dead);
    begin_shutdown(rt);
  }
}

// The template thread (Go's templateThread): created from a clean thread
// (the first lock_os_thread's, before it locks), it creates the threads
// that newm was asked for on a thread that may be tainted. It starts every
// M handed to it, even at shutdown: each is counted in nmsched already, and
// run_main waits for them to leave (they do at once, seeing `stopping`).
namespace {

void template_thread_main(runtime* rt) {
  std::vector<m*> batch;
  for (;;) {
    {
      sched_guard l(rt->sched);
      batch.swap(l->newm_handoff);
    }
    for (m* mp : batch) {
      try {
        if constexpr (sim) simulator::spawn_thread(mstart, mp).detach();
        else std::thread(mstart, mp).detach();
      } catch (const std::system_error& e) {
        fatal("cannot create an OS thread for a new M (template thread): %s", e.what());
      }
    }
    batch.clear();
    // acquire: pairs with stop_template_thread's release store; nothing
    // can be handed to us after it (no M is in the scheduler).
    if (rt->template_quit.load(std::memory_order_acquire)) {
      sched_guard l(rt->sched);
      if (l->newm_handoff.empty()) return;
      continue;
    }
    rt->template_note.sleep();
    rt->template_note.clear();
  }
}

}  // namespace

void start_template_thread(runtime& rt) {
  // relaxed: a hint (set once the thread exists); the lock decides.
  if (rt.template_started.load(std::memory_order_relaxed)) return;
  // Created under sched.lock (once per run): stop_template_thread, which
  // takes the lock after `stopping` is set, then either sees the thread
  // (ntemplate) and joins it, or it is never created. A lock_os_thread
  // inside blocking() is not waited for by run, hence the lock.
  sched_guard l(rt.sched);
  if (l->ntemplate || rt.stopping.load(std::memory_order_relaxed)) return;
  try {
    if constexpr (sim) rt.template_thread = simulator::spawn_thread(template_thread_main, &rt);
    else rt.template_thread = std::thread(template_thread_main, &rt);
  } catch (const std::system_error& e) {
    fatal("cannot create the template thread (for goroutines locked to threads): %s", e.what());
  }
  // Counted once it exists: checkdead never counts a thread that does not.
  l->ntemplate = 1;
  rt.template_started.store(true, std::memory_order_relaxed);
}

bool newm_handoff(runtime& rt, m* mp) {
  {
    sched_guard l(rt.sched);
    // None (only at shutdown: lock_os_thread starts it before locking, and
    // not once `stopping` is set): the caller clones; the M exits at once.
    if (!l->ntemplate) return false;
    l->newm_handoff.push_back(mp);
  }
  rt.template_note.wakeup();
  return true;
}

void stop_template_thread(runtime& rt) {
  {
    sched_guard l(rt.sched);
    if (!l->ntemplate) return;
  }
  // release: pairs with the template thread's acquire load; every M handed
  // to it before is started first (it drains the list before it returns).
  rt.template_quit.store(true, std::memory_order_release);
  rt.template_note.wakeup();
  // sim: the controller waits for its exit first (a kernel join holding
  // the baton would stop the simulation).
  if constexpr (sim) simulator::join(rt.template_thread);
  else rt.template_thread.join();
}

}  // namespace goro::detail

namespace goro {

using namespace detail;

void lock_os_thread() {
  if (!getg()) return;  // a foreign thread is already its own thread
  nopreempt np;         // the M we lock to is the one we run on
  m* mp = getm();
  // Before locking, while this thread is in a known-good state: the
  // template thread clones it (Go's LockOSThread: startTemplateThread).
  start_template_thread(*mp->rt);
  g* gp = mp->curg.load(std::memory_order_relaxed);
  if (mp->locked_ext == UINT32_MAX)
    throw std::logic_error(
        "goro::lock_os_thread: nesting overflow (2^32-1 calls not undone by unlock_os_thread)");
  mp->locked_ext++;
  // Relaxed: see g::lockedm (only this G writes them; the run-queue
  // hand-offs publish them to the Ms that look).
  mp->lockedg.store(gp, std::memory_order_relaxed);
  gp->lockedm.store(mp, std::memory_order_relaxed);
}

void unlock_os_thread() {
  if (!getg()) return;
  nopreempt np;
  m* mp = getm();
  if (mp->locked_ext == 0) return;  // Go: a no-op
  if (--mp->locked_ext != 0) return;
  g* gp = mp->curg.load(std::memory_order_relaxed);
  mp->lockedg.store(nullptr, std::memory_order_relaxed);
  gp->lockedm.store(nullptr, std::memory_order_relaxed);
}

}  // namespace goro
