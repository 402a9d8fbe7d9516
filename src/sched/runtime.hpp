// The G/M/P data structures, named and shaped as in Go's runtime (runtime2.go).
//
// G: a goroutine: its saved context, its stack and its entry.
// M: an OS thread. Its g0 is the thread's own stack, where the scheduler loop
//    runs; curg is the G it runs now; it needs a P to run Go... goro code.
// P: a processor: the right to run goroutines, with a local run queue. There
//    are exactly gomaxprocs of them in use; an M holds at most one.
//
// Ownership rules (checked by the invariant auditor, see spec/scheduler.md, "Invariants"):
//  - P.m == M and M.p == P hold together, set only by acquirep/releasep.
//  - A P's run queue tail and slots and its gfree list are written only by
//    the M that holds the P; the queue's head and runnext are also written by
//    thieves (CAS). local_runq keeps the slots private to enforce it.
//  - Everything in schedt not marked atomic is guarded by schedt::lock.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "base/atomic.hpp"
#include "base/fatal.hpp"
#include "base/godebug.hpp"
#include "base/owner_add.hpp"
#include "context/context.hpp"
#include "context/stack.hpp"
#include "goro/detail/task.hpp"
#include "goro/detail/waitq.hpp"
#include "goro/options.hpp"
#include "netpoll/netpoll.hpp"
#include "sched/gstatus.hpp"
#include "sched/local_runq.hpp"
#include "sched/note.hpp"
#include "sched/psyscall.hpp"
#include "sync/park.hpp"
#include "time/timer.hpp"
#include "trace/state.hpp"

