// The scheduler: Go's runtime/proc.go rebuilt on Boost.Context.
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
#include "sched/proc.hpp"

#include <cxxabi.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <typeinfo>

#include "sched/chaos.hpp"

namespace goro::detail {

// ---------------------------------------------------------------------------
// Thread-local M and fatal errors.

namespace {
thread_local m* tls_m = nullptr;
}

// noinline + an asm memory clobber: the compiler may neither inline this nor
// treat it as pure, so every call re-reads the thread pointer of the thread
// it is running on now (a G may have migrated since the last call).
__attribute__((noinline)) m* getm() {
  asm volatile("" ::: "memory");
  return tls_m;
}
__attribute__((noinline)) void setm(m* mp) {
  asm volatile("" ::: "memory");
  tls_m = mp;
}

eh_state* thread_eh_state() noexcept {
  return reinterpret_cast<eh_state*>(abi::__cxa_get_globals());
}

void fatal(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "goro: fatal error: %s\n", buf);
  std::fflush(stderr);
  std::_Exit(2);
}

const char* gstatus_name(gstatus s) {
  switch (s) {
    case gstatus::idle: return "idle";
    case gstatus::runnable: return "runnable";
    case gstatus::running: return "running";
    case gstatus::syscall: return "syscall";
    case gstatus::waiting: return "waiting";
    case gstatus::dead: return "dead";
  }
  return "?";
}

const char* pstatus_name(pstatus s) {
  switch (s) {
    case pstatus::idle: return "idle";
    case pstatus::running: return "running";
    case pstatus::syscall: return "syscall";
    case pstatus::stopped: return "stopped";
  }
  return "?";
}

