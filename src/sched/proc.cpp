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
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <typeinfo>

#include "context/overflow.hpp"
#include "goro/deadlock.hpp"
#include "sched/audit.hpp"
#include "sched/chaos.hpp"
#include "sync/park.hpp"
#include "sysmon/sysmon.hpp"

namespace goro::detail {

// ---------------------------------------------------------------------------
// Thread-local M and fatal errors.

// initial-exec: the SIGURG handler (src/sysmon/preempt.cpp) reads both, and
// only a static TLS model is async-signal-safe (no lazy allocation).
__attribute__((tls_model("initial-exec"))) thread_local m* tls_m = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local g* tls_g = nullptr;

// noinline + an asm memory clobber: the compiler may neither inline these nor
// treat them as pure, so every call re-reads the thread pointer of the
// thread it is running on now (a G may have migrated since the last call).
__attribute__((noinline)) g* getg() {
  asm volatile("" ::: "memory");
  return tls_g;
}
__attribute__((noinline)) m* getm() {
  asm volatile("" ::: "memory");
#ifdef GORO_CHECK_INVARIANTS
  // A goroutine may use its M only where it cannot be moved to another one
  // behind its back (see nopreempt). Checked even with async_preempt off, so
  // a missing guard shows up in every test run, not only in a rare race.
  if (g* gp = tls_g; gp && gp->preemptoff.load(std::memory_order_relaxed) == 0)
    fatal("invariant violated: NoPreemptGetM: goroutine %llu called getm() outside a "
          "nopreempt region",
          (unsigned long long)gp->goid);
#endif
  return tls_m;
}
// getm without the NoPreemptGetM check, for the SIGURG handler, which
// runs between any two instructions of the goroutine it interrupted.
__attribute__((noinline)) m* getm_unchecked() {
  asm volatile("" ::: "memory");
  return tls_m;
}
__attribute__((noinline)) void setm(m* mp) {
  asm volatile("" ::: "memory");
  tls_m = mp;
}

namespace {
void exitsyscall_implicit(g* gp) noexcept;
// errno is a thread-local of the M. Out of line, so that each call asks
// __errno_location() afresh: the compiler may not reuse one thread's errno
// address after a switch that resumed us on another thread.
__attribute__((noinline)) int errno_get() { return errno; }
__attribute__((noinline)) void errno_set(int e) { errno = e; }
}  // namespace

// The counter is only touched by the G's own thread and by a signal handler
// interrupting that thread, so relaxed accesses are enough for atomicity;
// the signal fences keep the compiler from moving the guarded code across
// the increment and decrement as seen by that handler.
nopreempt::nopreempt() noexcept : gp(getg()) {
  if (gp) {
    std::uint32_t off = gp->preemptoff.load(std::memory_order_relaxed);
    gp->preemptoff.store(off + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    // The outermost runtime entry of a G whose M the SIGURG handler detached
    // from its P (a thread blocked on a lock another G held): take a P back
    // first, as at the end of a blocking call. Nothing of the runtime is in
    // use yet (this is the outermost guard and no runtime lock is held), so
    // the switch exitsyscall may make is as safe as a preemption here.
    if (off == 0 && gp->exitsyscall_pending.load(std::memory_order_relaxed)) [[unlikely]]
      exitsyscall_implicit(gp);
  }
}
nopreempt::~nopreempt() {
  if (gp) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    gp->preemptoff.store(gp->preemptoff.load(std::memory_order_relaxed) - 1,
                         std::memory_order_relaxed);
  }
}

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

const char* wait_reason_name(wait_reason r) {
  // Go's own strings, so a Go programmer reads the report at once.
  switch (r) {
    case wait_reason::zero: return "";
    case wait_reason::chan_receive: return "chan receive";
    case wait_reason::chan_send: return "chan send";
    case wait_reason::chan_receive_nil: return "chan receive (nil chan)";
    case wait_reason::chan_send_nil: return "chan send (nil chan)";
    case wait_reason::select: return "select";
    case wait_reason::select_no_cases: return "select (no cases)";
    case wait_reason::sync_mutex_lock: return "sync.Mutex.Lock";
    case wait_reason::sync_wait_group_wait: return "sync.WaitGroup.Wait";
    case wait_reason::semacquire: return "semacquire";
    case wait_reason::sleep: return "sleep";
    case wait_reason::io_wait: return "IO wait";
    case wait_reason::count_: break;
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
  GORO_INVARIANT(pp->m_.load(std::memory_order_relaxed) == nullptr,
                 "OneMPerP: acquirep: P%d already held by M%lld", pp->id,
                 pp->m_.load() ? (long long)pp->m_.load()->id : -1LL);
  GORO_INVARIANT(pp->status.load(std::memory_order_relaxed) == pstatus::idle,
                 "PStatus: acquirep: P%d is %s, want idle", pp->id,
                 pstatus_name(pp->status.load(std::memory_order_relaxed)));
  mp->p_ = pp;
  // release: sysmon reads m_ with acquire and then m::tid.
  pp->m_.store(mp, std::memory_order_release);
  pp->status.store(pstatus::running, std::memory_order_relaxed);
}

p* releasep(m* mp) {
  p* pp = mp->p_;
  GORO_INVARIANT(pp != nullptr, "OneMPerP: releasep: M%lld holds no P", (long long)mp->id);
  GORO_INVARIANT(pp->m_.load(std::memory_order_relaxed) == mp,
                 "OneMPerP: releasep: P%d held by another M", pp->id);
  pp->m_.store(nullptr, std::memory_order_relaxed);
  mp->p_ = nullptr;
  pp->status.store(pstatus::idle, std::memory_order_relaxed);
  return pp;
}

void pidleput(runtime& rt, p* pp) {
  GORO_INVARIANT(runqempty(pp), "pidleput: P%d has queued work", pp->id);
  pp->status.store(pstatus::idle, std::memory_order_relaxed);
  pp->link = rt.sched.pidle;
  rt.sched.pidle = pp;
  pp->idle_listed.store(true, std::memory_order_relaxed);
  rt.sched.npidle.store(rt.sched.npidle.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
}

p* pidleget(runtime& rt) {
  p* pp = rt.sched.pidle;
  if (pp) {
    rt.sched.pidle = pp->link;
    pp->link = nullptr;
    pp->idle_listed.store(false, std::memory_order_relaxed);
    rt.sched.npidle.store(rt.sched.npidle.load(std::memory_order_relaxed) - 1,
                          std::memory_order_relaxed);
  }
  return pp;
}

p* pidleget_spinning(runtime& rt) {
  p* pp = pidleget(rt);
  // Work was found that no idle P can take: an M that is about to put its
  // P on the idle list without spinning must spin instead (findrunnable
  // checks this under the same lock), or the work could wait forever.
  if (!pp) rt.sched.needspinning.store(true, std::memory_order_relaxed);
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
  // Switch code on a G's stack must not be preempted: it uses the M it came
  // in on (mp) and finishes that M's pending post-switch step.
  GORO_INVARIANT(!getg() || getg()->preemptoff.load(std::memory_order_relaxed) > 0,
                 "NoPreemptSwitch: goroutine %llu finishes a switch while preemptible",
                 (unsigned long long)getg()->goid);
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
  // From here on the G runs user code: preemptible (see prepare_start).
  std::atomic_signal_fence(std::memory_order_seq_cst);
  self->preemptoff.store(0, std::memory_order_relaxed);
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
  // Not preemptible until g_entry has finished the switch that starts it:
  // after_switch uses the M it came in on and runs the post-switch step
  // left for the G we came from. Preempted in the middle, it would finish
  // on another M and run that M's pending step instead.
  gp->preemptoff.store(1, std::memory_order_relaxed);
  gp->ctx = make_fcontext(gp->stk.hi(), gp->stk.size, g_entry);
}

// Leaves the current context (G `from`, or g0 if from is null) for G `to`
// (or g0 if to is null); post(mp, from, arg) runs in `to` once we are off our
// stack. Returns when something switches back to us.
void switch_context(m* mp, g* from, g* to, post_switch_fn post, void* arg) {
  GORO_INVARIANT(!from || from->preemptoff.load(std::memory_order_relaxed) > 0,
                 "NoPreemptSwitch: goroutine %llu switches away while preemptible",
                 (unsigned long long)from->goid);
  mp->sw_from = from;
  mp->sw_post = post;
  mp->sw_arg = arg;
  // The same words as a fault in a guard region (context/overflow.cpp).
  if (from && !mp->rt->stacks.guarded() && !stack_allocator::canary_ok(from->stk))
    stack_overflow(from->goid, from->stk.size);
  fiber_san& fs = from ? from->san : mp->g0san;
  fiber_san& ts = to ? to->san : mp->g0san;
  bool dying = from && from->status.load(std::memory_order_relaxed) == gstatus::dead;
  san_before_switch(fs, ts, dying);
  eh_switch(mp->thread_eh, from ? from->eh : mp->g0eh, to ? to->eh : mp->g0eh);
  // The context we enter runs on this thread: it is this thread's G now.
  // Written in place (no call): nothing in this function touches TLS after
  // the jump, which may return on another thread.
  tls_g = to;
  transfer_t t = jump_fcontext(to ? to->ctx : mp->g0ctx, mp);
  after_switch(t, fs);
}

// True when the G-side fast path must not pick the next G itself: the world
// is stopping, shutting down, or it is the 61st tick and the global queue
// deserves a turn (findrunnable does that on g0).
bool wants_g0(runtime& rt, p* pp) {
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
// holder writes schedtick; sysmon reads it.
void new_slice(p* pp) {
  pp->schedtick.store(pp->schedtick.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
  clear_preempt(pp);
}

// The G-side fast path's second half: run r.gp (just taken from our own
// queue) in place of gp. Inlined into gosched, the hottest caller.
__attribute__((always_inline)) inline void switch_to_local(m* mp, g* gp, runq_result r,
                                                           post_switch_fn post, void* arg) {
  p* pp = mp->p_;
  if (!r.inherit_time) new_slice(pp);
  bump(pp->stat.schedules);
  prepare_start(*mp->rt, r.gp);
  casgstatus(r.gp, gstatus::runnable, gstatus::running, "execute (G-side)");
  mp->curg = r.gp;
  switch_context(mp, gp, r.gp, post, arg);
}

// Switches away from the running G `gp`: straight to the next G of this P if
// there is one (fast path), else to g0. post/arg as in switch_context.
void switch_from_g(m* mp, g* gp, post_switch_fn post, void* arg) {
  if (!wants_g0(*mp->rt, mp->p_)) {
    if (runq_result r = runqget(mp->p_); r.gp) {
      switch_to_local(mp, gp, r, post, arg);
      return;
    }
  }
  mp->curg = nullptr;
  switch_context(mp, gp, nullptr, post, arg);
}

void execute(m* mp, g* gp, bool inherit_time) {
  runtime& rt = *mp->rt;
  if (!inherit_time) new_slice(mp->p_);
  bump(mp->p_->stat.schedules);
  prepare_start(rt, gp);
  GORO_INVARIANT(gp->status.load(std::memory_order_relaxed) == gstatus::runnable,
                 "GStatus: execute: goroutine %llu is %s, want runnable",
                 (unsigned long long)gp->goid,
                 gstatus_name(gp->status.load(std::memory_order_relaxed)));
  casgstatus(gp, gstatus::runnable, gstatus::running, "execute");
  mp->curg = gp;
  switch_context(mp, nullptr, gp, nullptr, nullptr);
}

}  // namespace

// ---------------------------------------------------------------------------
// Waking Ms: wakep, startm, newm, stopm, injectg.

namespace {

// mp leaves the scheduler: its loop ended, or its G entered a blocking
// call. The M that empties the count while the runtime is stopping wakes
// run_main, which waits for that. seq_cst, both: a Dekker pair with
// begin_shutdown's store of `stopping` before run_main's load of nmsched:
// either we see `stopping` and wake run_main, or run_main sees our
// decrement.
void msched_leave(runtime& rt) {
  if (rt.nmsched.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      rt.stopping.load(std::memory_order_seq_cst))
    rt.shutdown_note.wakeup();
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
  if (static_cast<unsigned>(rt.sched.mcount) >= rt.opts.max_threads) {
    // Go's "program exceeds N-thread limit": most often goroutines piling
    // up in blocking calls. Nothing sensible can continue without the M.
    fatal("program exceeds the %u-thread limit (goro::options::max_threads): %d Ms exist, "
          "most likely goroutines blocked in goro::blocking() calls; raise max_threads or "
          "block fewer goroutines at once",
          rt.opts.max_threads, rt.sched.mcount);
  }
  rt.sched.mcount++;
  rt.allm.push_back(mp);
  rt.sched.lock.unlock();
  // In the scheduler from now on (msched_leave when its loop ends); counted
  // before the thread starts, so run_main never sees an M in between.
  rt.nmsched.fetch_add(1, std::memory_order_seq_cst);
  rt.retain();  // released by the thread when it exits
  try {
    // Not kept in the M: the thread may run, exit at shutdown and free the
    // runtime (and this M) before an assignment here would complete.
    std::thread(mstart, mp).detach();
  } catch (const std::system_error& e) {
    fatal("cannot create an OS thread for a new M (%d Ms exist): %s", rt.sched.mcount, e.what());
  }
}

void begin_shutdown(runtime& rt);

// Threads outside the runtime (options::detect_deadlock automatic).
//
// Go reports a deadlock only when no M can run Go code; with cgo it counts
// the extra Ms that C threads call in on, so a cgo program is never reported.
// goro is a library: any thread of the process may hold a chan, mutex or
// wait_group (even one started before run() that has not used it yet), and
// the runtime cannot see which. So it reports only what it can prove: the
// process has no thread besides the runtime's own (its Ms, sysmon and the
// thread waiting in run) and the declared bystanders. A thread that exists may act; a
// thread that does not exist cannot be created except by one that exists,
// and the runtime's own threads are all idle then.
//
// Bystanders (goro::deadlock_bystander): counted in nbystanders while they
// live. bystander_exits is bumped after each one's decrement, when its thread
// exits, so that a reader can tell that one may have left /proc between its
// two reads (see no_outside_threads).
std::atomic<std::int64_t> nbystanders{0};
std::atomic<std::uint64_t> bystander_exits{0};

struct bystander_registration {
  bool on = false;
  ~bystander_registration() {
    if (!on) return;
    // seq_cst, both: the decrement precedes the bump in the single total
    // order no_outside_threads reads them in.
    nbystanders.fetch_sub(1, std::memory_order_seq_cst);
    bystander_exits.fetch_add(1, std::memory_order_seq_cst);
  }
};
thread_local bystander_registration tls_bystander;

// Helper threads a sanitizer runtime starts on its own: ThreadSanitizer's
// background thread, started at the first pthread_create (sysmon's, at the
// latest). They never touch goro objects.
#ifdef GORO_TSAN
constexpr long sanitizer_threads = 1;
#else
constexpr long sanitizer_threads = 0;
#endif

// The number of threads of this process (num_threads, the 20th field of
// /proc/self/stat), or -1 if it cannot be read.
long process_threads() {
  int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  // The command name (field 2) may hold spaces and parentheses: count the
  // fields after its last ')'. Field 3 is the first.
  const char* q = std::strrchr(buf, ')');
  if (!q) return -1;
  q++;
  for (int field = 3; field < 20; field++) {
    while (*q == ' ') q++;
    while (*q && *q != ' ') q++;
    if (!*q) return -1;
  }
  char* end = nullptr;
  long v = std::strtol(q, &end, 10);
  return end == q ? -1 : v;
}

// True if no thread outside the runtime exists that could wake a goroutine.
// Caller holds sched.lock (mcount is stable). A bystander counted in `by`
// is alive when `by` is read; it can have left /proc before our read only by
// exiting in between, and then its bump of bystander_exits falls between our
// two reads of it (its decrement came after our read of nbystanders, so the
// bump comes after that too). So with both reads equal, every counted
// bystander is among the `n` threads, and n - own - by counts threads that
// may act. Threads created after our read are created by one counted there.
bool no_outside_threads(runtime& rt) {
  std::uint64_t e1 = bystander_exits.load(std::memory_order_seq_cst);
  std::int64_t by = nbystanders.load(std::memory_order_seq_cst);
  long n = process_threads();
  std::uint64_t e2 = bystander_exits.load(std::memory_order_seq_cst);
  if (n < 0 || e1 != e2) return false;  // unknown: not provable (sysmon asks again)
  // The runtime's own threads: its Ms (M0 among them), sysmon, and the
  // thread that called run, which is not an M and only waits for shutdown.
  long own = rt.sched.mcount + 1 /* sysmon */ + 1 /* run's caller */ + sanitizer_threads;
  return n <= own + by;
}

// Go's checkdead, called with sched.lock held by every M about to park
// idle. When every M is idle (none runs a goroutine, spins, blocks in a
// call or in netpoll), every P is on the idle list (none is in transit to an
// M: startm and injectg take a P off the list and wake an M for it), no
// timer is pending and no goroutine waits for the network, then nothing in
// the runtime can ever run again: every goroutine is asleep. Returns the
// report then (once: rt.deadlocked), else null.
//
// A goroutine that is runnable at that point was lost: nobody will run it
// (tla/PHandoff.tla: NoDeadlockWhileRunnable). That is a scheduler bug,
// reported as a fatal error rather than as the program's deadlock.
std::exception_ptr checkdead(runtime& rt) {
  schedt& s = rt.sched;
  if (!rt.opts.detect_deadlock || rt.deadlocked || rt.stopping.load(std::memory_order_relaxed))
    return nullptr;
#ifdef GORO_MUTANT_NO_CHECKDEAD
  return nullptr;  // Mutant: never declare a deadlock (the program hangs instead).
#endif
  if (s.mcount - s.nmidle > 0) return nullptr;
  std::int32_t procs = static_cast<std::int32_t>(rt.gomaxprocs.load(std::memory_order_relaxed));
  if (s.npidle.load(std::memory_order_relaxed) != procs) return nullptr;
  if (s.gcwaiting.load(std::memory_order_relaxed)) return nullptr;
  // Exact now: only a running goroutine changes these, and none runs.
  if (rt.netpoll.waiters.load(std::memory_order_relaxed) != 0) return nullptr;
  // A pending timer will fire (sysmon starts an M for it if nobody sleeps
  // for it).
  if (earliest_timer(rt) != 0) return nullptr;
  std::size_t counts[static_cast<std::size_t>(wait_reason::count_)] = {};
  std::size_t asleep = 0;
  g* awake = nullptr;  // a live G that is not waiting, if any
  {
    std::lock_guard lk(rt.allg_mu);
    for (g* gp : rt.allgs) {
      gstatus st = gp->status.load(std::memory_order_relaxed);
      if (st == gstatus::dead || st == gstatus::idle) continue;
      if (st != gstatus::waiting) {
        awake = gp;
        break;
      }
      counts[static_cast<std::size_t>(gp->waitreason)]++;
      asleep++;
    }
  }
  // A thread outside the runtime readies a G (goready, go()) by making it
  // runnable first and queueing it under sched.lock after (injectg): while
  // such a thread may exist, a runnable G outside every queue may be one in
  // transit, and the thread will queue it and start an M. Only when none can
  // exist was it lost. Asked in every mode: a lost G is never a deadlock.
  // With automatic detection the same question decides whether sleeping
  // goroutines are deadlocked; with always, it is asked only for `awake`.
#ifndef GORO_MUTANT_CHECKDEAD_IGNORES_THREADS
  if ((awake || rt.opts.detect_deadlock.get() == deadlock_detection::automatic) &&
      !no_outside_threads(rt)) {
#else
  // MUTANT: the rule before issue 10: threads outside the runtime are not
  // considered, so a goroutine a std::thread is about to feed is reported.
  if (false) {
#endif
    // Not provable now: sysmon asks again (checkdead_recheck).
    rt.deadlock_unproven.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  if (awake)
    fatal("checkdead: goroutine %llu is %s while every M and P is idle (a lost wake-up: "
          "nothing will ever run it)",
          (unsigned long long)awake->goid,
          gstatus_name(awake->status.load(std::memory_order_relaxed)));
  if (s.runqsize.load(std::memory_order_relaxed) != 0)
    fatal("checkdead: the global run queue holds %d goroutines while every M is idle",
          s.runqsize.load(std::memory_order_relaxed));
  if (asleep == 0) return nullptr;  // nothing alive: main is about to end the run
  // Asleep as far as the runtime can see, and with automatic detection no
  // thread outside it exists that could wake one (always: assumed).
  rt.deadlocked = true;
  std::map<std::string, std::size_t> by_reason;
  std::string what = "all goroutines are asleep - deadlock! (" + std::to_string(asleep) +
                     (asleep == 1 ? " goroutine" : " goroutines") + " parked:";
  const char* sep = " ";
  for (std::size_t i = 0; i < std::size(counts); i++) {
    if (!counts[i]) continue;
    const char* name = wait_reason_name(static_cast<wait_reason>(i));
    by_reason.emplace(name, counts[i]);
    what += sep + std::to_string(counts[i]) + " [" + name + "]";
    sep = ", ";
  }
  what += ")";
  return std::make_exception_ptr(goro::deadlock(what, std::move(by_reason)));
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
  std::exception_ptr dead = checkdead(rt);
  rt.sched.lock.unlock();
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

}  // namespace

void checkdead_recheck(runtime& rt) {
  if (!rt.deadlock_unproven.load(std::memory_order_relaxed)) return;
  rt.sched.lock.lock();
  // Cleared first: checkdead sets it again if the runtime is still asleep
  // and still not provably deadlocked; otherwise an M has woken (the next
  // stopm asks again) or the deadlock is declared now.
  rt.deadlock_unproven.store(false, std::memory_order_relaxed);
  std::exception_ptr dead = checkdead(rt);
  rt.sched.lock.unlock();
  if (dead) {
    // As in stopm: begin_shutdown's release store of `stopping` publishes
    // the exception to m0.
    rt.main_exc = std::move(dead);
    begin_shutdown(rt);
  }
}

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
  GORO_CHAOS_AT(chaos_site::startm_handoff);  // P taken off the idle list, M not yet woken
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
  p* pp = pidleget_spinning(rt);
  if (!pp) {
    rt.sched.nmspinning.fetch_sub(1);
    rt.sched.lock.unlock();
    return;
  }
  rt.sched.lock.unlock();
  startm(rt, pp, true);
}

void ready_wake(runtime& rt) {
  // With one P, held by the caller, there is no other P to start, and the G
  // just queued runs on this one: nothing can be lost.
  if (rt.gomaxprocs.load(std::memory_order_relaxed) == 1) return;
  // StoreLoad between publishing the G (runqtail store) and reading the
  // spinning state; the spinner has the matching fence in findrunnable.
  GORO_CHAOS_POINT();
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // No idle-P test here (Go 1.21): wakep makes it under sched.lock, and if
  // it finds none it sets needspinning for an M about to drop its P. A racy
  // npidle == 0 read here could miss exactly that M (tla/PHandoff.tla,
  // mutant PHandoff_no_needspinning).
  if (rt.sched.nmspinning.load(std::memory_order_relaxed) == 0) wakep(rt);
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

// Counts mp as spinning; any pending request for a spinner is now served.
void become_spinning(m* mp) {
  mp->spinning = true;
  mp->rt->sched.nmspinning.fetch_add(1);
  mp->rt->sched.needspinning.store(false, std::memory_order_relaxed);
}

void resetspinning(m* mp) {
  runtime& rt = *mp->rt;
  mp->spinning = false;
  GORO_CHAOS_AT(chaos_site::resetspinning);
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

// Runs pp's timers that are due at `now`, if any (a racy peek first, so a P
// without due timers costs one load). True if some fired.
bool run_due_timers(p* pp, std::int64_t now) {
  std::int64_t when = pp->timers.when0.load(std::memory_order_relaxed);
  return when != 0 && when <= now && run_timers(pp->timers, now) > 0;
}

// Runs the due timers of every P. True if some fired.
bool run_all_due_timers(runtime& rt) {
  std::int64_t now = nanotime();
  bool ran = false;
  std::uint32_t n = rt.gomaxprocs.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < n; i++)
    ran |= run_due_timers(rt.allp[i].load(std::memory_order_relaxed), now);
  return ran;
}

// Readies the goroutines a poll found. With a P they go to its run queue
// (runnext, the last one first: Go's injectglist puts them on the local
// queue); without one, to the global queue through goready's P-less path.
void ready_polled(netpoll_ready_list& list) {
  for (int i = 0; i < list.n; i++) ready(list.w[i]);
  list.n = 0;
}

// Polls the network without blocking, unless an M is blocked in it (it
// will see the events) or nobody waits. An optimization before stealing:
// the blocking poll and sysmon's poll are what guarantee progress.
bool netpoll_nonblocking(runtime& rt) {
  netpoller& np = rt.netpoll;
  if (np.waiters.load(std::memory_order_relaxed) == 0 ||
      np.lastpoll.load(std::memory_order_relaxed) == 0)
    return false;
  netpoll_ready_list list;
  netpoll(rt, 0, list);
  np.lastpoll.store(nanotime(), std::memory_order_relaxed);
  bool any = list.n != 0;
  ready_polled(list);
  return any;
}

// Having found no work: block in netpoll until the earliest timer (or with
// no timer, until a socket is ready, if goroutines wait for the network)
// instead of parking in stopm, if no other M already does (Go's
// findRunnable: "poll network until next timer"). Returns true with a P
// acquired if mp should look for work again, false if it should park
// (stopm) as usual.
bool block_in_netpoll(m* mp) {
  runtime& rt = *mp->rt;
  schedt& s = rt.sched;
  netpoller& np = rt.netpoll;
  std::int64_t when = earliest_timer(rt);
  if (when == 0 && np.waiters.load(std::memory_order_relaxed) == 0) return false;
  m* none = nullptr;
  if (!s.timer_sleeper.compare_exchange_strong(none, mp)) return false;
  for (;;) {
    s.timer_sleep_until.store(when == 0 ? INT64_MAX : when, std::memory_order_seq_cst);
    // StoreLoad against wake_timer_sleeper: an adder publishes its timer
    // (when0) and then reads our deadline, we publish the deadline and then
    // re-read the timers. With a fence on both sides, either the adder sees
    // a deadline later than its timer and breaks our poll, or we see its
    // timer now.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::int64_t again = earliest_timer(rt);
    if (again == 0 || (when != 0 && again >= when)) break;
    when = again;
  }
  netpoll_ready_list list;
  if (!rt.stopping.load(std::memory_order_acquire)) {
    std::int64_t delay = -1;
    if (when != 0) {
      delay = when - nanotime();
      if (delay < 0) delay = 0;
    }
    np.lastpoll.store(0, std::memory_order_relaxed);
    netpoll(rt, delay, list);
    np.lastpoll.store(nanotime(), std::memory_order_relaxed);
  }
  s.timer_sleep_until.store(0, std::memory_order_relaxed);
  s.timer_sleeper.store(nullptr, std::memory_order_release);
  if (rt.stopping.load(std::memory_order_acquire)) return false;
  // Due now, an earlier timer arrived, or sockets are ready: continue from
  // an idle P. With no idle P every P has an M, and each runs its own
  // timers; the readied goroutines go to the global queue.
  s.lock.lock();
  p* pp = pidleget(rt);
  s.lock.unlock();
  if (!pp) {
    ready_polled(list);
    return false;
  }
  acquirep(mp, pp);
  ready_polled(list);
  return true;
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
    std::int64_t now = last ? nanotime() : 0;
    for (std::uint32_t k = 0; k < n; k++, pos = (pos + inc) % n) {
      if (rt.sched.gcwaiting.load(std::memory_order_relaxed) ||
          rt.stopping.load(std::memory_order_relaxed))
        return nullptr;
      p* p2 = rt.allp[pos].load(std::memory_order_relaxed);
      if (p2 == pp) continue;
      // Last round: run the other Ps' due timers too, idle Ps included (a
      // P keeps its timers while idle). The Gs they ready land on our P.
      if (last && run_due_timers(p2, now)) {
        if (runq_result r = runqget(pp); r.gp) return r.gp;
      }
      // Skip Ps on the idle list (Go's idlepMask), not Ps whose status is
      // idle: a P retaken from a blocking call is idle by status while
      // handoffp decides, and its queue may hold work worth stealing.
      if (p2->idle_listed.load(std::memory_order_relaxed)) continue;
      GORO_CHAOS_POINT();
      // Our queue is empty and its tail is ours alone: what runqsteal adds
      // to it, plus the G it returns, is what we stole.
      std::uint32_t t0 = pp->runqtail.load(std::memory_order_relaxed);
      if (g* gp = runqsteal(pp, p2, last)) {
        std::uint32_t n = pp->runqtail.load(std::memory_order_relaxed) - t0 + 1;
        pp->stat.steals.store(pp->stat.steals.load(std::memory_order_relaxed) + n,
                              std::memory_order_relaxed);
        return gp;
      }
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
    // Our own due timers first: they ready Gs onto this P (Go's checkTimers).
    if (pp->timers.when0.load(std::memory_order_relaxed) != 0) run_due_timers(pp, nanotime());
    // Every 61st schedule, the global queue first, so a P busy with its own
    // queue cannot starve it (61: prime, so not in step with program loops).
    if (pp->schedtick.load(std::memory_order_relaxed) % 61 == 0 &&
        s.runqsize.load(std::memory_order_relaxed) > 0) {
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
    // Sockets that became ready (Go polls here too, before stealing).
    if (netpoll_nonblocking(rt)) {
      if (runq_result r = runqget(pp); r.gp) return r;
    }
    // Spin (steal) only while fewer than half the busy Ps have a spinning M:
    // enough to find work fast, not so many that idle Ms burn the CPUs.
    std::int32_t procs = static_cast<std::int32_t>(rt.gomaxprocs.load(std::memory_order_relaxed));
    if (mp->spinning || 2 * s.nmspinning.load(std::memory_order_relaxed) <
                            procs - s.npidle.load(std::memory_order_relaxed)) {
      if (!mp->spinning) become_spinning(mp);
      if (g* gp = stealwork(mp)) return {gp, false};
    }
    // Overdue timers anywhere (a non-spinning M skipped stealwork's timer
    // round): run them while we still hold a P to put their Gs on.
    if (std::int64_t w = earliest_timer(rt); w != 0 && w <= nanotime() && run_all_due_timers(rt)) {
      if (runq_result r = runqget(pp); r.gp) return r;
    }

    // Nothing found: give up the P. The global queue is checked again under
    // the lock that injectg also takes (no lost global submissions).
    GORO_CHAOS_AT(mp->spinning ? chaos_site::drop_p_spinning : chaos_site::drop_p);
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
#ifndef GORO_MUTANT_NO_NEEDSPINNING
    // Someone found work but no idle P for it (pidleget_spinning). We are
    // about to make a P idle without the spinner's re-check: spin instead,
    // so that work is found (Go's "delicate dance").
    if (!mp->spinning && s.needspinning.load(std::memory_order_relaxed)) {
      become_spinning(mp);
      s.lock.unlock();
      goto top;
    }
#endif
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
        p* pp = pidleget_spinning(rt);
        s.lock.unlock();
        if (pp) {
          acquirep(mp, pp);
          become_spinning(mp);
          goto top;
        }
        break;
      }
    }
#endif
  }
  if (block_in_netpoll(mp)) goto top;
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
  casgstatus(prev, gstatus::running, gstatus::runnable, "gosched");
  runqput(*mp->rt, mp->p_, prev, false);
  // As Go's goschedImpl: the yielder is runnable work that an idle P could
  // take while this one runs the next G.
  ready_wake(*mp->rt);
}

void post_globrunqput(m* mp, g* prev, void*) {
  casgstatus(prev, gstatus::running, gstatus::runnable, "gosched");
  runtime& rt = *mp->rt;
  rt.sched.lock.lock();
  globrunqput(rt, prev);
  rt.sched.lock.unlock();
  ready_wake(rt);
}

}  // namespace

void gosched() {
  nopreempt np;
  m* mp = getm();
  g* gp = mp->curg;
  runtime& rt = *mp->rt;
  // Inside blocking() the G holds no P: it is a thread in a system call.
  if (!mp->p_) {
    std::this_thread::yield();
    return;
  }
  // switch_from_g, unrolled for the hottest path. Next local G: we go to
  // our own tail (behind everything queued here, and stealable). Going to
  // g0 instead: we go to the global queue, as Go's Gosched does, so the
  // global queue gets its turn first.
  if (!wants_g0(rt, mp->p_)) {
    if (runq_result r = runqget(mp->p_); r.gp) {
      switch_to_local(mp, gp, r, post_runqput, nullptr);
      return;
    }
    // Nothing queued anywhere (the stop flags and due timers are part of
    // wants_g0): Go would requeue us and pick us again at once.
    if (rt.sched.runqsize.load(std::memory_order_relaxed) == 0) return;
  }
  mp->curg = nullptr;
  switch_context(mp, gp, nullptr, post_globrunqput, nullptr);
}

void gopark(post_switch_fn unlockf, void* arg, wait_reason reason) {
  nopreempt np;
  m* mp = getm();
  g* gp = mp->curg;
  gp->waitreason = reason;
  bump(mp->p_->stat.parks);
  // Written before the switch; a waker can only find gp after unlockf runs,
  // which is after our context is saved.
  casgstatus(gp, gstatus::running, gstatus::waiting, "gopark");
  // Fairness without signals: sysmon asked this P to yield (its slice has
  // expired), so the G in runnext must not inherit the slice. It goes to the
  // tail and the head of the queue runs on a new slice; otherwise a pair
  // handing the P back and forth through runnext would keep it for ever.
  // Relaxed: the flag is a hint (see request_preempt); seen late, the
  // request is honoured at the next park or ready.
  if (mp->p_->preempt.load(std::memory_order_relaxed)) {
    // acq_rel: as runqget's CAS of runnext (runq.cpp), which thieves race.
    if (g* next = mp->p_->runnext.exchange(nullptr, std::memory_order_acq_rel))
      runqput(*mp->rt, mp->p_, next, false);
  }
  switch_from_g(mp, gp, unlockf, arg);
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
  m* mp = getm();
  if (mp && mp->p_ && mp->rt == gp->rt) {
    casgstatus(gp, gstatus::waiting, gstatus::runnable, "goready");
    bump(mp->p_->stat.readies);
    // Go's ready puts gp in runnext, where it inherits the current slice.
    // If sysmon has asked this P to yield, the slice has expired: gp goes to
    // the tail instead, behind the Gs that have waited (relaxed: as gopark).
    runqput(*mp->rt, mp->p_, gp, !mp->p_->preempt.load(std::memory_order_relaxed));
    ready_wake(*mp->rt);
    return;
  }
  // A thread without a P (a foreign thread, or a goroutine inside
  // blocking()). Hold the runtime while we touch it: once it has begun to
  // shut down it runs no goroutine again, so there is nothing to wake, and
  // it may be freed as soon as its last M leaves.
  runtime* act = acquire_active();
  if (act && act == gp->rt) {
    casgstatus(gp, gstatus::waiting, gstatus::runnable, "goready");
#ifndef GORO_MUTANT_UNCOUNTED_FOREIGN_READY
    act->nop_stat.readies.fetch_add(1, std::memory_order_relaxed);
#endif  // MUTANT: a ready from a thread without a P is not counted
    injectg(*act, gp);
  } else {
    // gp's runtime has begun to shut down: gp is abandoned and never runs.
    // This store is our last touch of gp and of its waiter: teardown
    // (abandon_waiters), finding gp taken off its queue by us, waits for
    // gp to leave `waiting` before it frees anything. release: pairs with
    // that acquire load; our reads of the waiter happen before it.
    gp->status.store(gstatus::runnable, std::memory_order_release);
  }
  if (act) act->release();
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
  nopreempt np;  // never released: the G dies; prepare_start resets it
  m* mp = getm();
  g* gp = mp->curg;
  runtime& rt = *mp->rt;
  destroy_task(gp);
  casgstatus(gp, gstatus::running, gstatus::dead, "goexit");
  bump(mp->p_->nfinished);
  if (gp->is_main) begin_shutdown(rt);
  switch_from_g(mp, gp, post_gfput, nullptr);
  fatal("goexit1: a dead goroutine was resumed");
}

// ---------------------------------------------------------------------------
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

bool entersyscall(bool handoff) noexcept {
  g* gp = getg();
  if (!gp) return false;  // a foreign thread: just make the call
  nopreempt np;
  m* mp = getm();
  p* pp = mp->p_;
  if (!pp) return false;  // already inside a blocking call
  runtime& rt = *mp->rt;
  casgstatus(gp, gstatus::running, gstatus::syscall, "entersyscall");
  bump(pp->stat.syscalls);
  // Out of the scheduler for the call: run_main does not wait for it.
  msched_leave(rt);
  pp->syscalltick.store(pp->syscalltick.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  if (handoff) {
    // entersyscallblock: the call is known to be long; hand the P off now.
    mp->oldp = nullptr;
    handoffp(rt, releasep(mp));
    return true;
  }
  mp->oldp = pp;
  mp->p_ = nullptr;
  pp->m_.store(nullptr, std::memory_order_relaxed);
  GORO_CHAOS_POINT();
  // seq_cst: the status store must be visible before we read gcwaiting
  // (StoreLoad against stop_the_world, see there). It also releases our
  // writes to the P to whoever CASes it away (sysmon, then another M).
  pp->status.store(pstatus::syscall, std::memory_order_seq_cst);
  if (rt.sched.gcwaiting.load(std::memory_order_seq_cst)) {
    // A stop-the-world is waiting for our P: give it up now rather than
    // after the call (Go: entersyscall_gcwait).
    rt.sched.lock.lock();
    pstatus st = pstatus::syscall;
    if (pp->status.compare_exchange_strong(st, pstatus::stopped, std::memory_order_acq_rel)) {
      mp->oldp = nullptr;
      if (--rt.sched.stopwait == 0) rt.sched.stopnote.wakeup();
    }
    rt.sched.lock.unlock();
  }
  return true;
}

namespace {

// An M in a call lets go of its G before switching away from it. The
// auditor reads the curg of Ms in a call under sched.lock, so checked
// builds take it here. This is the checked-only lock round that issue 13
// removes (by making curg an atomic the auditor reads racily); both
// exitsyscall paths share it so that there is one place to remove.
void drop_curg_in_call(runtime& rt, m* mp) {
#ifdef GORO_CHECK_INVARIANTS
  rt.sched.lock.lock();
#else
  (void)rt;
#endif
  mp->curg = nullptr;
#ifdef GORO_CHECK_INVARIANTS
  rt.sched.lock.unlock();
#endif
}

// exitsyscall's slow path, on g0 after the G left its stack: the G waits in
// the global queue unless an idle P appeared meanwhile; the M parks.
void post_exitsyscall0(m* mp, g* prev, void*) {
  runtime& rt = *mp->rt;
  casgstatus(prev, gstatus::syscall, gstatus::runnable, "exitsyscall0");
  rt.sched.lock.lock();
  p* pp = pidleget(rt);
  if (!pp) globrunqput(rt, prev);
  rt.sched.lock.unlock();
  if (pp) {
    acquirep(mp, pp);
    runqput(rt, pp, prev, true);  // schedule_loop runs it next
    return;
  }
  // The G is queued; this M has nothing to do. stopm returns with a P (or at
  // shutdown), and schedule_loop carries on from there.
  stopm(mp);
}

// Back on a P after a blocking call.
void exitsyscall_done(g* gp, p* pp) {
  pp->syscalltick.store(pp->syscalltick.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  casgstatus(gp, gstatus::syscall, gstatus::running, "exitsyscall");
}

}  // namespace

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
    drop_curg_in_call(rt, mp);
    switch_context(mp, gp, nullptr, nullptr, nullptr);
    fatal("exitsyscall: goroutine %llu, abandoned at shutdown, was resumed",
          (unsigned long long)gp->goid);
  }
  GORO_CHAOS_POINT();
  // Fast path: our P, if nobody retook it. acq_rel: we see what the last
  // holder (us) and anyone who looked at it wrote.
  if (oldp) {
    pstatus st = pstatus::syscall;
#ifdef GORO_MUTANT_EXITSYSCALL_NO_CAS
    // MUTANT: take the old P back with a check and a store instead of a CAS;
    // sysmon may have retaken it between the two, so two Ms run one P.
    if (oldp->status.load(std::memory_order_acquire) == pstatus::syscall) {
      GORO_CHAOS_POINT();
      oldp->status.store(pstatus::idle, std::memory_order_release);
#else
    if (oldp->status.compare_exchange_strong(st, pstatus::idle, std::memory_order_acq_rel)) {
#endif
      acquirep(mp, oldp);
      exitsyscall_done(gp, oldp);
      return;
    }
  }
  // Any idle P (Go: exitsyscallfast_pidle).
  if (rt.sched.npidle.load(std::memory_order_relaxed) > 0) {
    rt.sched.lock.lock();
    p* pp = pidleget(rt);
    rt.sched.lock.unlock();
    if (pp) {
      acquirep(mp, pp);
      exitsyscall_done(gp, pp);
      return;
    }
  }
  // Slow path: wait for a P in the global queue; another M will run us.
  drop_curg_in_call(rt, mp);
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

namespace {
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
}  // namespace

void handoffp(runtime& rt, p* pp) {
  rt.nhandoffs.fetch_add(1, std::memory_order_relaxed);
  schedt& s = rt.sched;
  // Work on it, or in the global queue: an M runs it now.
  if (!runqempty(pp) || s.runqsize.load(std::memory_order_relaxed) != 0) {
    startm(rt, pp, false);
    return;
  }
  // Nobody spinning and no idle P: this P may be the only way to pick up
  // work that arrives elsewhere; give it a spinning M (Go does the same).
  if (s.nmspinning.load(std::memory_order_relaxed) + s.npidle.load(std::memory_order_relaxed) ==
      0) {
    std::int32_t zero = 0;
    if (s.nmspinning.compare_exchange_strong(zero, 1)) {
      startm(rt, pp, true);
      return;
    }
  }
  s.lock.lock();
  if (s.gcwaiting.load(std::memory_order_relaxed)) {
    pp->status.store(pstatus::stopped, std::memory_order_relaxed);
    if (--s.stopwait == 0) s.stopnote.wakeup();
    s.lock.unlock();
    return;
  }
  if (s.runqsize.load(std::memory_order_relaxed) != 0) {
    s.lock.unlock();
    startm(rt, pp, false);
    return;
  }
  pidleput(rt, pp);
  s.lock.unlock();
  // It may hold timers: the M sleeping for timers must count them.
  if (std::int64_t when = pp->timers.when0.load(std::memory_order_relaxed))
    wake_timer_sleeper(rt, when);
}

// ---------------------------------------------------------------------------
// Preemption, on the goroutine's side.

void preempt_slow() {
  g* gp = getg();
  if (!gp) return;
  nopreempt np;
  m* mp = getm();
  p* pp = mp->p_;
  if (!pp || !pp->preempt.load(std::memory_order_relaxed)) return;
  clear_preempt(pp);
  bump(pp->stat.preempts);
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
  switch_from_g(mp, gp, post_globrunqput, nullptr);
  errno_set(saved_errno);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  gp->preemptoff.store(0, std::memory_order_relaxed);
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
  // Only mprotect'd guard pages cost maps; pooled stacks (madvise-guarded or
  // unguarded) cost one map per pool_chunk_stacks.
  if (rt.stacks.mode() != guard_mode::mprotect) return;
  if (pp && ++pp->spawn_since_budget_check < budget_check_every) return;
  if (pp) pp->spawn_since_budget_check = 0;
  std::int64_t live = live_goroutines_racy(rt);
  if (live < static_cast<std::int64_t>(rt.guarded_budget)) return;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "goro::go: %lld goroutines are live and each guarded stack costs 2 of the "
                "kernel's vm.max_map_count memory maps (room for about %zu here; %s); set "
                "goro::options::stack_guard=false for pooled unguarded stacks (millions of "
                "goroutines), or raise vm.max_map_count",
                static_cast<long long>(live), rt.guarded_budget,
                stack_allocator::guarded_mode_reason());
  throw std::system_error(std::make_error_code(std::errc::not_enough_memory), buf);
}

}  // namespace

newg_handle newg_begin(std::size_t size, std::size_t align) {
  nopreempt np;
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
      return {gp, gp->storage, align};
    }
    gp->fn_inline = false;
    // As destroy_task's `delete t` (T's deleting destructor) frees it: the
    // aligned operator new only for an over-aligned closure (ASan:
    // new-delete-type-mismatch otherwise).
    if (align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) return {gp, ::operator new(size), align};
    return {gp, ::operator new(size, std::align_val_t(align)), align};
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
  // Freed as newg_begin allocated it: the aligned operator delete for the
  // aligned operator new of an over-aligned closure (ASan:
  // alloc-dealloc-mismatch otherwise).
  if (!gp->fn_inline) {
    if (h.align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) ::operator delete(h.storage);
    else ::operator delete(h.storage, std::align_val_t(h.align));
  }
  rt.sched.lock.lock();
  gfput_global_locked(rt, gp);
  rt.sched.lock.unlock();
  nopreempt np;
  m* mp = getm();
  if (!(mp && mp->p_ && mp->rt == &rt)) rt.release();
}

void newg_commit(newg_handle h, task* t) {
  g* gp = h.gp;
  runtime& rt = *gp->rt;
  gp->fn = t;
  nopreempt np;
  m* mp = getm();
  if (mp && mp->p_ && mp->rt == &rt) {
    p* pp = mp->p_;
    gp->goid = newgoid(rt, pp);
    casgstatus(gp, gstatus::dead, gstatus::runnable, "newproc");
    bump(pp->ncreated);
    // Go's newproc: the new G goes to runnext and runs next on this P.
    runqput(rt, pp, gp, true);
    ready_wake(rt);
    return;
  }
  gp->goid = newgoid(rt, nullptr);
#ifdef GORO_CHECK_INVARIANTS
  // The census (audit_stopped_world) holds sched.lock: it must see the new
  // G's status and its count change together.
  rt.sched.lock.lock();
#endif
  casgstatus(gp, gstatus::dead, gstatus::runnable, "newproc (foreign thread)");
  rt.nretired_created.fetch_add(1, std::memory_order_relaxed);
#ifdef GORO_CHECK_INVARIANTS
  rt.sched.lock.unlock();
#endif
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
#ifndef GORO_MUTANT_RESIZE_DROPS_RUNNEXT
    globrunqputhead(rt, next);
#else
    (void)next;  // MUTANT: the removed P's runnext G is forgotten (runnable, in no queue)
#endif
  while (g* gp = pp->gfree) {
    pp->gfree = gp->schedlink;
    gfput_global_locked(rt, gp);
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
  rt.nretired_created.fetch_add(static_cast<std::int64_t>(pp->ncreated.exchange(0)));
  rt.nretired_finished.fetch_add(static_cast<std::int64_t>(pp->nfinished.exchange(0)));
  // Its event counts too (the world is stopped: nobody writes them now).
  for (auto c : {&sched_counters::schedules, &sched_counters::steals, &sched_counters::parks,
                 &sched_counters::readies, &sched_counters::syscalls, &sched_counters::preempts})
    (rt.nop_stat.*c).fetch_add((pp->stat.*c).exchange(0, std::memory_order_relaxed),
                               std::memory_order_relaxed);
  pp->status.store(pstatus::stopped, std::memory_order_relaxed);
}

}  // namespace

void stop_the_world(m* mp) {
  runtime& rt = *mp->rt;
  schedt& s = rt.sched;
  std::uint32_t nprocs = rt.gomaxprocs.load(std::memory_order_relaxed);
  s.lock.lock();
  s.stopwait = static_cast<std::int32_t>(nprocs);
  // seq_cst: StoreLoad against entersyscall, which stores P status syscall
  // and then loads gcwaiting. Either it sees gcwaiting and stops its P
  // itself, or our scan below sees the syscall status and claims the P.
  s.gcwaiting.store(true, std::memory_order_seq_cst);
  mp->p_->status.store(pstatus::stopped, std::memory_order_relaxed);
  s.stopwait--;
  while (p* pp = pidleget(rt)) {
    pp->status.store(pstatus::stopped, std::memory_order_relaxed);
    s.stopwait--;
  }
  s.lock.unlock();
  // Ps in a blocking call are claimed here (their Ms are busy in the call);
  // running Ps stop at their Ms' next scheduling point (gcstopm), which we
  // hurry along with preemption requests. The last one wakes us; we also
  // look again every 100 µs, as Go does, in case a P entered a blocking
  // call or a request was missed.
  for (;;) {
    s.lock.lock();
    for (std::uint32_t i = 0; i < nprocs; i++) {
      p* pp = rt.allp[i].load(std::memory_order_relaxed);
      pstatus st = pstatus::syscall;
      if (pp->status.compare_exchange_strong(st, pstatus::stopped, std::memory_order_seq_cst))
        s.stopwait--;
    }
    bool done = s.stopwait == 0;
    s.lock.unlock();
    if (done) break;
    for (std::uint32_t i = 0; i < nprocs; i++) {
      p* pp = rt.allp[i].load(std::memory_order_relaxed);
      if (pp->status.load(std::memory_order_relaxed) == pstatus::running) preemptone(rt, pp);
    }
    if (s.stopnote.sleep_until(nanotime() + 100'000)) break;
  }
  s.stopnote.clear();
  GORO_INVARIANT(s.stopwait == 0, "stop_the_world: stopwait %d", s.stopwait);
  audit_stopped_world(rt);  // OneGPlace and Census (sched/audit.hpp)
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

// Shutdown, when main returns (goexit1) or a deadlock is declared (stopm).
// Go's process simply exits; here run() must return to its caller with the
// process alive, and objects created outside run (channels, mutexes,
// wait_groups, sockets) go on being used, so the steps and their order
// matter:
//
//  1. (begin_shutdown) Give up the active slot. Once `stopping` is set,
//     run() may return at any moment and its caller may start another run
//     at once. From here a foreign thread's goready finds no runtime to
//     queue on and only marks the G runnable (goready: its last touch).
//  2. (begin_shutdown) Set `stopping` under sched.lock, so that stopm
//     either sees it or is on the idle list; wake every idle M, the M
//     blocked in netpoll and sysmon. Each M leaves its loop at its next
//     scheduling point; an M whose G is in a blocking call stays out of the
//     scheduler, and exitsyscall, seeing `stopping`, never returns to the
//     goroutine (it is abandoned, its M exits).
//  3. (begin_shutdown) Wake run_main's thread (shutdown_note). That thread
//     never runs goroutines (run_main), so no goroutine's blocking call can
//     keep run() from returning.
//  4. (run_main) Stop sysmon: it could still ready goroutines (its netpoll)
//     and hand Ps to new Ms.
//  5. (run_main) Wait until nmsched is zero: no M is in the scheduler, so
//     no goroutine runs, parks, or is readied by the runtime any more (Ms in
//     blocking calls are not counted, and their goroutines never come back,
//     step 2). A goroutine running without a scheduling point is asked to
//     yield (preemptone, as sysmon would) every 10 ms meanwhile.
//  6. (run_main, abandon_waiters) Take every parked goroutine's waiter off
//     the wait queues it is on (waiter_on_abandon records how), and wait for
//     any foreign waker that took one first to be done with it (pass 1).
//     Then let every goroutine readied from such a park but never run
//     again give back what its waker handed it: a mutex's woken flag or
//     the mutex itself, a select's other queued cases (pass 2; after pass
//     1, so what it gives back reaches only live threads' waiters). Needs
//     step 5: a running goroutine could park again after its G was visited.
//     After this no wait queue outside the runtime refers to its goroutines,
//     so a send finds no receiver, unlock and done wake nobody, close wakes
//     nobody, and a later run uses the objects afresh.
//  7. (run_main) Drop run_main's reference and return. The runtime is freed
//     (~runtime) by whoever drops the last one: run_main, or the last M
//     coming back from a blocking call, which touches only the runtime and
//     its own M before it does.
//  8. (~runtime) Pending timers first (a sleep's timer lives on its
//     goroutine's stack), then the abandoned goroutines: their closures are
//     destroyed (which may drop the last handle of a channel or close a
//     socket: both need step 6 done, and closing a socket does not wait for
//     the call in flight of an abandoned goroutine, see net.cpp), then
//     their stacks freed without unwinding: the destructors of their frames'
//     locals do not run, as in Go no deferred call runs at exit.
void begin_shutdown(runtime& rt) {
  // Step 1.
  {
    std::lock_guard lk(active_mu);
    if (active == &rt) active = nullptr;
  }
  // Step 2. seq_cst: the store half of the Dekker pair with nmsched
  // (msched_leave, exitsyscall); it also releases main_exc to run_main.
  rt.sched.lock.lock();
  rt.stopping.store(true, std::memory_order_seq_cst);
  for (m* mp = rt.sched.midle; mp; mp = mp->schedlink) mp->park.wakeup();
  rt.sched.midle = nullptr;
  rt.sched.nmidle = 0;
  rt.sched.lock.unlock();
  netpoll_break(rt);  // the M blocked in netpoll
  rt.sysmon_note.wakeup();
  // Step 3.
  rt.shutdown_note.wakeup();
}

// Step 5 of the shutdown (see begin_shutdown).
void wait_scheduler_drained(runtime& rt) {
  for (;;) {
    rt.shutdown_note.clear();
    // seq_cst: the load half of the Dekker pair (msched_leave): either we
    // see the last decrement, or its M sees `stopping` and wakes us after
    // the clear above.
    if (rt.nmsched.load(std::memory_order_seq_cst) == 0) return;
    unsigned procs = rt.gomaxprocs.load(std::memory_order_relaxed);
    for (unsigned i = 0; i < procs; i++) {
      p* pp = rt.allp[i].load(std::memory_order_acquire);
      if (pp && pp->status.load(std::memory_order_relaxed) == pstatus::running)
        preemptone(rt, pp);
    }
    rt.shutdown_note.sleep_until(nanotime() + 10'000'000);
  }
}

// Step 6 of the shutdown (see begin_shutdown). No M is in the scheduler, so
// every G's status and abandon record are as their M left them (the seq_cst
// decrement of nmsched we read zero from orders them before us).
void abandon_waiters(runtime& rt) {
  std::lock_guard lk(rt.allg_mu);
  // Pass 1: goroutines still parked leave their queues.
  for (g* gp : rt.allgs) {
    if (!gp->abandon || gp->status.load(std::memory_order_acquire) != gstatus::waiting) continue;
    if (gp->abandon(gp->abandon_arg, false)) {
      gp->abandon = nullptr;
      continue;
    }
    // A waker took gp off its queue before we could, and is between its
    // unlock and its ready(): goready's last touch is gp's status (release;
    // acquire here), after which neither gp nor its waiter is used again.
    // gp keeps its record: pass 2 sees it readied.
    while (gp->status.load(std::memory_order_acquire) == gstatus::waiting)
      std::this_thread::yield();
  }
  // Pass 2: goroutines readied from such a park that never ran again (the
  // record is cleared only when gopark returns) give back what their waker
  // handed them. After pass 1, so that what they give back (a mutex) can
  // reach no abandoned waiter, only live threads.
  for (g* gp : rt.allgs) {
    if (!gp->abandon || gp->status.load(std::memory_order_acquire) != gstatus::runnable) continue;
    gp->abandon(gp->abandon_arg, true);
    gp->abandon = nullptr;
  }
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
  // 24 KiB, not 16: an asynchronous preemption saves the registers (the
  // XSAVE area: 11 KiB with AMX) and runs the scheduler's frames on the
  // goroutine's stack, and is refused where they would not fit
  // (preempt.cpp's stack_room, up to ~16 KiB on AMX hardware, ~20 KiB under
  // ASan); on a 16 KiB stack it never fit, so a call-free loop kept its P.
  constexpr std::size_t min_stack = 24 * 1024, max_stack = std::size_t(1) << 30;
  if (o.stack_size < min_stack || o.stack_size > max_stack)
    throw std::invalid_argument(
        "goro::options::stack_size = " + std::to_string(o.stack_size) + ": must be in " +
        std::to_string(min_stack) + ".." + std::to_string(max_stack) +
        " bytes (the minimum leaves room for asynchronous preemption, which saves the CPU's "
        "registers, up to 11 KiB with AMX, and runs the scheduler on the goroutine's stack)");
  std::size_t ps = stack_allocator::page_size();
  o.stack_size = (o.stack_size + ps - 1) / ps * ps;
  using std::chrono::nanoseconds;
  constexpr nanoseconds min_slice = std::chrono::microseconds(100);
  constexpr nanoseconds max_slice = std::chrono::seconds(60);
  if (o.time_slice < min_slice || o.time_slice > max_slice)
    throw std::invalid_argument("goro::options::time_slice = " +
                                std::to_string(o.time_slice.count()) + " ns: must be in " +
                                std::to_string(min_slice.count()) + ".." +
                                std::to_string(max_slice.count()) + " ns (100 µs .. 60 s)");
  nprocs = o.procs ? o.procs : procs_from_env_or_hw();
  constexpr unsigned max_threads_limit = 1'000'000;
  if (o.max_threads < nprocs || o.max_threads > max_threads_limit)
    throw std::invalid_argument("goro::options::max_threads = " + std::to_string(o.max_threads) +
                                ": must be in " + std::to_string(nprocs) + ".." +
                                std::to_string(max_threads_limit) +
                                " (at least one thread per P; procs is " +
                                std::to_string(nprocs) + ")");
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

namespace {
std::atomic<std::uint64_t> runtime_gens{0};
}  // namespace

runtime::runtime(const options& o, unsigned nprocs)
    : opts(o),
      gen(runtime_gens.fetch_add(1, std::memory_order_relaxed) + 1),
      stacks(o.stack_size, o.stack_guard) {
  netpoll_init(*this);
  if (stacks.mode() == guard_mode::mprotect) {
    // Keep maps for everything else the process needs (threads' own stacks,
    // libraries, malloc arenas), and the slack of the every-64-spawns check.
    std::size_t room = stack_allocator::guarded_stack_budget();
    std::size_t reserve = 1024 + budget_check_every * nprocs;
    guarded_budget = room > reserve ? room - reserve : 0;
  }
  (void)nprocs;
}

runtime::~runtime() {
  // Pending timers first: a sleep timer lives on its goroutine's stack,
  // which the loop over allgs below unmaps, so reading its dispose field
  // afterwards would fault (mprotect-guarded stacks are unmapped, not pooled).
  // Heap-owned timers (after(), socket deadlines) are freed here.
  for (std::uint32_t i = 0; i < max_procs; i++) {
    p* pp = allp[i].load(std::memory_order_relaxed);
    if (!pp) continue;
    for (timer* t : pp->timers.heap) {
      // In no heap from here on: a socket's deadline timers live in its
      // (pooled, never freed) pollDesc, which may outlive this heap.
      t->heap.store(nullptr, std::memory_order_relaxed);
      if (t->dispose) t->dispose(t);
    }
    pp->timers.heap.clear();
  }
  for (g* gp : allgs) {
    // Abandoned goroutines: their frames are discarded without unwinding
    // (as Go's exit does); their closures and stacks are freed here.
    destroy_task(gp);
    san_destroy(gp->san);
#ifdef GORO_ASAN
    // An abandoned frame's functions never returned, so ASan's poisoning of
    // their locals' redzones is still there; a later stack mapped at this
    // address must not inherit it.
    if (gp->stk) __asan_unpoison_memory_region(gp->stk.lo, gp->stk.size);
#endif
    stacks.release(gp->stk);
    delete gp;
  }
  for (std::uint32_t i = 0; i < max_procs; i++) {
    p* pp = allp[i].load(std::memory_order_relaxed);
    if (!pp) continue;
    clear_preempt(pp);  // keep the process-wide preempt_pending count exact
    delete pp;
  }
  for (m* mp : allm) delete mp;
  netpoll_close(*this);
}

void run_main(main_ref main, const options& opts_in) {
  unsigned nprocs = 0;
  options opts = validate(opts_in, nprocs);
  if (getm_unchecked())  // only asks whether this thread is an M at all
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
  // The calling thread is not an M: it never runs goroutines, so none of
  // their blocking calls can hold it when main returns (a goroutine's
  // blocking call runs on its M's thread, and an M cannot leave a call in
  // flight). It starts M0 for P0 and then only waits for the shutdown.
  //
  // The SIGSEGV handler that names a stack overflow goes in before any M
  // starts (each M gets its alternate signal stack in mstart).
  install_overflow_handler();

  // Ps: P0 goes to M0, the others start idle.
  for (unsigned i = 0; i < nprocs; i++) {
    p* pp = new p;
    pp->id = static_cast<std::int32_t>(i);
    rt->allp[i].store(pp, std::memory_order_relaxed);
  }
  rt->gomaxprocs.store(nprocs, std::memory_order_relaxed);
  compute_coprimes(*rt, nprocs);
  p* p0 = rt->allp[0].load(std::memory_order_relaxed);
  p0->status.store(pstatus::idle, std::memory_order_relaxed);
  rt->sched.lock.lock();
  for (unsigned i = nprocs; i-- > 1;) pidleput(*rt, rt->allp[i].load(std::memory_order_relaxed));
  rt->sched.lock.unlock();

  // The main goroutine: id 1, counted on P0, queued there before any M
  // exists (P0 is nobody's yet: this thread is its only user).
  g* mg = malg(*rt);
  mg->is_main = true;
  rt->goidgen.store(1, std::memory_order_relaxed);
  mg->goid = 1;
  static_assert(sizeof(main_task) <= g_inline_task_bytes);
  mg->fn = new (mg->storage) main_task(main);
  mg->fn_inline = true;
  casgstatus(mg, gstatus::dead, gstatus::runnable, "newproc (main)");
  rt->main_g = mg;
  bump(p0->ncreated);
  runqput(*rt, p0, mg, false);

  if (rt->opts.async_preempt) async_preempt_init();
  sysmon_start(*rt);
  newm(*rt, p0, false);  // M0; its thread's start publishes all of the above
  {
    std::lock_guard lk(rt->sched.lock);
    rt->m0 = rt->allm.front();
  }

  // The shutdown (steps in begin_shutdown's comment).
  while (!rt->stopping.load(std::memory_order_acquire)) {
    rt->shutdown_note.sleep();
    rt->shutdown_note.clear();
  }
  sysmon_stop(*rt);            // step 4
  wait_scheduler_drained(*rt);  // step 5
  abandon_waiters(*rt);        // step 6
  std::exception_ptr exc = rt->main_exc;
  rt->main_exc = nullptr;
  rt->release();  // step 7
  if (exc) std::rethrow_exception(exc);
}

std::int64_t num_goroutine_locked(runtime& rt) { return live_goroutines_racy(rt); }

sched_stats read_sched_stats(runtime& rt) {
  sched_stats st;
  auto add = [&st](const sched_counters& c) {
    st.schedules += c.schedules.load(std::memory_order_relaxed);
    st.steals += c.steals.load(std::memory_order_relaxed);
    st.parks += c.parks.load(std::memory_order_relaxed);
    st.readies += c.readies.load(std::memory_order_relaxed);
    st.syscalls += c.syscalls.load(std::memory_order_relaxed);
    st.preempts_cooperative += c.preempts.load(std::memory_order_relaxed);
  };
  add(rt.nop_stat);
  std::int64_t created = rt.nretired_created.load(std::memory_order_relaxed);
  std::int64_t exited = rt.nretired_finished.load(std::memory_order_relaxed);
  // Every P ever made, removed ones too (theirs are zero once folded).
  for (std::uint32_t i = 0; i < max_procs; i++) {
    p* pp = rt.allp[i].load(std::memory_order_acquire);  // pairs with its release store
    if (!pp) break;  // allp fills from 0 and never shrinks
    add(pp->stat);
    created += static_cast<std::int64_t>(pp->ncreated.load(std::memory_order_relaxed));
    exited += static_cast<std::int64_t>(pp->nfinished.load(std::memory_order_relaxed));
  }
  st.goroutines_created = static_cast<std::uint64_t>(created);
  st.goroutines_exited = static_cast<std::uint64_t>(exited);
  st.goroutines = created - exited;
  st.handoffs = rt.nhandoffs.load(std::memory_order_relaxed);
  st.retakes = rt.nretakes.load(std::memory_order_relaxed);
  st.kernel_detaches = rt.nkernel_detaches.load(std::memory_order_relaxed);
  st.preempts_async = rt.nasync_preempts.load(std::memory_order_relaxed);
  return st;
}

bool read_sched_stats(sched_stats& out) {
  nopreempt np;
  m* mp = getm();
  runtime* rt = mp ? mp->rt : acquire_active();
  if (!rt) return false;
  out = read_sched_stats(*rt);
  if (!mp) rt->release();
  return true;
}

}  // namespace goro::detail

// ---------------------------------------------------------------------------
// Public API.

namespace goro {

using namespace detail;

void yield() {
  if (!getg()) {
    std::this_thread::yield();
    return;
  }
  gosched();
}

unsigned gomaxprocs(unsigned n) {
  nopreempt np;
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
  if (!mp->p_)
    throw std::logic_error("goro::gomaxprocs: cannot be set inside goro::blocking()");
  if (n > rt->opts.max_threads)
    throw std::invalid_argument("goro::gomaxprocs(" + std::to_string(n) +
                                "): more Ps than goro::options::max_threads = " +
                                std::to_string(rt->opts.max_threads) +
                                " allows (each P needs an OS thread)");
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
  nopreempt np;
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
  g* gp = getg();
  return gp ? gp->goid : 0;
}

bool in_goroutine() { return getg() != nullptr; }

void deadlock_bystander() {
  if (getm_unchecked())
    throw std::logic_error(
        "goro::deadlock_bystander: called from a goroutine or a runtime thread; only a thread "
        "outside the runtime can be a bystander");
  if (tls_bystander.on) return;
  tls_bystander.on = true;
  // seq_cst: ordered with no_outside_threads' reads (see there).
  nbystanders.fetch_add(1, std::memory_order_seq_cst);
}

}  // namespace goro