namespace goro::detail {

struct m;
struct p;
struct runtime;
struct g;

// The run queue's trace hook in the sim build (sim/trace_log.cpp; the calls
// are local_runq's T interface, sched/local_runq.hpp): with GORO_SIM_TRACE
// set, each operation on a P's queue is logged in the session's exact order
// for validation against tla/RunQueue.tla (spec/simulation.md, "Trace
// validation"). Other builds use runq_untraced: no call, no code.
struct runq_sim_hook {
  static constexpr bool on = true;
  static void put(const void* q, g* gp, std::uint32_t tail);
  static void put_next(const void* q, g* gp, g* old);
  static void putslow(const void* q, std::uint32_t h, std::uint32_t n, g* const* batch, g* gp);
  static void get_next(const void* q, g* gp);
  static void get(const void* q, std::uint32_t h, std::uint32_t h2, g* gp);
  static void get_empty(const void* q, std::uint32_t h);
  static void grab(const void* q, std::uint32_t h, std::uint32_t t, std::uint32_t n, g* const* gs);
  static void grab_next(const void* q, std::uint32_t h, std::uint32_t t, g* gp);
  static void grab_none(const void* q, std::uint32_t h, std::uint32_t t, bool next);
  static void put_batch(const void* q, std::uint32_t t, std::uint32_t n, g* const* gs);
  static void take_next(const void* q, g* gp);
  static void drained(const void* q, std::uint32_t h);
};
using runq_hook = std::conditional_t<sim, runq_sim_hook, runq_untraced>;

// Every shared atomic here is a detail::atomic (base/atomic.hpp): std::atomic
// in production, a scheduling point per operation in the simulation. That
// includes the fields the SIGURG handler reads (m::curg, g::preemptoff,
// p::preempt, p::kernel_blocked, g::status): a simulation session turns
// asynchronous preemption off (run_main), preemptone sends SIGURG only with
// it on, and the handler is installed only then, so no point is ever taken
// from signal context (spec/simulation.md, "Scheduling points").

// G states: gstatus, sched/gstatus.hpp. P states (pstatus, sched/psyscall.hpp,
// with the blocking-call protocol that changes them): Go's _Pidle,
// _Prunning, _Psyscall, _Pgcstop (stopped also covers Go's _Pdead: a P
// beyond gomaxprocs).

const char* pstatus_name(pstatus s);

// Bytes of closure a g holds inline; larger closures go to the heap.
constexpr std::size_t g_inline_task_bytes = 64;

struct g {
  fcontext_t ctx = nullptr;  // saved context; valid while not running
  stack stk;                 // allocated at first execute, kept while in gfree
  fiber_san san;
  eh_state eh;  // exceptions being handled, while switched out
  // Moved only by casgstatus (sched/gstatus.hpp) and park_core.hpp.
  atomic<gstatus> status{gstatus::idle};
  // Scheduling-latency sampling (Go's g.trackingSeq, gTrackingPeriod):
  // casgstatus counts the G's entries into runnable and on every
  // latency_tracking_period-th stamps runnable_since (below) with the clock;
  // execute then records the time to running in the P's histogram
  // (latency_record). Beside status, in the padding before the next
  // pointer, so the per-switch test touches no extra cache line. Written by
  // whoever makes the G runnable, read by whoever runs it next: the
  // run-queue hand-off orders them (as it orders the G's context).
  std::uint8_t latency_seq = 0;
  // The M this G is wired to by lock_os_thread (Go: g.lockedm), or null.
  // Written only by the G itself while it runs on that M (lock_os_thread,
  // unlock_os_thread, goexit1), always together with m::lockedg. Read by
  // whoever takes the G off a run queue to run it (schedule_loop, the G-side
  // fast path: locked_switch), which is after the G's last write: the queue
  // hand-off (runqput's release of the tail or sched.lock, the park/ready
  // handshake) orders it. Atomic, relaxed, for the stopped-world auditor,
  // which reads it from another thread while a G inside blocking() may
  // change it; the value orders nothing.
  detail::atomic<m*> lockedm{nullptr};
  std::uint64_t goid = 0;
  g* schedlink = nullptr;  // global run queue / free list link
  task* fn = nullptr;      // entry; destroyed when it returns
  bool fn_inline = false;  // fn lives in storage[]
  bool is_main = false;
  // Written by the G itself in gopark before it publishes itself anywhere a
  // waker can find it; read with the world stopped or every M idle
  // (checkdead), and racily by scheddetail (sysmon). Atomic for that racy
  // reader, always relaxed: a plain mov on x86, and the value orders nothing.
  detail::atomic<wait_reason> waitreason{wait_reason::zero};
  runtime* rt = nullptr;
  // Non-zero while this G runs runtime code (or has been picked for an
  // asynchronous preemption): the SIGURG handler leaves it alone then. Per G,
  // not per M as Go's m.locks, because runtime code caches its M (getm())
  // and the G may only move to another M at a switch the runtime makes
  // itself. Written by the G's own thread (and by the handler interrupting
  // it), read by that handler: relaxed accesses plus signal fences suffice.
  detail::atomic<std::uint32_t> preemptoff{0};
  // Set by the SIGURG handler when it detached this G's M from its P because
  // the thread was blocked in the kernel on something goro does not know of
  // (a lock another goroutine holds): an entersyscall made on the G's
  // behalf. The G's next outermost runtime entry (nopreempt) runs
  // exitsyscall first. Written and read only on the G's own thread (the
  // handler interrupts it there; a G in this state does not move): relaxed
  // accesses plus signal fences, as preemptoff.
  detail::atomic<bool> exitsyscall_pending{false};
  // While parked on a wait queue that may outlive the runtime: how teardown
  // takes this G off it (sync/park.hpp, waiter_on_abandon). Written by the G
  // before it parks, cleared by gopark when it resumes.
  abandon_fn abandon = nullptr;
  void* abandon_arg = nullptr;
  // Observability (goroutine dumps and profiles, sched/dump.cpp;
  // spec/dumps.md). waitsince: coarse_nanotime() when the G last parked,
  // written by the G itself in gopark beside waitreason (and read, like it,
  // only with the world stopped). label: the G's name (goro::named,
  // goro::set_label), heap-allocated so an unnamed G pays one null pointer;
  // written by the G itself (or by go() before the G is runnable) under
  // rt->allg_mu, read under allg_mu, freed in goexit1. gopc: the return
  // address of the go() call that created it (newg_begin), parentgoid: the
  // creating goroutine's id (0: a thread outside the runtime); both written
  // before the G is published by newg_commit.
  std::int64_t waitsince = 0;
  std::string* label = nullptr;
  std::uintptr_t gopc = 0;
  std::uint64_t parentgoid = 0;
  trace::g_state trace;  // the execution tracer's (trace/state.hpp)
  alignas(std::max_align_t) unsigned char storage[g_inline_task_bytes];
  // Cold, so after everything a switch touches:
  // When the G last became runnable, valid while latency_seq says this
  // runnable period is sampled (see latency_seq).
  std::int64_t runnable_since = 0;
  // goid again, for readers without any ordering with newproc's write (the
  // schedtrace/scheddetail printer in sysmon reads every G's id while a P
  // may be recycling one). Written next to goid by newproc, relaxed.
  detail::atomic<std::uint64_t> goid_racy{0};
};

// What the context we switch to must do for the one we left, once we are off
// its stack (Go's mcall(fn) / gopark unlockf): requeue a yielded G, commit a
// park by releasing the wait-queue lock, or recycle a dead G.
using post_switch_fn = void (*)(m* mp, g* prev, void* arg);

struct m {
  std::int64_t id = 0;
  runtime* rt = nullptr;
  fcontext_t g0ctx = nullptr;  // the scheduler loop's context while a G runs
  fiber_san g0san;
  eh_state g0eh;                  // g0's exception state while a G runs
  eh_state* thread_eh = nullptr;  // this M's thread's live state (thread_eh_state())
  // The G this M runs, or runs a blocking call for (null on g0 between Gs).
  // Written only by the M's own thread; read by that thread, its signal
  // handler and the stopped-world auditor (sched/audit.hpp), which reads it
  // from another thread without a lock while an M on its way out of a call
  // may clear it. Atomic for that one racy reader, always relaxed: the
  // value orders nothing (the reads that need the G's state get it through
  // the status and the P handshakes), and a relaxed access is a plain mov
  // on x86.
  detail::atomic<g*> curg{nullptr};
  p* p_ = nullptr;     // attached P (Go: m.p)
  p* nextp = nullptr;  // P handed over by startm
  p* oldp = nullptr;   // P left in state syscall by entersyscall (Go: m.oldp)
  int tid = 0;         // kernel thread id, for sysmon's preemption signal
  // The thread's blocked-signal mask (signals 1..64) when it became an M.
  // The SIGURG handler refuses to preempt when the interrupted mask differs:
  // the thread is then inside a signal handler or a region the program
  // masked, both per-thread states a goroutine must not carry to another M.
  // Written once by the M's own thread before it runs any goroutine.
  std::uint64_t sigmask = 0;
  bool spinning = false;  // looking for work to steal, counted in nmspinning
  note park;              // sleeps here when idle (stopm, stoplockedm)
  // The G wired to this M by lock_os_thread (Go: m.lockedg), or null: while
  // set, this M runs no other G and the G runs on no other M. Written only
  // by that G on this M (lock_os_thread, unlock_os_thread, goexit1), read by
  // this M's own thread (schedule_loop, the G-side fast path) and, relaxed,
  // by the stopped-world auditor (why it is an atomic: see g::lockedm).
  detail::atomic<g*> lockedg{nullptr};
  // lock_os_thread calls not yet undone (Go 1.10+'s m.lockedExt); lockedg
  // is set while it is non-zero. Only the locked G, on this M, touches it.
  std::uint32_t locked_ext = 0;
  // Set by post_exitsyscall0 when a locked G came back from a blocking call
  // without its P but found an idle one: schedule_loop runs lockedg at once
  // instead of waiting in stoplockedm. Only this M's thread touches it.
  bool locked_resume = false;
  // Sleeping in stoplockedm (counted in sched_locked::nmidlelocked), so
  // begin_shutdown must wake it. Written and read under sched.lock.
  bool idlelocked = false;
  // Set by goexit1 when the G that exits was locked to this M: the thread
  // may hold state other goroutines must not inherit, so the M retires
  // (mexit_locked) instead of running another G (Go's goexit0 -> mexit).
  // Only this M's thread touches it.
  bool mexit = false;
  m* schedlink = nullptr;  // idle M list
  std::uint64_t fastrand = 0;
  // The switch in progress: who we left and what to do for them.
  g* sw_from = nullptr;  // nullptr: we left g0
  post_switch_fn sw_post = nullptr;
  void* sw_arg = nullptr;
};

constexpr std::uint32_t runq_capacity = 256;

// Scheduling event counters (read summed as sched_stats, proc.hpp). A P's
// set is written only by the M holding it, with owner_add (relaxed load and
// store, no read-modify-write: one writer), so counting costs no more than
// a plain increment and stays always on; readers load them relaxed (a
// count, not a synchronization). The runtime's own set counts events of Ms
// without a P (foreign threads, goroutines inside blocking()) and the totals
// of Ps removed by procresize, with relaxed fetch_add.
// The scheduling-latency histogram's buckets (/sched/latencies:seconds,
// spec/metrics.md): [0, 64 ns), then each power of two from 64 ns to 2^36 ns
// (68.7 s) split into 4 equal sub-buckets, then [2^36 ns, +Inf).
constexpr std::size_t latency_sub_bits = 2;
constexpr int latency_min_exp = 6, latency_max_exp = 36;
constexpr std::size_t latency_buckets = 2 + (latency_max_exp - latency_min_exp) *
                                                (std::size_t(1) << latency_sub_bits);
constexpr std::size_t latency_bucket(std::int64_t ns) {
  if (ns < (std::int64_t(1) << latency_min_exp)) return 0;
  int e = 63 - __builtin_clzll(static_cast<std::uint64_t>(ns));
  if (e >= latency_max_exp) return latency_buckets - 1;
  std::size_t sub = (static_cast<std::uint64_t>(ns) >> (e - latency_sub_bits)) &
                    ((std::size_t(1) << latency_sub_bits) - 1);
  return 1 + static_cast<std::size_t>(e - latency_min_exp) * (std::size_t(1) << latency_sub_bits) +
         sub;
}
constexpr std::size_t wait_reasons = static_cast<std::size_t>(wait_reason::count_);

struct sched_counters {
  detail::atomic<std::uint64_t> schedules{0};  // a G given the CPU (execute, G-side switch)
  detail::atomic<std::uint64_t> steals{0};     // Gs taken from another P's queue
  detail::atomic<std::uint64_t> readies{0};    // goready (waiting -> runnable)
  detail::atomic<std::uint64_t> syscalls{0};   // entersyscall (blocking(), with a P)
  detail::atomic<std::uint64_t> preempts{0};   // cooperative preemptions served
  // gopark, by wait reason (their sum: sched_stats::parks).
  detail::atomic<std::uint64_t> parks[wait_reasons] = {};
  // Sampled runnable -> running times, by latency_bucket.
  detail::atomic<std::uint64_t> latency[latency_buckets] = {};
  // Adds every count of `from` to this set and zeroes `from` (procresize
  // folding a removed P into the runtime's set; the world is stopped).
  void fold(sched_counters& from);
};

struct alignas(64) p {
  std::int32_t id = 0;
  detail::atomic<pstatus> status{pstatus::stopped};
  // Holding M (Go: p.m), written by acquirep/releasep/entersyscall. Atomic
  // because sysmon reads it to signal the M (acquire, pairing with the
  // release store in acquirep, so m::tid is visible); everyone else reads
  // it relaxed under the ownership rules above.
  detail::atomic<m*> m_{nullptr};
  // Incremented by the holder on every schedule that starts a new time
  // slice (not when a G inherits one through runnext), and read by sysmon
  // to see whether the same G has run for too long (relaxed: a stale value
  // only shifts the preemption by one sysmon tick).
  detail::atomic<std::uint32_t> schedtick{0};
  // Incremented on every entersyscall/exitsyscall and retake, so sysmon can
  // tell a long blocking call from a series of short ones (Go: syscalltick).
  detail::atomic<std::uint32_t> syscalltick{0};
  // Set by sysmon (or stop-the-world) to ask the G running on this P to
  // yield: checked at scheduling points and preempt_point(), and by the
  // SIGURG handler. Cleared when the P starts another G.
  detail::atomic<bool> preempt{false};
  // Set by sysmon, just before it signals the P's M, when the G has ignored
  // preemption requests for a slice and the M's thread sleeps in the kernel
  // (/proc): the SIGURG handler may then detach the M from this P (see
  // exitsyscall_pending). Cleared by the handler that acts on it and by
  // sysmon when the P starts another slice. A hint: acting on a stale one
  // only costs a thread, since detaching is sound wherever the handler
  // allows it.
  detail::atomic<bool> kernel_blocked{false};
  p* link = nullptr;  // idle P list
  // On the idle list (Go's idlepMask). Written under sched.lock, read
  // racily by stealers to skip Ps with nothing to steal (a hint).
  detail::atomic<bool> idle_listed{false};

