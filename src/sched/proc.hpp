// Scheduler internals shared across src/ (Go's proc.go). See proc.cpp.
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
void acquirep(m* mp, p* pp);
p* releasep(m* mp);

// Idle lists; caller holds rt.sched.lock.
void pidleput(runtime& rt, p* pp);
p* pidleget(runtime& rt);
void mput(runtime& rt, m* mp);
m* mget(runtime& rt);

// Wakes an idle P with a spinning M if there is an idle P and no spinning M.
void wakep(runtime& rt);
// The submission side of the spinning protocol: call after making a G
// runnable on a local queue.
void ready_wake(runtime& rt);
// Starts an M (idle or new) to run pp, or an idle P if pp is null.
void startm(runtime& rt, p* pp, bool spinning);
// Puts gp on the global queue from a context without a P (a foreign thread)
// and starts an M on an idle P if there is one.
void injectg(runtime& rt, g* gp);

// Goroutine-side scheduling, called on the G's own stack.
void gosched();  // Gosched
// Parks the current G: status waiting, switch away, then unlockf(arg) runs on
// the next context, after the G's context is saved (Go's unlock-after-commit).
void gopark(post_switch_fn unlockf, void* arg, wait_reason reason);
// Makes a waiting G runnable: runnext of the caller's P, or the global queue
// from a thread without a P.
void goready(g* gp);
[[noreturn]] void goexit1();

// Stop and restart the world around procresize (gomaxprocs).
void stop_the_world(m* mp);
void start_the_world(m* mp, unsigned newprocs);

// Preemption requests (sysmon, stop-the-world): request_preempt sets pp's
// flag (false if it was already set); clear_preempt clears it when pp starts
// another G. preemptone requests and, with async_preempt, signals pp's M
// (src/sysmon/preempt.cpp).
bool request_preempt(p* pp);
void clear_preempt(p* pp);
void preemptone(runtime& rt, p* pp);
// The SIGURG handler's entersyscall on behalf of a G whose thread sysmon
// found blocked in the kernel (p::kernel_blocked): the M lets go of its P
// exactly as in entersyscall, and the G's next runtime entry runs
// exitsyscall (g::exitsyscall_pending). Returns whether it detached.
bool entersyscall_for_blocked_thread(g* gp) noexcept;
// Gives away a P that no M holds any more (retaken from a blocking call, or
// handed off by entersyscallblock): to an M if there is work for it,
// otherwise to the idle list (Go's handoffp).
void handoffp(runtime& rt, p* pp);
// Runs the asynchronous preemption of the current G, called by the
// trampoline the SIGURG handler injected: the G goes to the global queue as
// if it had yielded (Go's gopreempt_m).
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
  // Every scheduling event counted above (retakes are part of handoffs).
  std::uint64_t events() const {
    return goroutines_created + goroutines_exited + schedules + steals + parks + readies +
           syscalls + handoffs + preempts_cooperative + preempts_async;
  }
};
sched_stats read_sched_stats(runtime& rt);
// For the runtime of the calling goroutine, or the active one from another
// thread. False if none runs.
bool read_sched_stats(sched_stats& out);

// Called by sysmon: if checkdead last found everything asleep but could not
// prove a deadlock because of threads outside the runtime, asks it again
// (under sched.lock) and, if it is proven now, ends the run with it.
void checkdead_recheck(runtime& rt);

// The active runtime for calls from threads that are not Ms; retained, so the
// caller must release it. nullptr if none runs.
runtime* acquire_active();

}  // namespace goro::detail
