// The scheduler's interface to the rest of src/ (Go's runtime/proc.go). The
// implementation is split by concern over src/sched/*.cpp (see
// sched/internal.hpp for the map).
//
// Every entry point states its contract in one fixed form:
//   Called from: G with P | G in a call (inside blocking(), no P) | g0 |
//                sysmon | foreign thread | signal handler
//   Locks:       none held | holds X | takes X
//   May switch:  yes (the calling G may resume on another M) | no
#pragma once
// goro.hpp: the public declarations of what the scheduler defines (yield,
// entersyscall, preempt_pending...), whose GORO_API must be seen where they
// are defined for a shared libgoro to export them.
#include "goro/goro.hpp"
#include "sched/runq.hpp"
#include "sched/runtime.hpp"

namespace goro::detail {

// M/P binding (Go: acquirep/releasep). Invariant OneMPerP: mp->p_ == pp iff
// pp->m_ == mp, established and broken only here.
// Called from: the M taking or dropping pp (g0, or its G in exitsyscall /
// entersyscall). Locks: none required (pp is the caller's by the idle list,
// a CAS on its status, or startm's hand-over). May switch: no.
void acquirep(m* mp, p* pp, bool trace_start = true);  // trace_start: see exitsyscall
p* releasep(m* mp);

// The idle P and idle M lists (Go: pidleput, pidleget, mput, mget).
// Called from: any M, sysmon, run_main. Locks: holds sched.lock (the
// sched_locked& proves it). May switch: no.
void pidleput(runtime& rt, sched_locked& l, p* pp);
p* pidleget(runtime& rt, sched_locked& l);
void mput(sched_locked& l, m* mp);
m* mget(sched_locked& l);

// Starts a spinning M on an idle P if no M spins yet (Go's wakep).
// Called from: ready_wake. Locks: none held; takes sched.lock. May switch: no.
void wakep(runtime& rt);

// Starts an M (an idle one, or a new thread) to run pp, or an idle P if pp
// is null; does nothing if pp is null and no P is idle.
// Precondition: if `spinning`, the caller has already counted the M in
// nmspinning (claim_spinning) and startm only hands that count over to it,
// or gives it back (drop_spinning) when no P is found.
// Called from: G with P (wakep, start_the_world), g0, G in a call and
// sysmon (handoffp), foreign thread (injectg), sysmon (an overdue timer).
// Locks: none held; takes sched.lock. May switch: no.
void startm(runtime& rt, p* pp, bool spinning);

// Puts gp (runnable) on the global queue from a context without a P and
// starts an M on an idle P if there is one. Unlike Go's injectglist, the put
// and the idle-P check are one sched.lock critical section, so an M that
// drops its P after re-checking the global queue under the same lock cannot
// be missed.
// Called from: foreign thread, G in a call, sysmon and g0 without a P
// (goready's P-less path, newg_commit). Locks: none held; takes sched.lock.
// May switch: no.
void injectg(runtime& rt, g* gp);

// Yields the processor (Go's Gosched); inside blocking() it only yields the
// thread. Called from: G. Locks: none held. May switch: yes.
void gosched();
// Parks the current G: status waiting, switch away, then unlockf(arg) runs
// on the next context, after the G's context is saved (Go's
// unlock-after-commit). Called from: G with P. Locks: the caller may hold
// a wait-queue lock that unlockf releases, nothing else. May switch: yes.
void gopark(post_switch_fn unlockf, void* arg, wait_reason reason);
// Makes a waiting G runnable: runnext of the caller's P, or the global queue
// from a thread without a P. Called from: anywhere but a signal handler.
// Locks: none of the scheduler's held (takes sched.lock without a P).
// May switch: no.
void goready(g* gp);
// Ends the current G. Called from: G with P. Locks: none held. May switch:
// never returns.
[[noreturn]] void goexit1();

// Stop and restart the world around procresize (gomaxprocs).
// Called from: G with P, holding rt.world_sema. Locks: takes sched.lock.
// May switch: no (the G keeps its M throughout).
void stop_the_world(m* mp);
void start_the_world(m* mp, unsigned newprocs);

// Preemption requests. request_preempt sets pp's flag (false if it was
// already set); clear_preempt clears it when pp starts another G.
// preemptone requests and, with async_preempt, signals pp's M
// (src/sysmon/preempt.cpp).
// Called from: sysmon, the stopper of the world, run's thread at shutdown
// (request, preemptone); the holder of pp or the stopped world (clear).
// Locks: none held. May switch: no.
bool request_preempt(p* pp);
void clear_preempt(p* pp);
void preemptone(runtime& rt, p* pp);

// The SIGURG handler's entersyscall on behalf of a G whose thread sysmon
// found blocked in the kernel (p::kernel_blocked): the M lets go of its P
// exactly as in entersyscall, and the G's next runtime entry runs
// exitsyscall (g::exitsyscall_pending). Returns whether it detached.
// Called from: signal handler, on the G's own thread, with the G running
// user code (preempt.cpp: is_detachable). Locks: none held, none taken.
// May switch: no.
bool entersyscall_for_blocked_thread(g* gp) noexcept;

// Gives away a P that no M holds any more (retaken from a blocking call, or
// handed off by entersyscallblock): to an M if there is work for it,
// otherwise to the idle list (Go's handoffp).
// Called from: sysmon (retake), G in a call (entersyscall with handoff).
// Locks: none held; takes sched.lock. May switch: no.
void handoffp(runtime& rt, p* pp);

// Runs the asynchronous preemption of the current G, called by the
// trampoline the SIGURG handler injected: the G goes to the global queue as
// if it had yielded (Go's gopreempt_m).
// Called from: G, on its own stack, outside the handler (preemptoff set by
// the handler). Locks: none held. May switch: yes.
extern "C" void goro_async_preempt_park();

// The runtime's scheduling event counts, summed over every P and the
// counters kept outside them. Names follow Go's runtime/metrics where it has
// one (goroutines_created: /sched/goroutines-created:goroutines; goroutines:
// /sched/goroutines:goroutines). Each count is exact once the events it
// counts are over (the writes are relaxed; a read racing with them may miss
// the latest), and while no gomaxprocs change folds a removed P's counts.
struct sched_stats {
  std::uint64_t goroutines_created = 0, goroutines_exited = 0;
  std::int64_t goroutines = 0;  // live: created - exited
  std::uint64_t schedules = 0, steals = 0, parks = 0, readies = 0, syscalls = 0;
  std::uint64_t handoffs = 0, retakes = 0;
  // Of syscalls, those the SIGURG handler made on behalf of a G whose thread
  // sleeps in the kernel on a lock goro cannot see (preempt.cpp: detach).
  std::uint64_t kernel_detaches = 0;
  std::uint64_t preempts_cooperative = 0, preempts_async = 0;
  // parks split by wait reason (their sum is parks).
  std::uint64_t parks_by_reason[wait_reasons] = {};
  // Sampled runnable -> running times, by latency_bucket (runtime.hpp).
  std::uint64_t latency[latency_buckets] = {};
  // Ms that blocked in netpoll (for sockets or timers) for lack of work.
  std::uint64_t netpoll_blocks = 0;
  // Every scheduling event counted above (retakes are part of handoffs).
  std::uint64_t events() const {
    return goroutines_created + goroutines_exited + schedules + steals + parks + readies +
           syscalls + handoffs + preempts_cooperative + preempts_async;
  }
};
// Called from: anywhere but a signal handler. Locks: none. May switch: no.
sched_stats read_sched_stats(runtime& rt);
// For the runtime of the calling goroutine, or the active one from another
// thread. False if none runs.
bool read_sched_stats(sched_stats& out);

// The calling goroutine's lock_os_thread count (Go's export_test
// LockOSCounts, external half; goro has no internal locks), 0 outside a
// goroutine. For tests. Called from: G. Locks: none. May switch: no.
std::uint32_t lock_os_count();

// If checkdead last found everything asleep but could not prove a deadlock
// because of threads outside the runtime, asks it again and, if it is proven
// now, ends the run with it.
// Called from: sysmon. Locks: none held; takes sched.lock. May switch: no.
void checkdead_recheck(runtime& rt);

// The active runtime for calls from threads that are not Ms; retained, so the
// caller must release it. nullptr if none runs.
// Called from: foreign thread, G in a call, or any M asking for its own
// runtime's liveness. Locks: takes active_mu (a std::mutex: not from a
// signal handler). May switch: no.
runtime* acquire_active();

}  // namespace goro::detail