  // The local run queue (Go's runqhead/runqtail/runq/runnext). See
  // sched/local_runq.hpp for the protocol, the reason behind each memory
  // order and who may use which member; the runtime enters it through
  // sched/runq.hpp.
  local_runq<g, runq_capacity, runq_orders, runq_hook> runq;

  // Dead Gs with their stacks, for reuse by this P (Go: p.gFree).
  g* gfree = nullptr;
  std::int32_t gfreecnt = 0;
  // goid cache (Go: p.goidcache/goidcacheend): ids handed out in batches.
  std::uint64_t goidcache = 0, goidcacheend = 0;
  // Goroutines created and finished on this P; summed by num_goroutine.
  // Written only by the holder (load+store, no RMW), read by anyone.
  detail::atomic<std::uint64_t> ncreated{0}, nfinished{0};
  // The execution tracer's (trace/state.hpp).
  trace::p_state trace;
  std::uint32_t spawn_since_budget_check = 0;

  timer_heap timers;

  // sysmon's own view of this P (Go: p.sysmontick); only sysmon touches it.
  struct {
    std::uint32_t schedtick = 0, syscalltick = 0;
    std::int64_t schedwhen = 0, syscallwhen = 0;
    std::int64_t preempted_slice = -1;  // schedwhen of the slice last preempted
    std::int64_t kernel_checked = 0;    // when sysmon last read the M's thread state
    std::int64_t stall_reported = -1;   // schedwhen of the slice last reported stalled
  } sysmontick;