namespace {

std::uint64_t fastrand(m* mp) {
  // xorshift64*: per-M, so no sharing; quality is ample for victim order.
  std::uint64_t x = mp->fastrand;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  mp->fastrand = x;
  return x * 0x2545F4914F6CDD1Dull;
}

std::uint64_t seed_for(const void* p, std::int64_t id) {
  std::uint64_t s = reinterpret_cast<std::uintptr_t>(p) * 0x9E3779B97F4A7C15ull ^
                    static_cast<std::uint64_t>(id + 1) * 0xBF58476D1CE4E5B9ull;
  return s ? s : 1;
}

// Relaxed increment of a counter only its owner writes (no RMW needed).
void bump(std::atomic<std::uint64_t>& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

// ---------------------------------------------------------------------------
// M/P binding and idle lists.

void acquirep(m* mp, p* pp) {
  GORO_INVARIANT(mp->p_ == nullptr, "OneMPerP: acquirep: M%lld already holds P%d",
                 (long long)mp->id, mp->p_ ? mp->p_->id : -1);
  GORO_INVARIANT(pp->m_ == nullptr, "OneMPerP: acquirep: P%d already held by M%lld", pp->id,
                 pp->m_ ? (long long)pp->m_->id : -1LL);
  GORO_INVARIANT(pp->status.load(std::memory_order_relaxed) == pstatus::idle,
                 "PStatus: acquirep: P%d is %s, want idle", pp->id,
                 pstatus_name(pp->status.load(std::memory_order_relaxed)));
  mp->p_ = pp;
  pp->m_ = mp;
  pp->status.store(pstatus::running, std::memory_order_relaxed);
}

p* releasep(m* mp) {
  p* pp = mp->p_;
  GORO_INVARIANT(pp != nullptr, "OneMPerP: releasep: M%lld holds no P", (long long)mp->id);
  GORO_INVARIANT(pp->m_ == mp, "OneMPerP: releasep: P%d held by another M", pp->id);
  pp->m_ = nullptr;
  mp->p_ = nullptr;
  pp->status.store(pstatus::idle, std::memory_order_relaxed);
  return pp;
}

void pidleput(runtime& rt, p* pp) {
  GORO_INVARIANT(runqempty(pp), "pidleput: P%d has queued work", pp->id);
  pp->status.store(pstatus::idle, std::memory_order_relaxed);
  pp->link = rt.sched.pidle;
  rt.sched.pidle = pp;
  rt.sched.npidle.store(rt.sched.npidle.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
}

p* pidleget(runtime& rt) {
  p* pp = rt.sched.pidle;
  if (pp) {
    rt.sched.pidle = pp->link;
    pp->link = nullptr;
    rt.sched.npidle.store(rt.sched.npidle.load(std::memory_order_relaxed) - 1,
                          std::memory_order_relaxed);
  }
  return pp;
}

void mput(runtime& rt, m* mp) {
  mp->schedlink = rt.sched.midle;
  rt.sched.midle = mp;
  rt.sched.nmidle++;
}

m* mget(runtime& rt) {
  m* mp = rt.sched.midle;
  if (mp) {
    rt.sched.midle = mp->schedlink;
    mp->schedlink = nullptr;
    rt.sched.nmidle--;
  }
  return mp;
}

// ---------------------------------------------------------------------------
// Context switching.

namespace {

void schedule_loop(m* mp);

// Finishes a switch in the context that was just resumed (or started): saves
// the context we came from into its owner, then runs the post-switch work the
// switcher left. `self` is the sanitizer state of the context now running.
void after_switch(transfer_t t, fiber_san& self) {
  m* mp = static_cast<m*>(t.data);
  g* prev = mp->sw_from;
  if (prev) prev->ctx = t.fctx;
  else mp->g0ctx = t.fctx;
  san_after_switch(self, prev ? &prev->san : &mp->g0san);
  if (post_switch_fn post = mp->sw_post) {
    mp->sw_post = nullptr;
    post(mp, prev, mp->sw_arg);
  }
}

void run_task(g* gp);

// Entry of every goroutine: finish the switch that started us, run the task,
// exit. Never returns (goexit1 switches away for good).
void g_entry(transfer_t t) {
  m* mp = static_cast<m*>(t.data);
  g* self = mp->curg;
  // A fresh G's fake-stack slot is null (prepare_start), which is exactly
  // ASan's first-entry form of finishing a switch.
  after_switch(t, self->san);
  run_task(self);
  goexit1();
}

// Gives gp a stack and an initial context if it has none (a new or recycled
// G). Stacks are allocated lazily so that a million queued goroutines that
// have not started cost no stack at all.
void prepare_start(runtime& rt, g* gp) {
  if (gp->ctx) return;
  if (!gp->stk) {
    gp->stk = rt.stacks.allocate();
    if (!gp->stk) {
      int e = errno;
      fatal("goroutine %llu: %s", (unsigned long long)gp->goid,
            rt.stacks.describe_failure(e).c_str());
    }
  }
  san_create(gp->san, gp->stk.lo, gp->stk.size);
  san_reset_fake_stack(gp->san);
  gp->eh = {};
  gp->ctx = make_fcontext(gp->stk.hi(), gp->stk.size, g_entry);
}

// Leaves the current context (G `from`, or g0 if from is null) for G `to`
// (or g0 if to is null); post(mp, from, arg) runs in `to` once we are off our
// stack. Returns when something switches back to us.
void switch_context(m* mp, g* from, g* to, post_switch_fn post, void* arg) {
  mp->sw_from = from;
  mp->sw_post = post;
  mp->sw_arg = arg;
  if (from && !mp->rt->stacks.guarded() && !stack_allocator::canary_ok(from->stk))
    fatal("goroutine %llu overflowed its %zu-byte stack (unguarded stacks: "
          "options::stack_guard=false); raise goro::options::stack_size",
          (unsigned long long)from->goid, from->stk.size);
  fiber_san& fs = from ? from->san : mp->g0san;
  fiber_san& ts = to ? to->san : mp->g0san;
  bool dying = from && from->status.load(std::memory_order_relaxed) == gstatus::dead;
  san_before_switch(fs, ts, dying);
  eh_switch(mp->thread_eh, from ? from->eh : mp->g0eh, to ? to->eh : mp->g0eh);
  transfer_t t = jump_fcontext(to ? to->ctx : mp->g0ctx, mp);
  after_switch(t, fs);
}

// True when the G-side fast path must not pick the next G itself: the world
// is stopping, shutting down, or it is the 61st tick and the global queue
// deserves a turn (findrunnable does that on g0).
bool wants_g0(runtime& rt, p* pp) {
  return rt.stopping.load(std::memory_order_relaxed) ||
         rt.sched.gcwaiting.load(std::memory_order_relaxed) ||
         (pp->schedtick % 61 == 0 && rt.sched.runqsize.load(std::memory_order_relaxed) > 0);
}

// Switches away from the running G `gp`: straight to the next G of this P if
// there is one (fast path), else to g0. post/arg as in switch_context;
// to_g0_post replaces post when we go to g0 (yield uses it to requeue on the
// global queue instead of the local one).
void switch_from_g(m* mp, g* gp, post_switch_fn post, void* arg,
                   post_switch_fn to_g0_post = nullptr) {
  runtime& rt = *mp->rt;
  p* pp = mp->p_;
  if (!wants_g0(rt, pp)) {
    runq_result r = runqget(pp);
    if (r.gp) {
      if (!r.inherit_time) pp->schedtick++;
      prepare_start(rt, r.gp);
      r.gp->status.store(gstatus::running, std::memory_order_relaxed);
      mp->curg = r.gp;
      switch_context(mp, gp, r.gp, post, arg);
      return;
    }
  }
  mp->curg = nullptr;
  switch_context(mp, gp, nullptr, to_g0_post ? to_g0_post : post, arg);
}

void execute(m* mp, g* gp, bool inherit_time) {
  runtime& rt = *mp->rt;
  if (!inherit_time) mp->p_->schedtick++;
  prepare_start(rt, gp);
  GORO_INVARIANT(gp->status.load(std::memory_order_relaxed) == gstatus::runnable,
                 "GStatus: execute: goroutine %llu is %s, want runnable",
                 (unsigned long long)gp->goid,
                 gstatus_name(gp->status.load(std::memory_order_relaxed)));
  gp->status.store(gstatus::running, std::memory_order_relaxed);
  mp->curg = gp;
  switch_context(mp, nullptr, gp, nullptr, nullptr);
}

}  // namespace

// ---------------------------------------------------------------------------
// Waking Ms: wakep, startm, newm, stopm, injectg.

namespace {

void mstart(m* mp) {
  setm(mp);
  mp->thread_eh = thread_eh_state();
  san_adopt_thread(mp->g0san);
  if (p* pp = mp->nextp) {
    mp->nextp = nullptr;
    acquirep(mp, pp);
  }
  schedule_loop(mp);
  setm(nullptr);
  mp->rt->release();
}

m* allocm(runtime& rt) {
  m* mp = new m;
  mp->rt = &rt;
  mp->id = rt.mnext.fetch_add(1, std::memory_order_relaxed);
  mp->fastrand = seed_for(mp, mp->id);
  return mp;
}

void newm(runtime& rt, p* pp, bool spinning) {
  m* mp = allocm(rt);
  mp->nextp = pp;
  mp->spinning = spinning;
  rt.sched.lock.lock();
  rt.sched.mcount++;
  rt.allm.push_back(mp);
  rt.sched.lock.unlock();
  rt.retain();  // released by the thread when it exits
  try {
    mp->thread = std::thread(mstart, mp);
    mp->thread.detach();
  } catch (const std::system_error& e) {
    fatal("cannot create an OS thread for a new M (%d Ms exist): %s", rt.sched.mcount, e.what());
  }
}

// Parks mp until startm hands it a P. Returns false if the runtime is
// shutting down instead (the M then leaves its loop).
bool stopm(m* mp) {
  runtime& rt = *mp->rt;
  GORO_INVARIANT(mp->p_ == nullptr, "stopm: M%lld still holds P%d", (long long)mp->id,
                 mp->p_->id);
  rt.sched.lock.lock();
  if (rt.stopping.load(std::memory_order_relaxed)) {
    rt.sched.lock.unlock();
    return false;
  }
  mput(rt, mp);
  rt.sched.lock.unlock();
  mp->park.sleep();
  mp->park.clear();
  if (rt.stopping.load(std::memory_order_acquire)) return false;
  p* pp = mp->nextp;
  mp->nextp = nullptr;
  GORO_INVARIANT(pp != nullptr, "stopm: M%lld woken without a P", (long long)mp->id);
  acquirep(mp, pp);
  return true;
}

}  // namespace

void startm(runtime& rt, p* pp, bool spinning) {
  rt.sched.lock.lock();
  if (!pp) {
    pp = pidleget(rt);
    if (!pp) {
      rt.sched.lock.unlock();
      if (spinning) rt.sched.nmspinning.fetch_sub(1);
      return;
    }
  }
  m* nmp = mget(rt);
  rt.sched.lock.unlock();
  GORO_CHAOS_POINT();  // handoff: P taken off the idle list, M not yet woken
  if (!nmp) {
    newm(rt, pp, spinning);
    return;
  }
  GORO_INVARIANT(nmp->nextp == nullptr, "startm: idle M%lld already has a P",
                 (long long)nmp->id);
  nmp->spinning = spinning;
  nmp->nextp = pp;
  nmp->park.wakeup();  // release: nextp and spinning are seen by the woken M
}

void wakep(runtime& rt) {
  // Only one spinning M at a time is started here; it starts the next one
  // when it finds work (resetspinning), so wakeups ramp up with the work.
  if (rt.sched.nmspinning.load(std::memory_order_relaxed) != 0) return;
  GORO_CHAOS_POINT();  // between the spinning check and the claim
  std::int32_t zero = 0;
  if (!rt.sched.nmspinning.compare_exchange_strong(zero, 1)) return;
  rt.sched.lock.lock();
  p* pp = pidleget(rt);
  rt.sched.lock.unlock();
  if (!pp) {
    rt.sched.nmspinning.fetch_sub(1);
    return;
  }
  startm(rt, pp, true);
}

void ready_wake(runtime& rt) {
  // StoreLoad between publishing the G (runqtail store) and reading the
  // spinning state; the spinner has the matching fence in findrunnable.
  GORO_CHAOS_POINT();
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (rt.sched.npidle.load(std::memory_order_relaxed) != 0 &&
      rt.sched.nmspinning.load(std::memory_order_relaxed) == 0)
    wakep(rt);
}

void injectg(runtime& rt, g* gp) {
  // Not sloppy, as Go's injectglist: the put and the idle-P check happen under
  // sched.lock, and an M releases its P only after checking the global queue
  // under the same lock, so either we see its idle P or it sees our G.
  rt.sched.lock.lock();
  globrunqput(rt, gp);
  p* pp = pidleget(rt);
  rt.sched.lock.unlock();
  if (pp) startm(rt, pp, false);
}

// ---------------------------------------------------------------------------
// findrunnable and the scheduler loop.

namespace {

void resetspinning(m* mp) {
  runtime& rt = *mp->rt;
  mp->spinning = false;
  GORO_CHAOS_POINT();
  if (rt.sched.nmspinning.fetch_sub(1) <= 0) fatal("resetspinning: negative nmspinning");
  // We found work and stop spinning: if there may be more, start another
  // spinner so parallelism ramps up (Go's resetspinning -> wakep).
  ready_wake(rt);
}

bool gcstopm(m* mp) {
  runtime& rt = *mp->rt;
  if (mp->spinning) {
    mp->spinning = false;
    rt.sched.nmspinning.fetch_sub(1);
  }
  p* pp = releasep(mp);
  rt.sched.lock.lock();
  pp->status.store(pstatus::stopped, std::memory_order_relaxed);
  if (--rt.sched.stopwait == 0) rt.sched.stopnote.wakeup();
  rt.sched.lock.unlock();
  return stopm(mp);
}

// Steals from the other Ps: up to 4 rounds over them in a random order;
// runnext is taken only in the last round.
g* stealwork(m* mp) {
  runtime& rt = *mp->rt;
  p* pp = mp->p_;
  constexpr int steal_tries = 4;
  for (int i = 0; i < steal_tries; i++) {
    bool last = i == steal_tries - 1;
    std::uint32_t n = rt.gomaxprocs.load(std::memory_order_relaxed);
    const auto& cop = rt.steal_coprimes;
    std::uint64_t r = fastrand(mp);
    std::uint32_t pos = static_cast<std::uint32_t>(r % n);
    std::uint32_t inc = cop[(r >> 32) % cop.size()];
    for (std::uint32_t k = 0; k < n; k++, pos = (pos + inc) % n) {
      if (rt.sched.gcwaiting.load(std::memory_order_relaxed) ||
          rt.stopping.load(std::memory_order_relaxed))
        return nullptr;
      p* p2 = rt.allp[pos].load(std::memory_order_relaxed);
      if (p2 == pp || p2->status.load(std::memory_order_relaxed) == pstatus::idle) continue;
      GORO_CHAOS_POINT();
      if (g* gp = runqsteal(pp, p2, last)) return gp;
    }
  }
  return nullptr;
}

// Finds a runnable G for mp, which holds a P; parks the M while there is
// none. Returns {} only when the runtime is shutting down.
runq_result findrunnable(m* mp) {
  runtime& rt = *mp->rt;
  schedt& s = rt.sched;
top:
  if (rt.stopping.load(std::memory_order_acquire)) return {};
  if (s.gcwaiting.load(std::memory_order_acquire)) {
    if (!gcstopm(mp)) return {};
    goto top;
  }
  {
    p* pp = mp->p_;
    // Every 61st schedule, the global queue first, so a P busy with its own
    // queue cannot starve it (61: prime, so not in step with program loops).
    if (pp->schedtick % 61 == 0 && s.runqsize.load(std::memory_order_relaxed) > 0) {
      s.lock.lock();
      g* gp = globrunqget(rt, pp, 1);
      s.lock.unlock();
      if (gp) return {gp, false};
    }
    if (runq_result r = runqget(pp); r.gp) return r;
    if (s.runqsize.load(std::memory_order_relaxed) != 0) {
      s.lock.lock();
      g* gp = globrunqget(rt, pp, 0);
      s.lock.unlock();
      if (gp) return {gp, false};
    }
    // Spin (steal) only while fewer than half the busy Ps have a spinning M:
    // enough to find work fast, not so many that idle Ms burn the CPUs.
    std::int32_t procs = static_cast<std::int32_t>(rt.gomaxprocs.load(std::memory_order_relaxed));
    if (mp->spinning || 2 * s.nmspinning.load(std::memory_order_relaxed) <
                            procs - s.npidle.load(std::memory_order_relaxed)) {
      if (!mp->spinning) {
        mp->spinning = true;
        s.nmspinning.fetch_add(1);
      }
      if (g* gp = stealwork(mp)) return {gp, false};
    }

    // Nothing found: give up the P. The global queue is checked again under
    // the lock that injectg also takes (no lost global submissions).
    s.lock.lock();
    if (s.gcwaiting.load(std::memory_order_relaxed) || rt.stopping.load(std::memory_order_relaxed)) {
      s.lock.unlock();
      goto top;
    }
    if (s.runqsize.load(std::memory_order_relaxed) != 0) {
      g* gp = globrunqget(rt, pp, 0);
      s.lock.unlock();
      return {gp, false};
    }
    pidleput(rt, releasep(mp));
    s.lock.unlock();
  }

  // Spinning -> not spinning. Decrement first, then (after StoreLoad) look
  // at every run queue again: a submitter that saw our count before the
  // decrement did not wake anyone and relies on this re-check.
  if (mp->spinning) {
    mp->spinning = false;
    GORO_CHAOS_POINT();  // the lost-wakeup window: P released, still counted spinning
    if (s.nmspinning.fetch_sub(1) <= 0) fatal("findrunnable: negative nmspinning");
    GORO_CHAOS_POINT();
#ifndef GORO_MUTANT_NO_SPIN_RECHECK
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::uint32_t n = rt.gomaxprocs.load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < n; i++) {
      p* p2 = rt.allp[i].load(std::memory_order_relaxed);
      if (!runqempty(p2)) {
        s.lock.lock();
        p* pp = pidleget(rt);
        s.lock.unlock();
        if (pp) {
          acquirep(mp, pp);
          mp->spinning = true;
          s.nmspinning.fetch_add(1);
          goto top;
        }
        break;
      }
    }
#endif
  }
  if (!stopm(mp)) return {};
  goto top;
}

void schedule_loop(m* mp) {
  for (;;) {
    runq_result r = findrunnable(mp);
    if (!r.gp) return;
    if (mp->spinning) resetspinning(mp);
    execute(mp, r.gp, r.inherit_time);
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Goroutine-side: yield, park, ready, exit.

namespace {

void post_runqput(m* mp, g* prev, void*) {
  prev->status.store(gstatus::runnable, std::memory_order_relaxed);
  runqput(*mp->rt, mp->p_, prev, false);
}

void post_globrunqput(m* mp, g* prev, void*) {
  prev->status.store(gstatus::runnable, std::memory_order_relaxed);
  runtime& rt = *mp->rt;
  rt.sched.lock.lock();
  globrunqput(rt, prev);
  rt.sched.lock.unlock();
}

}  // namespace

void gosched() {
  m* mp = getm();
  g* gp = mp->curg;
  runtime& rt = *mp->rt;
  // Nothing else to run here: Go would requeue and pick the same G again.
  if (runqempty(mp->p_) && rt.sched.runqsize.load(std::memory_order_relaxed) == 0 &&
      !rt.stopping.load(std::memory_order_relaxed) &&
      !rt.sched.gcwaiting.load(std::memory_order_relaxed))
    return;
  // Next local G: we go to our own tail (behind everything queued here, and
  // stealable). Going to g0 instead: we go to the global queue, as Go's
  // Gosched does, so the global queue gets its turn first.
  switch_from_g(mp, gp, post_runqput, nullptr, post_globrunqput);
}

void gopark(post_switch_fn unlockf, void* arg) {
  m* mp = getm();
  g* gp = mp->curg;
  // Written before the switch; a waker can only find gp after unlockf runs,
  // which is after our context is saved.
  gp->status.store(gstatus::waiting, std::memory_order_relaxed);
  switch_from_g(mp, gp, unlockf, arg);
}

void goready(g* gp) {
  GORO_INVARIANT(gp->status.load(std::memory_order_relaxed) == gstatus::waiting,
                 "GStatus: goready: goroutine %llu is %s, want waiting",
                 (unsigned long long)gp->goid,
                 gstatus_name(gp->status.load(std::memory_order_relaxed)));
  gp->status.store(gstatus::runnable, std::memory_order_relaxed);
  runtime& rt = *gp->rt;
  m* mp = getm();
  if (mp && mp->p_ && mp->rt == &rt) {
    runqput(rt, mp->p_, gp, true);
    ready_wake(rt);
  } else {
    injectg(rt, gp);
  }
}

namespace {

void gfput(runtime& rt, p* pp, g* gp);

void post_gfput(m* mp, g* prev, void*) { gfput(*mp->rt, mp->p_, prev); }

void destroy_task(g* gp) {
  task* t = gp->fn;
  gp->fn = nullptr;
  if (!t) return;
  if (gp->fn_inline) t->~task();
  else delete t;
}

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

void begin_shutdown(runtime& rt);

}  // namespace

void goexit1() {
  m* mp = getm();
  g* gp = mp->curg;
  runtime& rt = *mp->rt;
  destroy_task(gp);
  gp->status.store(gstatus::dead, std::memory_order_relaxed);
  bump(mp->p_->nfinished);
  if (gp->is_main) begin_shutdown(rt);
  switch_from_g(mp, gp, post_gfput, nullptr);
  fatal("goexit1: a dead goroutine was resumed");
}

// ---------------------------------------------------------------------------
// G allocation and free lists (Go's gfget/gfput).

namespace {

constexpr std::int32_t gfree_local_max = 64;
constexpr std::int32_t gfree_global_stack_max = 1024;

// Caller holds sched.lock.
void gfput_global_locked(runtime& rt, g* gp) {
  gp->schedlink = rt.sched.gfree;
  rt.sched.gfree = gp;
  rt.sched.ngfree.store(rt.sched.ngfree.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
}

void gfput(runtime& rt, p* pp, g* gp) {
  gp->ctx = nullptr;  // restarts from g_entry when reused
  // TSan keeps megabytes of trace per fiber: only started, live Gs hold one.
  // (We are already off gp's fiber: gfput runs after the switch.)
  san_destroy(gp->san);
  gp->is_main = false;
  gp->schedlink = pp->gfree;
  pp->gfree = gp;
  if (++pp->gfreecnt < gfree_local_max) return;
  // Move half to the global list. Past a global cap, dead Gs give their
  // stacks back, so a burst of a million goroutines does not pin a million
  // stacks forever.
  rt.sched.lock.lock();
  while (pp->gfreecnt > gfree_local_max / 2) {
    g* g1 = pp->gfree;
    pp->gfree = g1->schedlink;
    pp->gfreecnt--;
    if (rt.sched.ngfree.load(std::memory_order_relaxed) >= gfree_global_stack_max && g1->stk) {
      rt.stacks.release(g1->stk);
      g1->stk = {};
    }
    gfput_global_locked(rt, g1);
  }
  rt.sched.lock.unlock();
}

// Caller holds sched.lock.
g* gfget_global_locked(runtime& rt) {
  g* gp = rt.sched.gfree;
  if (gp) {
    rt.sched.gfree = gp->schedlink;
    rt.sched.ngfree.store(rt.sched.ngfree.load(std::memory_order_relaxed) - 1,
                          std::memory_order_relaxed);
  }
  return gp;
}

g* gfget(runtime& rt, p* pp) {
  // Peek without the lock; a stale count only costs a lock round trip.
  if (!pp->gfree && rt.sched.ngfree.load(std::memory_order_relaxed) > 0) {
    rt.sched.lock.lock();
    while (pp->gfreecnt < gfree_local_max / 2) {
      g* g1 = gfget_global_locked(rt);
      if (!g1) break;
      g1->schedlink = pp->gfree;
      pp->gfree = g1;
      pp->gfreecnt++;
    }
    rt.sched.lock.unlock();
  }
  g* gp = pp->gfree;
  if (gp) {
    pp->gfree = gp->schedlink;
    pp->gfreecnt--;
  }
  return gp;
}

g* malg(runtime& rt) {
  g* gp = new g;
  gp->rt = &rt;
  gp->status.store(gstatus::dead, std::memory_order_relaxed);
  std::lock_guard lk(rt.allg_mu);
  rt.allgs.push_back(gp);
  return gp;
}

std::uint64_t newgoid(runtime& rt, p* pp) {
  constexpr std::uint64_t batch = 16;
  if (!pp) return rt.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
  if (pp->goidcache == pp->goidcacheend) {
    pp->goidcache = rt.goidgen.fetch_add(batch, std::memory_order_relaxed) + 1;
    pp->goidcacheend = pp->goidcache + batch;
  }
  return pp->goidcache++;
}

std::int64_t live_goroutines_racy(runtime& rt) {
  std::int64_t n = rt.nretired_created.load(std::memory_order_relaxed) -
                   rt.nretired_finished.load(std::memory_order_relaxed);
  std::uint32_t procs = rt.gomaxprocs.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < procs; i++) {
    p* pp = rt.allp[i].load(std::memory_order_relaxed);
    n += static_cast<std::int64_t>(pp->ncreated.load(std::memory_order_relaxed)) -
         static_cast<std::int64_t>(pp->nfinished.load(std::memory_order_relaxed));
  }
  return n;
}

// With guarded stacks every live goroutine may need two kernel maps; refuse
// a new one in go() (where the caller can handle it) rather than failing to
// map a stack later in the scheduler. Checked every 64 spawns per P, with the
// slack reserved in the budget.
constexpr std::uint32_t budget_check_every = 64;

void check_guarded_budget(runtime& rt, p* pp) {
  if (!rt.stacks.guarded()) return;
  if (pp && ++pp->spawn_since_budget_check < budget_check_every) return;
  if (pp) pp->spawn_since_budget_check = 0;
  std::int64_t live = live_goroutines_racy(rt);
  if (live < static_cast<std::int64_t>(rt.guarded_budget)) return;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "goro::go: %lld goroutines are live and each guarded stack costs 2 of the "
                "kernel's vm.max_map_count memory maps (room for about %zu here); set "
                "goro::options::stack_guard=false for pooled unguarded stacks (millions of "
                "goroutines), or raise vm.max_map_count",
                static_cast<long long>(live), rt.guarded_budget);
  throw std::system_error(std::make_error_code(std::errc::not_enough_memory), buf);
}

}  // namespace

newg_handle newg_begin(std::size_t size, std::size_t align) {
  m* mp = getm();
  runtime* rt = nullptr;
  p* pp = nullptr;
  if (mp && mp->p_) {
    rt = mp->rt;
    pp = mp->p_;
  } else {
    rt = acquire_active();  // released in newg_commit / newg_abort
    if (!rt)
      throw std::logic_error(
          "goro::go: no goro runtime is running (start goroutines inside goro::run, or "
          "from another thread while it runs)");
  }
  g* gp = nullptr;
  try {
    check_guarded_budget(*rt, pp);
    if (pp) gp = gfget(*rt, pp);
    if (!gp) {
      rt->sched.lock.lock();
      gp = gfget_global_locked(*rt);
      rt->sched.lock.unlock();
    }
    if (!gp) gp = malg(*rt);
    if (size <= g_inline_task_bytes && align <= alignof(std::max_align_t)) {
      gp->fn_inline = true;
      return {gp, gp->storage};
    }
    gp->fn_inline = false;
    return {gp, ::operator new(size, std::align_val_t(align))};
  } catch (...) {
    if (gp) {
      rt->sched.lock.lock();
      gfput_global_locked(*rt, gp);
      rt->sched.lock.unlock();
    }
    if (!pp) rt->release();
    throw;
  }
}

void newg_abort(newg_handle h) noexcept {
  g* gp = h.gp;
  runtime& rt = *gp->rt;
  if (!gp->fn_inline) ::operator delete(h.storage);
  rt.sched.lock.lock();
  gfput_global_locked(rt, gp);
  rt.sched.lock.unlock();
  m* mp = getm();
  if (!(mp && mp->p_ && mp->rt == &rt)) rt.release();
}

void newg_commit(newg_handle h, task* t) {
  g* gp = h.gp;
  runtime& rt = *gp->rt;
  gp->fn = t;
  m* mp = getm();
  if (mp && mp->p_ && mp->rt == &rt) {
    p* pp = mp->p_;
    gp->goid = newgoid(rt, pp);
    gp->status.store(gstatus::runnable, std::memory_order_relaxed);
    bump(pp->ncreated);
    // Go's newproc: the new G goes to runnext and runs next on this P.
    runqput(rt, pp, gp, true);
    ready_wake(rt);
    return;
  }
  gp->goid = newgoid(rt, nullptr);
  gp->status.store(gstatus::runnable, std::memory_order_relaxed);
  rt.nretired_created.fetch_add(1, std::memory_order_relaxed);
  injectg(rt, gp);
  rt.release();
}

// ---------------------------------------------------------------------------
// Stop the world and procresize (gomaxprocs).

namespace {

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

// Empties a P that is leaving (procresize shrinking): its queued Gs go to the
// head of the global queue in their order, runnext first, so none is lost
// (invariant NoGLost) and they run before later arrivals.
void destroy_p_locked(runtime& rt, p* pp) {
  std::uint32_t h = pp->runqhead.load(std::memory_order_relaxed);
  std::uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
  while (t != h) {
    t--;
    globrunqputhead(rt, pp->runq[t % runq_capacity].load(std::memory_order_relaxed));
  }
  pp->runqtail.store(t, std::memory_order_relaxed);
  if (g* next = pp->runnext.exchange(nullptr, std::memory_order_relaxed))
    globrunqputhead(rt, next);
  while (g* gp = pp->gfree) {
    pp->gfree = gp->schedlink;
    gfput_global_locked(rt, gp);
  }
  pp->gfreecnt = 0;
  rt.nretired_created.fetch_add(static_cast<std::int64_t>(pp->ncreated.exchange(0)));
  rt.nretired_finished.fetch_add(static_cast<std::int64_t>(pp->nfinished.exchange(0)));
  pp->status.store(pstatus::stopped, std::memory_order_relaxed);
}

}  // namespace

void stop_the_world(m* mp) {
  runtime& rt = *mp->rt;
  schedt& s = rt.sched;
  s.lock.lock();
  s.stopwait = static_cast<std::int32_t>(rt.gomaxprocs.load(std::memory_order_relaxed));
  s.gcwaiting.store(true, std::memory_order_release);
  mp->p_->status.store(pstatus::stopped, std::memory_order_relaxed);
  s.stopwait--;
  while (p* pp = pidleget(rt)) {
    pp->status.store(pstatus::stopped, std::memory_order_relaxed);
    s.stopwait--;
  }
  bool wait = s.stopwait > 0;
  s.lock.unlock();
  // The other Ps stop at their Ms' next scheduling point (gcstopm); the last
  // one wakes us. A goroutine that never reaches one holds this up (until
  // preemption exists, issue 4).
  if (wait) {
    s.stopnote.sleep();
    s.stopnote.clear();
  }
  GORO_INVARIANT(s.stopwait == 0, "stop_the_world: stopwait %d", s.stopwait);
}

void start_the_world(m* mp, unsigned nprocs) {
  runtime& rt = *mp->rt;
  schedt& s = rt.sched;
  std::vector<p*> runnable;
  s.lock.lock();
  std::uint32_t old = rt.gomaxprocs.load(std::memory_order_relaxed);
  for (std::uint32_t i = old; i < nprocs; i++) {
    if (!rt.allp[i].load(std::memory_order_relaxed)) {
      p* pp = new p;
      pp->id = static_cast<std::int32_t>(i);
      rt.allp[i].store(pp, std::memory_order_release);
    }
  }
  for (std::uint32_t i = nprocs; i < old; i++) destroy_p_locked(rt, rt.allp[i]);
  p* cur = mp->p_;
  if (static_cast<std::uint32_t>(cur->id) >= nprocs) {
    // Our own P is going away; continue on P0.
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
    if (runqempty(pp)) pidleput(rt, pp);
    else runnable.push_back(pp);
  }
  s.gcwaiting.store(false, std::memory_order_release);
  s.lock.unlock();
  for (p* pp : runnable) startm(rt, pp, false);
  // Work may also wait in the global queue (moved from removed Ps).
  ready_wake(rt);
}

// ---------------------------------------------------------------------------
// Runtime lifetime: run_main, shutdown, the active runtime.

namespace {

std::mutex active_mu;
runtime* active = nullptr;

void begin_shutdown(runtime& rt) {
  // Give up the active slot first: once `stopping` is set, m0 may return from
  // run() at any moment, and the caller may call run() again at once.
  {
    std::lock_guard lk(active_mu);
    if (active == &rt) active = nullptr;
  }
  rt.sched.lock.lock();
  rt.stopping.store(true, std::memory_order_release);
  for (m* mp = rt.sched.midle; mp; mp = mp->schedlink) mp->park.wakeup();
  rt.sched.midle = nullptr;
  rt.sched.nmidle = 0;
  rt.sched.lock.unlock();
}

unsigned procs_from_env_or_hw() {
  if (const char* env = std::getenv("GORO_MAXPROCS"); env && *env) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(env, &end, 10);
    if (errno || *end || v < 1 || v > max_procs)
      throw std::invalid_argument(std::string("goro::run: environment variable GORO_MAXPROCS=\"") +
                                  env + "\" is invalid: must be a whole number in 1.." +
                                  std::to_string(max_procs));
    return static_cast<unsigned>(v);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? std::min(hw, max_procs) : 1;
}

options validate(options o, unsigned& nprocs) {
  if (o.procs > max_procs)
    throw std::invalid_argument("goro::options::procs = " + std::to_string(o.procs) +
                                ": must be in 0.." + std::to_string(max_procs) +
                                " (0: GORO_MAXPROCS or the hardware thread count)");
  constexpr std::size_t min_stack = 16 * 1024, max_stack = std::size_t(1) << 30;
  if (o.stack_size < min_stack || o.stack_size > max_stack)
    throw std::invalid_argument("goro::options::stack_size = " + std::to_string(o.stack_size) +
                                ": must be in " + std::to_string(min_stack) + ".." +
                                std::to_string(max_stack) + " bytes");
  std::size_t ps = stack_allocator::page_size();
  o.stack_size = (o.stack_size + ps - 1) / ps * ps;
  nprocs = o.procs ? o.procs : procs_from_env_or_hw();
  return o;
}

struct main_task final : task {
  main_ref ref;
  explicit main_task(main_ref r) : ref(r) {}
  void invoke() override { ref.call(ref.obj); }
};

}  // namespace

runtime* acquire_active() {
  std::lock_guard lk(active_mu);
  if (active) active->retain();
  return active;
}

runtime::runtime(const options& o, unsigned nprocs)
    : opts(o), stacks(o.stack_size, o.stack_guard) {
  if (o.stack_guard) {
    // Keep maps for everything else the process needs (threads' own stacks,
    // libraries, malloc arenas), and the slack of the every-64-spawns check.
    std::size_t room = stack_allocator::guarded_stack_budget();
    std::size_t reserve = 1024 + budget_check_every * nprocs;
    guarded_budget = room > reserve ? room - reserve : 0;
  }
  (void)nprocs;
}

runtime::~runtime() {
  for (g* gp : allgs) {
    // Abandoned goroutines: their frames are discarded without unwinding
    // (as Go's exit does); their closures and stacks are freed here.
    destroy_task(gp);
    san_destroy(gp->san);
    stacks.release(gp->stk);
    delete gp;
  }
  for (std::uint32_t i = 0; i < max_procs; i++) delete allp[i].load(std::memory_order_relaxed);
  for (m* mp : allm) delete mp;
}

void run_main(main_ref main, const options& opts_in) {
  unsigned nprocs = 0;
  options opts = validate(opts_in, nprocs);
  if (getm())
    throw std::logic_error(
        "goro::run: called from a goroutine or a runtime thread; a runtime is already "
        "running here");
  auto* rt = new runtime(opts, nprocs);
  {
    std::lock_guard lk(active_mu);
    if (active) {
      delete rt;
      throw std::logic_error(
          "goro::run: another goro runtime is already running in this process; wait for "
          "its run() to return");
    }
    active = rt;
  }
  m* m0 = allocm(*rt);
  rt->m0 = m0;
  rt->allm.push_back(m0);
  rt->sched.mcount = 1;
  setm(m0);
  m0->thread_eh = thread_eh_state();
  san_adopt_thread(m0->g0san);

  // Ps: P0 goes to m0, the others start idle.
  for (unsigned i = 0; i < nprocs; i++) {
    p* pp = new p;
    pp->id = static_cast<std::int32_t>(i);
    rt->allp[i].store(pp, std::memory_order_relaxed);
  }
  rt->gomaxprocs.store(nprocs, std::memory_order_relaxed);
  compute_coprimes(*rt, nprocs);
  p* p0 = rt->allp[0].load(std::memory_order_relaxed);
  p0->status.store(pstatus::idle, std::memory_order_relaxed);
  acquirep(m0, p0);
  rt->sched.lock.lock();
  for (unsigned i = nprocs; i-- > 1;) pidleput(*rt, rt->allp[i].load(std::memory_order_relaxed));
  rt->sched.lock.unlock();

  // The main goroutine: id 1, counted on P0.
  g* mg = malg(*rt);
  mg->is_main = true;
  rt->goidgen.store(1, std::memory_order_relaxed);
  mg->goid = 1;
  static_assert(sizeof(main_task) <= g_inline_task_bytes);
  mg->fn = new (mg->storage) main_task(main);
  mg->fn_inline = true;
  mg->status.store(gstatus::runnable, std::memory_order_relaxed);
  rt->main_g = mg;
  bump(p0->ncreated);
  runqput(*rt, p0, mg, false);

  schedule_loop(m0);

  setm(nullptr);
  std::exception_ptr exc = rt->main_exc;
  rt->main_exc = nullptr;
  rt->release();
  if (exc) std::rethrow_exception(exc);
}

std::int64_t num_goroutine_locked(runtime& rt) { return live_goroutines_racy(rt); }

}  // namespace goro::detail

// ---------------------------------------------------------------------------
// Public API.

namespace goro {

using namespace detail;

void yield() {
  m* mp = getm();
  if (!mp || !mp->curg) {
    std::this_thread::yield();
    return;
  }
  gosched();
}

unsigned gomaxprocs(unsigned n) {
  m* mp = getm();
  runtime* rt = mp ? mp->rt : acquire_active();
  if (!rt) return 0;
  unsigned cur = rt->gomaxprocs.load(std::memory_order_acquire);
  if (!mp) rt->release();
  if (n == 0) return cur;
  if (n > max_procs)
    throw std::invalid_argument("goro::gomaxprocs(" + std::to_string(n) + "): must be in 1.." +
                                std::to_string(max_procs) + " (0 only reads the value)");
  if (!mp || !mp->curg)
    throw std::logic_error("goro::gomaxprocs: setting it requires a goroutine");
  // One stop-the-world at a time: world_sema parks other callers. Parking
  // may resume us on another M, so fetch the M again afterwards.
  rt->world_sema.acquire();
  mp = getm();
  stop_the_world(mp);
  // stop_the_world ran on this G's stack and did not switch, so mp is still
  // our M (nothing can migrate a G that does not yield).
  cur = rt->gomaxprocs.load(std::memory_order_relaxed);
  start_the_world(mp, n);
  rt->world_sema.release();
  return cur;
}

std::size_t num_goroutine() {
  m* mp = getm();
  runtime* rt = mp ? mp->rt : acquire_active();
  if (!rt) return 0;
  rt->sched.lock.lock();
  std::int64_t n = num_goroutine_locked(*rt);
  rt->sched.lock.unlock();
  if (!mp) rt->release();
  return n < 0 ? 0 : static_cast<std::size_t>(n);
}

std::uint64_t goid() {
  m* mp = getm();
  return mp && mp->curg ? mp->curg->goid : 0;
}

bool in_goroutine() {
  m* mp = getm();
  return mp && mp->curg;
}

}  // namespace goro
