// The goroutine side of scheduling, run on the G's own stack: yield
// (gosched), park (gopark), ready (goready), exit (goexit1) and the
// preemption requests a G serves (preempt_slow, the async trampoline's park).
#include "sched/internal.hpp"

#include "sched/coarse_clock.hpp"
#include "sched/dump.hpp"
#include "sim/controller.hpp"

#include <cxxabi.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <typeinfo>

namespace goro::detail {

// preempt_pending counts the Ps whose preempt flag is set, so that
// preempt_point() is one relaxed load while none is. The exchange on the
// flag decides which caller moves the count, so each set is matched by
// exactly one clear. Relaxed: the count is a hint that sends preempt_point
// to the slow path, which reads the flag itself; a request seen late is
// served at the next check (sysmon repeats it every tick).
// constinit: preempt_point() may run before any dynamic initialization.
// request_preempt and clear_preempt are its only writers (its friends).
constinit preempt_count preempt_pending;

bool request_preempt(p* pp) {
  if (pp->preempt.exchange(true, std::memory_order_relaxed)) return false;
  preempt_pending.n_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void clear_preempt(p* pp) {
  if (pp->preempt.load(std::memory_order_relaxed) &&
      pp->preempt.exchange(false, std::memory_order_relaxed))
    preempt_pending.n_.fetch_sub(1, std::memory_order_relaxed);
}

namespace {

void post_runqput(m* mp, g* prev, void*) {
  casgstatus(prev, gstatus::running, gstatus::runnable, "gosched");
  runqput(*mp->rt, mp->p_, prev, false);
  // As Go's goschedImpl: the yielder is runnable work that an idle P could
  // take while this one runs the next G.
  ready_wake(*mp->rt);
}

void post_globrunqput(m* mp, g* prev, void*) {
  casgstatus(prev, gstatus::running, gstatus::runnable, "gosched");
  runtime& rt = *mp->rt;
  {
    sched_guard l(rt.sched);
    globrunqput(rt, *l, prev);
  }
  ready_wake(rt);
}

}  // namespace

void gosched() {
  nopreempt np;
  m* mp = getm();
  g* gp = mp->curg.load(std::memory_order_relaxed);
  runtime& rt = *mp->rt;
  // Inside blocking() the G holds no P: it is a thread in a system call.
  if (!mp->p_) {
    // sim: a scheduling point (the OS's yield would choose nothing).
    if constexpr (sim) simulator::point(simulator::site::yield);
    std::this_thread::yield();
    return;
  }
  // switch_from_g, unrolled for the hottest path. Next local G: we go to
  // our own tail (behind everything queued here, and stealable). Going to
  // g0 instead: we go to the global queue, as Go's Gosched does, so the
  // global queue gets its turn first.
  if (!wants_g0(rt, mp->p_)) {
    if (runq_result r = runqget(mp->p_); r.gp) {
      // Neither we nor r.gp locked to a thread (lock_os_thread): else g0
      // sorts it out (stoplockedm, startlockedm).
      if (!locked_switch(mp, r.gp)) [[likely]] {
        trace::go_stop(trace::stop_reason::gosched);
        switch_to_local(mp, gp, r, post_runqput, nullptr);
        return;
      }
      unget_locked(mp, r.gp);
    } else if (rt.sched.runqsize.load(std::memory_order_relaxed) == 0) {
      // Nothing queued anywhere (the stop flags and due timers are part of
      // wants_g0): Go would requeue us and pick us again at once (a locked
      // G too: its M would hand the P off only to be handed it back).
      return;
    }
  }
  trace::go_stop(trace::stop_reason::gosched);
  mp->curg.store(nullptr, std::memory_order_relaxed);
  switch_context(mp, gp, nullptr, post_globrunqput, nullptr);
}

void gopark(post_switch_fn unlockf, void* arg, wait_reason reason) {
  nopreempt np;
  m* mp = getm();
  g* gp = mp->curg.load(std::memory_order_relaxed);
  gp->waitreason.store(reason, std::memory_order_relaxed);
  gp->waitsince = coarse_nanotime();  // for dumps: one relaxed load (sched/coarse_clock.hpp)
  trace::go_block(reason);
  owner_add(mp->p_->stat.parks[static_cast<std::size_t>(reason)], 1);
  // gopark_commit (sync/park_core.hpp): the status, written before the
  // switch; a waker can only find gp after unlockf runs, which is after our
  // context is saved.
  gopark_commit(gp, [&] {
    // Fairness without signals: sysmon asked this P to yield (its slice has
    // expired), so the G in runnext must not inherit the slice. It goes to
    // the tail and the head of the queue runs on a new slice; otherwise a
    // pair handing the P back and forth through runnext would keep it for
    // ever. Relaxed: the flag is a hint (see request_preempt); seen late,
    // the request is honoured at the next park or ready.
    if (mp->p_->preempt.load(std::memory_order_relaxed)) {
      // take_next's acq_rel: as runqget's CAS of runnext, which thieves race.
      if (g* next = mp->p_->runq.take_next()) runqput(*mp->rt, mp->p_, next, false);
    }
    switch_from_g(mp, gp, unlockf, arg);
  });
  // Readied: the wait queue no longer holds us, so the record of how to
  // leave it (waiter_on_abandon) is stale. Only this G writes it.
  gp->abandon = nullptr;
}

void goready(g* gp) {
  GORO_INVARIANT(gp->status.load(std::memory_order_relaxed) == gstatus::waiting,
                 "GStatus: goready: goroutine %llu is %s, want waiting",
                 (unsigned long long)gp->goid,
                 gstatus_name(gp->status.load(std::memory_order_relaxed)));
  nopreempt np;
  trace::go_unblock(gp);
  // (MUTANT ready_twice: the G is made runnable once more than it was
  // parked, the bug of a G readied by two wakers; goready_put's own
  // transition then finds it runnable.)
  if (mutant_on(mutant_id::ready_twice))
    casgstatus(gp, gstatus::waiting, gstatus::runnable, "goready (mutant ready_twice)");
  m* mp = getm();
  // goready_put, goready_abandoned: sync/park_core.hpp, the handshake's
  // core that c11/park_c11.cpp checks.
  if (mp && mp->p_ && mp->rt == gp->rt) {
    goready_put(gp, [&] {
      owner_add(mp->p_->stat.readies, 1);
      // Go's ready puts gp in runnext, where it inherits the current slice.
      // If sysmon has asked this P to yield, the slice has expired: gp goes
      // to the tail instead, behind the Gs that have waited (relaxed: as
      // gopark).
      runqput(*mp->rt, mp->p_, gp, !mp->p_->preempt.load(std::memory_order_relaxed));
      ready_wake(*mp->rt);
    });
    return;
  }
  // A thread without a P (a foreign thread, or a goroutine inside
  // blocking()). Hold the runtime while we touch it: once it has begun to
  // shut down it runs no goroutine again, so there is nothing to wake, and
  // it may be freed as soon as its last M leaves.
  runtime* act = acquire_active();
  if (act && act == gp->rt) {
    goready_put(gp, [&] {
      // (MUTANT uncounted_foreign_ready: a ready from a thread without a P
      // is not counted.)
      if (!mutant_on(mutant_id::uncounted_foreign_ready))
        act->nop_stat.readies.fetch_add(1, std::memory_order_relaxed);
      injectg(*act, gp);
    });
  } else {
    // gp's runtime has begun to shut down: gp is abandoned and never runs.
    // This store is our last touch of gp and of its waiter: teardown
    // (abandon_waiters), finding gp taken off its queue by us, waits for
    // gp to leave `waiting` before it frees anything.
    goready_abandoned(gp);
  }
  if (act) act->release();
}

namespace {

void post_gfput(m* mp, g* prev, void*) { gfput(*mp->rt, mp->p_, prev); }

}  // namespace

void destroy_task(g* gp) {
  task* t = gp->fn;
  gp->fn = nullptr;
  if (!t) return;
  if (gp->fn_inline) t->~task();
  else delete t;
}

namespace {

std::string demangled_current_exception_type() {
  std::type_info* ti = abi::__cxa_current_exception_type();
  if (!ti) return "unknown";
  int status = 0;
  char* d = abi::__cxa_demangle(ti->name(), nullptr, nullptr, &status);
  std::string s = status == 0 && d ? d : ti->name();
  std::free(d);
  return s;
}

[[noreturn]] void panic_exit(g* gp, const char* what) {
  std::string type = demangled_current_exception_type();
  std::fprintf(stderr,
               "panic: %s [%s]\n\ngoroutine %llu [running]:\ngoro: an exception escaped a "
               "goroutine; as with an unrecovered Go panic, the process exits\n",
               what, type.c_str(), (unsigned long long)gp->goid);
  std::fflush(stderr);
  std::_Exit(2);
}

}  // namespace

void run_task(g* gp) {
  try {
    gp->fn->invoke();
  } catch (const std::exception& e) {
    if (!gp->is_main) panic_exit(gp, e.what());
    gp->rt->main_exc = std::current_exception();
  } catch (...) {
    if (!gp->is_main) panic_exit(gp, "(exception not derived from std::exception)");
    gp->rt->main_exc = std::current_exception();
  }
}

void goexit1() {
  nopreempt np;  // never released: the G dies; prepare_start resets it
  m* mp = getm();
  g* gp = mp->curg.load(std::memory_order_relaxed);
  runtime& rt = *mp->rt;
  destroy_task(gp);
  free_label(gp);  // a recycled G starts unnamed (sched/dump.cpp)
  casgstatus(gp, gstatus::running, gstatus::dead, "goexit");
  trace::go_destroy();
  owner_add(mp->p_->nfinished, 1);
  if (gp->is_main) begin_shutdown(rt);
  if (gp->lockedm.load(std::memory_order_relaxed)) [[unlikely]] {
    // Exiting locked to this M (Go's goexit0 with gp.lockedm set): the
    // thread may be in a state no other goroutine should inherit, so it
    // runs none: g0 retires the M (schedule_loop: mexit_locked). The pair
    // is cleared first, so a later user of this G struct starts unlocked.
    gp->lockedm.store(nullptr, std::memory_order_relaxed);
    mp->lockedg.store(nullptr, std::memory_order_relaxed);
    mp->locked_ext = 0;
    mp->mexit = true;
    mp->curg.store(nullptr, std::memory_order_relaxed);
    switch_context(mp, gp, nullptr, post_gfput, nullptr);
    fatal("goexit1: a dead goroutine was resumed");
  }
  switch_from_g(mp, gp, post_gfput, nullptr);
  fatal("goexit1: a dead goroutine was resumed");
}

void preempt_slow() {
  g* gp = getg();
  if (!gp) return;
  nopreempt np;
  m* mp = getm();
  p* pp = mp->p_;
  if (!pp || !pp->preempt.load(std::memory_order_relaxed)) return;
  clear_preempt(pp);
  owner_add(pp->stat.preempts, 1);
  trace::go_stop(trace::stop_reason::preempted);
  // Go's gopreempt_m: to the global queue, so a preempted G does not simply
  // run again next on its own P.
  switch_from_g(mp, gp, post_globrunqput, nullptr);
}

extern "C" void goro_async_preempt_park() {
  // The handler set preemptoff for us (so no second signal lands here).
  // errno is the interrupted code's (the handler restored it before
  // returning into the trampoline). It belongs to the goroutine, not to the
  // thread: a G preempted between a failing call and its errno check must
  // read its own value when it resumes, perhaps on another M whose errno
  // other goroutines have changed meanwhile. Kept here, on the G's stack.
  int saved_errno = errno_get();
  g* gp = getg();
  m* mp = getm();
  mp->rt->nasync_preempts.fetch_add(1, std::memory_order_relaxed);
  if (mp->p_) clear_preempt(mp->p_);
  trace::go_stop(trace::stop_reason::preempted);
  switch_from_g(mp, gp, post_globrunqput, nullptr);
  errno_set(saved_errno);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  gp->preemptoff.store(0, std::memory_order_relaxed);
}

}  // namespace goro::detail