  // This P's scheduling events (holder writes). Last: with its per-reason
  // and histogram arrays it spans over 1 KB, which would push the fields above
  // (the run queue, timers.when0, read on every switch) apart.
  sched_counters stat;
};

constexpr std::uint32_t max_procs = 1024;

// The scheduler's global state (Go's schedt) in two parts:
//  - sched_locked: what sched.lock guards. Reachable only through the lock:
//    schedt::lock() returns a guard, and a function that needs the lock held
//    takes a sched_locked& (which only a guard hands out), so code that
//    touches these fields without the lock does not compile.
//  - the rest of schedt: atomics read without the lock. Each says who writes
//    it and why a racy read is enough.
struct sched_locked {
  // Global run queue, FIFO through g::schedlink (its length: runqsize).
  g* runqhead = nullptr;
  g* runqtail = nullptr;
  p* pidle = nullptr;  // idle P list, through p::link (its length: npidle)
  m* midle = nullptr;  // idle M list, through m::schedlink
  std::int32_t nmidle = 0;
  // Ms sleeping in stoplockedm, their locked G not runnable (Go's
  // sched.nmidlelocked); checkdead counts them as not running.
  std::int32_t nmidlelocked = 0;
  // Ms alive: created by newm, minus the Ms retired because their locked G
  // exited (mexit_locked); no other M exits before shutdown.
  std::int32_t mcount = 0;
  std::int32_t stopwait = 0;  // Ps a stop-the-world still waits for
  g* gfree = nullptr;         // dead Gs beyond the per-P caches (its length: ngfree)
  std::vector<m*> allm;       // every M, freed at teardown
  // Set by checkdead when it has declared a deadlock, so that it does so once.
  bool deadlocked = false;
  // Ms whose thread the template thread is to create (Go's newmHandoff):
  // newm called on a thread that may be tainted (an M wired to a goroutine,
  // or retiring because its locked goroutine exited) must not clone it.
  std::vector<m*> newm_handoff;
  // 1 once the template thread exists (checkdead counts it as the runtime's).
  std::int32_t ntemplate = 0;
};

class schedt;

// Holds sched.lock from construction until unlock() or destruction, and is
// the only way to reach sched_locked. Not movable: a lock is released where
// it was taken (the scheduler never hands sched.lock across a switch).
// A scoped capability for clang's analysis: construct it as
// `sched_guard l(rt.sched);` so the analysis sees sched.lock taken there
// (through schedt::lock() it cannot: the acquisition happens inside lock()).
class GORO_SCOPED_CAPABILITY [[nodiscard]] sched_guard {
 public:
  explicit sched_guard(schedt& s);  // GORO_ACQUIRE(s.mu_), at the definition
  ~sched_guard() GORO_RELEASE() {
    if (s_) unlock();
  }
  sched_guard(const sched_guard&) = delete;
  sched_guard& operator=(const sched_guard&) = delete;
  sched_locked* operator->() const noexcept { return locked_; }
  sched_locked& operator*() const noexcept { return *locked_; }
  // Releases the lock before the end of the scope (a slow path that must not
  // hold it, or a hand-off); the guard is then empty.
  void unlock() noexcept GORO_RELEASE();

