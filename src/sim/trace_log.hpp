// The simulation's trace log (build option GORO_SIM; spec/simulation.md,
// "Trace validation"): with GORO_SIM_TRACE=DIR set, a session logs the
// runtime's actions at the granularity of the TLA+ models, in the session's
// exact order, and writes them at its end as TLA+ modules that TLC checks
// against the specs (tla/RunQueueTrace.tla for the run queues,
// tla/PHandoffTrace.tla for the P hand-off protocol; ci/sim_trace.sh).
//
// Exact order: a hook is called by the baton holder right after the atomic
// (or the critical section) that decided the action, with no scheduling
// point in between, so no other thread runs between the action and its log
// entry, and the order of appends is the order of the actions. The log
// itself is plain memory touched only by the baton holder (participant()),
// so it adds no synchronization; outside a session, and in every build but
// GORO_SIM, nothing calls it.
//
// Called from: the runtime's hooks (runq_sim_hook in sched/runtime.hpp, the
// P-protocol sites under `if constexpr (sim)`); run_main around a session;
// fatal(). Locks: any. May switch: no.
#pragma once
#include <cstdint>

namespace goro::detail {
struct runtime;
struct p;
struct m;
}  // namespace goro::detail

namespace goro::detail::simulator {

// run_main, right after begin_session: reads GORO_SIM_TRACE, starts a log.
void trace_log_begin() noexcept;
// run_main, once the session's runtime exists: the runtime whose Ps' run
// queues the hooks log (the first put, of the main goroutine, is made by
// run's thread, which is no M).
void trace_log_runtime(const runtime* rt) noexcept;
// run_main, after end_session: writes the log's modules (GORO_SIM_TRACE).
void trace_log_end() noexcept;
// fatal() and a test's abort handler: writes what was logged so far, so a
// failing run (a mutant's) still yields a trace for TLC to reject.
void trace_log_flush() noexcept;
// True when the calling thread's actions are being logged.
bool trace_log_on() noexcept;

// The P hand-off protocol's events (tla/PHandoffTrace.tla), each logged
// right after the store, CAS or locked section that makes it, by the thread
// that made it. mp: the acting M, where the event has one.
enum class pev : std::uint8_t {
  acquire,       // acquirep: mp took pp (status running)
  release,       // releasep: mp let go of pp (status idle, not listed)
  pidleput,      // pp went on the idle list (sched.lock held)
  pidleget,      // pp left the idle list (sched.lock held)
  entersyscall,  // mp detached pp for a blocking call (status syscall)
  retake,        // sysmon's CAS took pp, syscall -> idle
  handoff,       // handoffp gives pp to an M it starts (startm)
  stw_begin,     // stop_the_world begins (gomaxprocs, ...): not modelled
  stw_end,       // start_the_world, under sched.lock: every P's state
  // The spinning protocol (sched/spinning.hpp). v: the value of
  // sched.nmspinning the RMW read, where the event is one.
  claim,      // claim_spinning's CAS 0 -> 1 won, for an M yet to be started
  unclaim,    // drop_spinning of a claim no M took (wakep, startm: no idle P)
  handspin,   // startm / newm gave the claim to mp (m.spinning = true)
  spin,       // become_spinning: mp spins (m.spinning, nmspinning++)
  spinclear,  // become_spinning's second half: needspinning = false
  dropspin,   // drop_spinning of mp's own count (findrunnable's give-up,
              // resetspinning, gcstopm); m.spinning was cleared just before
  needspin,   // pidleget_spinning found no idle P: needspinning = true
  dropidle,   // findrunnable's give-up: mp, holding no P, drops its count
              // (then the re-check)
  recheck,    // the re-check of every run queue begins (after the fence)
  stopm,      // mp parks on the idle M list (sched.lock held)
  giveup,     // give_up_p, under sched.lock: mp releases pp (the needspinning
              // check passed)
};
void trace_p(pev e, const p* pp, const m* mp, int v = 0) noexcept;
// drop_spinning(where): an unclaim (where is "wakep" or "startm") or the
// calling M's dropspin; old: the value its fetch_sub read.
void trace_drop_spinning(const char* where, int old) noexcept;

}  // namespace goro::detail::simulator
