// The switch: the thread-local M and G (getg/getm), context switches between
// Gs and g0 (switch_context, after_switch, g_entry, execute), and fatal errors.
#include "sched/internal.hpp"

#include <cxxabi.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "context/overflow.hpp"
#include "sim/controller.hpp"

namespace goro::detail {

namespace {

// initial-exec: the SIGURG handler (src/sysmon/preempt.cpp) reads both, and
// only a static TLS model is async-signal-safe (no lazy allocation).
__attribute__((tls_model("initial-exec"))) thread_local m* tls_m = nullptr;

__attribute__((tls_model("initial-exec"))) thread_local g* tls_g = nullptr;

}  // namespace

// noinline + an asm memory clobber: the compiler may neither inline these nor
// treat them as pure, so every call re-reads the thread pointer of the
// thread it is running on now (a G may have migrated since the last call).
__attribute__((noinline)) g* getg() {
  asm volatile("" ::: "memory");
  return tls_g;
}

__attribute__((noinline)) m* getm() {
  asm volatile("" ::: "memory");
  // A goroutine may use its M only where it cannot be moved to another one
  // behind its back (see nopreempt). Checked even with async_preempt off, so
  // a missing guard shows up in every test run, not only in a rare race.
  if constexpr (checked)
    if (g* gp = tls_g; gp && gp->preemptoff.load(std::memory_order_relaxed) == 0)
      fatal("invariant violated: NoPreemptGetM: goroutine %llu called getm() outside a "
            "nopreempt region",
            (unsigned long long)gp->goid);
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

// errno is a thread-local of the M. Out of line, so that each call asks
// __errno_location() afresh: the compiler may not reuse one thread's errno
// address after a switch that resumed us on another thread.
__attribute__((noinline)) int errno_get() { return errno; }

__attribute__((noinline)) void errno_set(int e) { errno = e; }

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
  // sim: the replay line and the replay file (sim/controller.hpp).
  if constexpr (sim) simulator::report_fatal(buf);
  std::fflush(stderr);
  std::_Exit(2);
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
    case wait_reason::sync_cond_wait: return "sync.Cond.Wait";
    case wait_reason::sync_rw_mutex_rlock: return "sync.RWMutex.RLock";
    case wait_reason::sync_rw_mutex_lock: return "sync.RWMutex.Lock";
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

// Finishes a switch in the context that was just resumed (or started): saves
// the context we came from into its owner, then runs the post-switch work the
// switcher left. `self` is the sanitizer state of the context now running.
void after_switch(transfer_t t, fiber_san& self) {
  m* mp = static_cast<m*>(t.data);
  // Switch code on a G's stack must not be preempted: it uses the M it came
  // in on (mp) and finishes that M's pending post-switch step.
  GORO_INVARIANT(unpreemptible(),
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

}  // namespace

// Entry of every goroutine: finish the switch that started us, run the task,
// exit. Never returns (goexit1 switches away for good).
void g_entry(transfer_t t) {
  m* mp = static_cast<m*>(t.data);
  g* self = mp->curg.load(std::memory_order_relaxed);
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

void execute(m* mp, g* gp, bool inherit_time) {
  runtime& rt = *mp->rt;
  if (!inherit_time) new_slice(mp->p_);
  owner_add(mp->p_->stat.schedules, 1);
  latency_record(mp->p_, gp);
  prepare_start(rt, gp);
  GORO_INVARIANT(gp->status.load(std::memory_order_relaxed) == gstatus::runnable,
                 "GStatus: execute: goroutine %llu is %s, want runnable",
                 (unsigned long long)gp->goid,
                 gstatus_name(gp->status.load(std::memory_order_relaxed)));
  casgstatus(gp, gstatus::runnable, gstatus::running, "execute");
  trace::go_start(gp);
  mp->curg.store(gp, std::memory_order_relaxed);
  switch_context(mp, nullptr, gp, nullptr, nullptr);
}

}  // namespace goro::detail