 private:
  schedt* s_;
  sched_locked* locked_;
};

class schedt {
 public:
  // Takes sched.lock, for a guard used within one expression (tests:
  // `globrunqget(rt, *rt.sched.lock(), ...)`). A guard that lives in a
  // scope is constructed directly (see sched_guard). Lock order (spec/
  // memory-model.md, "Lock order"): sched.lock before allg_mu (checkdead)
  // and before a P's timer_heap lock (destroy_p_locked).
  sched_guard lock() { return sched_guard(*this); }

  // Racy hints: written under the lock (by sched_locked's users), read
  // without it by code that only decides whether to look further (a stale
  // value costs a lock round or defers work to a later check, never a
  // lost G: every decision that matters is retaken under the lock).
  detail::atomic<std::int32_t> runqsize{0};  // length of the global run queue
  detail::atomic<std::int32_t> npidle{0};    // length of the idle P list
  detail::atomic<std::int32_t> ngfree{0};    // length of the global free list
  // Set (under lock) when someone found work but no idle P to start an M
  // on; a non-spinning M about to idle its P spins instead (Go 1.21's
  // sched.needspinning). Relaxed: written and tested under lock.
  detail::atomic<bool> needspinning{false};

  // Spinning Ms; changed only through the spinning transitions
  // (spinning.cpp), never under the lock's protection alone.
  detail::atomic<std::int32_t> nmspinning{0};

