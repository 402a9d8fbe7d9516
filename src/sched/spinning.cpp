// Waking and parking Ms (Go's "worker thread parking/unparking"): M/P
// binding, the idle lists, wakep, ready_wake, startm, newm, stopm, injectg and
// the spinning transitions.
#include "sched/internal.hpp"

#include <sys/syscall.h>
#include <unistd.h>
#include <system_error>
#include <thread>

#include "context/overflow.hpp"
#include "sched/chaos.hpp"
#include "sim/controller.hpp"
#include "sysmon/sysmon.hpp"

namespace goro::detail {

void acquirep(m* mp, p* pp, bool trace_start) {
  GORO_INVARIANT(mp->p_ == nullptr, "OneMPerP: acquirep: M%lld already holds P%d",
                 (long long)mp->id, mp->p_ ? mp->p_->id : -1);
  GORO_INVARIANT(pp->m_.load(std::memory_order_relaxed) == nullptr,
                 "OneMPerP: acquirep: P%d already held by M%lld", pp->id,
                 pp->m_.load(std::memory_order_relaxed)
                     ? (long long)pp->m_.load(std::memory_order_relaxed)->id
                     : -1LL);
  GORO_INVARIANT(pp->status.load(std::memory_order_relaxed) == pstatus::idle,
                 "PStatus: acquirep: P%d is %s, want idle", pp->id,
                 pstatus_name(pp->status.load(std::memory_order_relaxed)));
  mp->p_ = pp;
  // release: sysmon reads m_ with acquire and then m::tid.
  pp->m_.store(mp, std::memory_order_release);
  pp->status.store(pstatus::running, std::memory_order_relaxed);
  if constexpr (sim) simulator::trace_p(simulator::pev::acquire, pp, mp);
  if (trace_start) trace::proc_start(pp);
}

p* releasep(m* mp) {
  p* pp = mp->p_;
  GORO_INVARIANT(pp != nullptr, "OneMPerP: releasep: M%lld holds no P", (long long)mp->id);
  GORO_INVARIANT(pp->m_.load(std::memory_order_relaxed) == mp,
                 "OneMPerP: releasep: P%d held by another M", pp->id);
  trace::proc_stop(pp);
  pp->m_.store(nullptr, std::memory_order_relaxed);
  mp->p_ = nullptr;
  pp->status.store(pstatus::idle, std::memory_order_relaxed);
  if constexpr (sim) simulator::trace_p(simulator::pev::release, pp, mp);
  return pp;
}

// The idle list's protocol half (npidle, needspinning) is sched/spinning.hpp's;
// the list itself is sched_env's (internal.hpp).
void pidleput(runtime& rt, sched_locked& l, p* pp) {
  sched_env env{rt};
  spin::pidleput(env, l, pp);
}

p* pidleget(runtime& rt, sched_locked& l) {
  sched_env env{rt};
  return spin::pidleget(env, l);
}

p* pidleget_spinning(runtime& rt, sched_locked& l) {
  sched_env env{rt};
  return spin::pidleget_spinning(env, l);
}

void mput(sched_locked& l, m* mp) {
  mp->schedlink = l.midle;
  l.midle = mp;
  l.nmidle++;
}

m* mget(sched_locked& l) {
  m* mp = l.midle;
  if (mp) {
    l.midle = mp->schedlink;
    mp->schedlink = nullptr;
    l.nmidle--;
  }
  return mp;
}

void mstart(m* mp) {
  signal_stack altstack;  // for the SIGSEGV overflow report while this M runs Gs
  setm(mp);
  mp->tid = static_cast<int>(syscall(SYS_gettid));
  mp->sigmask = thread_sigmask();
  mp->thread_eh = thread_eh_state();
  san_adopt_thread(mp->g0san);
  if (p* pp = mp->nextp) {
    mp->nextp = nullptr;
    acquirep(mp, pp);
  }
  schedule_loop(mp);
  msched_leave(*mp->rt);
  setm(nullptr);
  mp->rt->release();
}

namespace {

m* allocm(runtime& rt) {
  m* mp = new m;
  mp->rt = &rt;
  mp->id = rt.mnext.fetch_add(1, std::memory_order_relaxed);
  // sim: from the session seed, not from the M's (ASLR-dependent) address.
  if constexpr (sim) mp->fastrand = simulator::fastrand_seed(mp->id);
  else mp->fastrand = fastrand_seed(mp, mp->id);
  return mp;
}

}  // namespace

void newm(runtime& rt, p* pp, bool spinning) {
  m* mp = allocm(rt);
  mp->nextp = pp;
  mp->spinning = spinning;
  // The claim (counted by the caller) is now this M's (trace: HandSpin).
  if constexpr (sim)
    if (spinning) simulator::trace_p(simulator::pev::handspin, pp, mp);
  std::int32_t mcount;
  {
    sched_guard l(rt.sched);
    if (static_cast<unsigned>(l->mcount) >= rt.opts.max_threads) {
      // Go's "program exceeds N-thread limit": most often goroutines piling
      // up in blocking calls. Nothing sensible can continue without the M.
      fatal("program exceeds the %u-thread limit (goro::options::max_threads): %d Ms exist, "
            "most likely goroutines blocked in goro::blocking() calls; raise max_threads or "
            "block fewer goroutines at once",
            rt.opts.max_threads, l->mcount);
    }
    mcount = ++l->mcount;
    l->allm.push_back(mp);
  }
  // In the scheduler from now on (msched_leave when its loop ends); counted
  // before the thread starts, so run_main never sees an M in between.
  rt.nmsched.fetch_add(1, std::memory_order_seq_cst);
  rt.retain();  // released by the thread when it exits
  // On a thread a locked goroutine may have tainted (its M, waiting for it
  // or retiring after it), the template thread makes the clone (Go's
  // newmHandoff); lock_os_thread started it before locking (none: only at
  // shutdown, and this M exits at once).
  if (m* cur = getm_unchecked();
      cur && (cur->lockedg.load(std::memory_order_relaxed) || cur->mexit)) [[unlikely]] {
    if (newm_handoff(rt, mp)) return;
  }
  try {
    // Not kept in the M: the thread may run, exit at shutdown and free the
    // runtime (and this M) before an assignment here would complete.
    // sim: the thread takes part in the simulation (ids by creation order).
    if constexpr (sim) simulator::spawn_thread(mstart, mp).detach();
    else std::thread(mstart, mp).detach();
  } catch (const std::system_error& e) {
    fatal("cannot create an OS thread for a new M (%d Ms exist): %s", mcount, e.what());
  }
}

void startm(runtime& rt, p* pp, bool spinning) {
  sched_guard l(rt.sched);
  if (!pp) {
    pp = pidleget(rt, *l);
    if (!pp) {
      l.unlock();
      // The caller claimed a spinning slot for this M, but no P is idle:
      // undo the claim (Go's startm does the same).
      if (spinning) drop_spinning(rt, "startm");
      return;
    }
  }
  m* nmp = mget(*l);
  l.unlock();
  GORO_CHAOS_AT(chaos_site::startm_handoff);  // P taken off the idle list, M not yet woken
  if (!nmp) {
    newm(rt, pp, spinning);
    return;
  }
  GORO_INVARIANT(nmp->nextp == nullptr, "startm: idle M%lld already has a P", (long long)nmp->id);
  nmp->spinning = spinning;
  if constexpr (sim)
    if (spinning) simulator::trace_p(simulator::pev::handspin, pp, nmp);
  nmp->nextp = pp;
  nmp->park.wakeup();  // release: nextp and spinning are seen by the woken M
}

void wakep(runtime& rt) {
  sched_env env{rt};
  spin::wakep(env);
}

namespace {

void inject(runtime& rt, g* gp, bool newproc) {
  // Not sloppy, as Go's injectglist: the put and the idle-P check happen under
  // sched.lock, and an M releases its P only after checking the global queue
  // under the same lock, so either we see its idle P or it sees our G.
  p* pp;
  {
    sched_guard l(rt.sched);
    if (newproc) {
      casgstatus(gp, gstatus::dead, gstatus::runnable, "newproc (foreign thread)");
      rt.nretired_created.fetch_add(1, std::memory_order_relaxed);
    }
    globrunqput(rt, *l, gp);
    pp = pidleget(rt, *l);
  }
  if (pp) startm(rt, pp, false);
}

}  // namespace

void injectg(runtime& rt, g* gp) { inject(rt, gp, false); }

void injectg_newproc(runtime& rt, g* gp) { inject(rt, gp, true); }

// The spinning transitions: the protocol (their list, their orders) is
// sched/spinning.hpp's; these instantiate it for the runtime.

bool claim_spinning(runtime& rt) {
  sched_env env{rt};
  return spin::claim_spinning(env);
}

void resetspinning(m* mp) {
  sched_env env{*mp->rt};
  spin::resetspinning(env, mp);
}

void drop_spinning(runtime& rt, const char* where) {
  sched_env env{rt};
  spin::drop_spinning(env, where);
}

// Parks mp until startm hands it a P. Returns false if the runtime is
// shutting down instead (the M then leaves its loop).
bool stopm(m* mp) {
  runtime& rt = *mp->rt;
  GORO_INVARIANT(mp->p_ == nullptr, "stopm: M%lld still holds P%d", (long long)mp->id, mp->p_->id);
  std::exception_ptr dead;
  {
    sched_guard l(rt.sched);
    if (rt.stopping.load(std::memory_order_relaxed)) return false;
    mput(*l, mp);
    // PHandoff's mpc "parked" (trace: StopM).
    if constexpr (sim) simulator::trace_p(simulator::pev::stopm, nullptr, mp);
    dead = checkdead(rt, *l);
  }
  if (dead) {
    // run() rethrows it once m0 leaves its loop; begin_shutdown's release
    // store of `stopping` publishes it (m0 reads it after an acquire load).
    // Moved, not copied: this M must keep no reference, or its release of
    // it could race with m0's reading the exception (the refcount lives in
    // uninstrumented libstdc++, so ThreadSanitizer cannot see it order).
    rt.main_exc = std::move(dead);
    begin_shutdown(rt);
  }
  mp->park.sleep();
  mp->park.clear();
  if (rt.stopping.load(std::memory_order_acquire)) return false;
  p* pp = mp->nextp;
  mp->nextp = nullptr;
  GORO_INVARIANT(pp != nullptr, "stopm: M%lld woken without a P", (long long)mp->id);
  acquirep(mp, pp);
  return true;
}

}  // namespace goro::detail