  // Stop-the-world (procresize): see stop_the_world in procresize.cpp.
  // gcwaiting is stored under the lock and read racily by every M at its
  // scheduling points; stopnote wakes the stopper.
  detail::atomic<bool> gcwaiting{false};
  note stopnote;

  // The one M that, having found no work, blocks in netpoll until the
  // earliest timer (or indefinitely, if goroutines wait for the network and
  // no timer is pending) instead of parking in stopm (Go's M blocked in
  // netpoll with a timeout). Claimed by CAS; timer_sleep_until is its
  // deadline (INT64_MAX: none; 0: no sleeper), read by whoever adds an
  // earlier timer and must then wake it (wake_timer_sleeper: netpoll_break).
  detail::atomic<m*> timer_sleeper{nullptr};
  atomic<std::int64_t> timer_sleep_until{0};

 private:
  friend class sched_guard;
  // sched.lock. The analysis knows it as `s.mu_` in sched_guard and as
  // `rt.sched.mu_`-style paths nowhere else: the guarded state is reached
  // through the guard, so only the guard names the lock.
  // Lock order (spec/memory-model.md, "Lock order"): before any P's timer
  // heap lock, which clang checks (-Wthread-safety-beta) wherever both are
  // held through a guard in one function.
  futex_lock mu_ GORO_ACQUIRED_BEFORE(timer_heap::lock);
  sched_locked locked_ GORO_GUARDED_BY(mu_);
};

// Taking the address of locked_ is not an access; the guard hands it out
// only while it holds mu_.
inline sched_guard::sched_guard(schedt& s) GORO_ACQUIRE(s.mu_) : s_(&s), locked_(&s.locked_) {
  s.mu_.lock();
}
inline void sched_guard::unlock() noexcept GORO_RELEASE() {
  s_->mu_.unlock();
  s_ = nullptr;
  locked_ = nullptr;
}

struct runtime {
  runtime(const options& o, unsigned nprocs);
  ~runtime();

  options opts;
  // Distinguishes runtimes over the process's life (a poll descriptor
  // remembers the one whose epoll instance it is registered with; a new
  // runtime may reuse an old one's address).
  std::uint64_t gen;
  schedt sched;
  netpoller netpoll;
  detail::atomic<std::uint32_t> gomaxprocs{0};
  detail::atomic<p*> allp[max_procs] = {};
  // Strides coprime to gomaxprocs, for stealing in random order. Written only
  // with the world stopped.
  std::vector<std::uint32_t> steal_coprimes;

  stack_allocator stacks;
  std::size_t guarded_budget = 0;  // live goroutines allowed with guarded stacks

  detail::atomic<std::uint64_t> goidgen{0};
  detail::atomic<std::int64_t> mnext{0};
  // Goroutines counted outside any live P: spawned from foreign threads and
  // the totals of Ps removed by procresize.
  detail::atomic<std::int64_t> nretired_created{0}, nretired_finished{0};

  sema world_sema;  // serializes stop-the-world (gomaxprocs)

  std::mutex allg_mu;
  std::vector<g*> allgs;  // every g struct ever allocated; freed at teardown

  // Shutdown: set when main returns; every M leaves at its next scheduling
  // point.
  detail::atomic<bool> stopping{false};
  // Ms in the scheduler: running a goroutine, looking for one or idle, but
  // not inside a blocking call (Ms leave the count in entersyscall and
  // rejoin it in exitsyscall, and leave it for good when their loop ends).
  // Once `stopping` is set and this is zero, no goroutine runs and none can
  // park or be readied by the runtime: run_main waits for that before it
  // abandons the waiters (see begin_shutdown). seq_cst: a Dekker pair with
  // `stopping` (msched_leave, exitsyscall, run_main).
  detail::atomic<std::uint32_t> nmsched{0};
  // Woken by begin_shutdown (run_main sleeps on it while main runs), and by
  // the M whose msched_leave empties nmsched while stopping.
  note shutdown_note;
  // Set by checkdead (under sched.lock) when it has declared a deadlock, so
  // that it does so once.
  bool deadlocked = false;
  // Set by checkdead (under sched.lock) when everything in the runtime is
  // asleep but the deadlock could not be proven because threads outside the
  // runtime exist (options::detect_deadlock automatic); sysmon then asks
  // checkdead again (checkdead_recheck) until it is proven or the state
  // changes, since such a thread may exit without any M noticing. Relaxed:
  // sysmon's read is a hint; the recheck runs under sched.lock.
  detail::atomic<bool> deadlock_unproven{false};
  m* m0 = nullptr;
  g* main_g = nullptr;
  std::exception_ptr main_exc;

  // The template thread (Go's templateThread, lockosthread.cpp): started by
  // the first lock_os_thread, while the caller's thread is still clean; it
  // creates the threads of Ms asked for on a thread that may carry state a
  // locked goroutine put there, which a clone would copy (its name, its
  // signal mask, an unshared fs). It is created under sched.lock, and
  // sched_locked::ntemplate says it exists; template_started is a relaxed
  // hint of the same, so that later lock_os_thread calls skip the lock.
  // template_note wakes it; template_quit (set by run_main after the
  // scheduler has drained) ends it.
  std::thread template_thread;
  note template_note;
  detail::atomic<bool> template_started{false};
  detail::atomic<bool> template_quit{false};

  // sysmon (src/sysmon/sysmon.cpp): its thread, the note it sleeps on
  // between ticks (woken early at shutdown), and what it has done.
  std::thread sysmon_thread;
  note sysmon_note;
  detail::atomic<std::uint64_t> nasync_preempts{0}, nretakes{0};
  // Events counted outside any P (see sched_counters), and handoffp calls
  // (made by sysmon or by an M that has just let go of its P).
  sched_counters nop_stat;
  detail::atomic<std::uint64_t> nhandoffs{0};
  // Ms the SIGURG handler detached from their P while their thread was
  // blocked in the kernel outside goro's knowledge (entersyscall_for_blocked_thread).
  detail::atomic<std::uint64_t> nkernel_detaches{0};
  // Ms that blocked in netpoll for lack of work (findrunnable's
  // block_in_netpoll), relaxed: a count.
  detail::atomic<std::uint64_t> nnetpoll_blocks{0};

  // GORO_DEBUG, parsed by run_main before the runtime exists; read-only after.
  debug_settings debug;

  // Lifetime: the instance outlives run() while abandoned Ms still run.
  detail::atomic<int> refs{1};
  void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
  // acq_rel: the last releaser must see every other M's writes before
  // destroying the instance.
  void release() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

// The G running on this thread, or nullptr on g0 and foreign threads. One
// TLS load: safe anywhere, even where an asynchronous preemption may move
// the G to another M right after the load (the value is the same G there).
g* getg();
// The M running on this thread, or nullptr. Never inlined and never pure: a
// goroutine can resume on another thread, so a cached thread_local address
// would be stale (see shared/design.md, "thread_local across a switch").
m* getm();
m* getm_unchecked();  // for the SIGURG handler only
void setm(m* mp);

// Marks a stretch of runtime code run by a goroutine as not preemptible
// asynchronously (Go: acquirem/releasem). Every runtime entry point reachable
// from goroutine code that uses getm() holds one: getm()'s answer is only
// good while the G cannot be moved to another M behind the code's back. With
// GORO_CHECK_INVARIANTS, getm() from a goroutine outside one is fatal.
struct nopreempt {
  g* gp;
  nopreempt() noexcept;
  // Inline: every runtime entry point ends one (the constructor, with its
  // rare exitsyscall_implicit path, is out of line in switch.cpp).
  ~nopreempt() {
    if (gp) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      owner_add(gp->preemptoff, -1);
    }
  }
  nopreempt(const nopreempt&) = delete;
  nopreempt& operator=(const nopreempt&) = delete;
};

// For the auditor's checks that a stretch runs inside a nopreempt region:
// true on a thread with no goroutine (g0, a foreign thread), or for a
// goroutine whose preemptoff is held. relaxed: only this G's thread (and a
// signal on it) writes the count.
inline bool unpreemptible() noexcept {
  g* gp = getg();
  return !gp || gp->preemptoff.load(std::memory_order_relaxed) > 0;
}

}  // namespace goro::detail
