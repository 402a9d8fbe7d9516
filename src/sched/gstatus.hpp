// G status transitions (Go's casgstatus), the one place a G's status moves.
//
// Invariant GStatus: every G status change is one Go allows (casgstatus):
//              dead     -> runnable  (newproc: a new or recycled G)
//              runnable -> running   (execute, the G-side fast path)
//              running  -> runnable  (Gosched, preemption)
//              running  -> waiting   (gopark)
//              waiting  -> runnable  (goready)
//              running  -> syscall   (entersyscall)
//              syscall  -> running   (exitsyscall, fast path)
//              syscall  -> runnable  (exitsyscall, no P: to the global queue)
//              running  -> dead      (goexit)
//            and the status is the one the caller expects (read just
//            before the store, so of two racing transitions of one G the
//            second is caught unless both fall in that window).
//
// Checked (fatal on violation) in builds with GORO_CHECK_INVARIANTS; see
// sched/audit.hpp for the invariants checked at a stopped world.
//
// Light on purpose (no sched/runtime.hpp): casgstatus is a template over the
// G, so the c11/ check of the park/ready handshake (c11/park_c11.cpp, issue
// 13) compiles this very transition over its own small G, whose status is a
// detail::atomic (rl::atomic there).
#pragma once
#include <atomic>
#include <cstdint>

#include "base/build_config.hpp"
#include "base/fatal.hpp"
#include "time/nanotime.hpp"

namespace goro::detail {

namespace simulator {
// The simulation's trace log of G status transitions (sim/trace_log.hpp;
// tla/PHandoffTrace.tla's G actions): goid, the transition's expected and
// new status. Defined in the sim build only, and called only there.
void trace_g(std::uint64_t goid, std::uint32_t from, std::uint32_t to) noexcept;
}  // namespace simulator

// One in this many entries of a G into runnable is timed (Go's
// gTrackingPeriod, which is 8). A sample costs two clock reads (25 ns each
// through the vDSO on these machines) against a goroutine switch of ~40 ns:
// at Go's 1 in 8 the yield benchmark slowed by ~6 ns (14 %); at 1 in 64 the
// sampling adds ~10 instructions per switch (4 %), within the benchmarks'
// wall-clock noise (spec/metrics.md, "The latency histogram and its cost").
// A power of two, so the test is a mask.
constexpr unsigned latency_tracking_period = 64;
static_assert((latency_tracking_period & (latency_tracking_period - 1)) == 0);

// G states, as Go's _Gidle.._Gdead.
enum class gstatus : std::uint32_t { idle, runnable, running, syscall, waiting, dead };

// For messages: the status as Go spells it.
inline const char* gstatus_name(gstatus s) {
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

constexpr bool gstatus_transition_ok(gstatus from, gstatus to) {
  using enum gstatus;
  switch (from) {
    case dead:
    case idle: return to == runnable;
    case runnable: return to == running;
    case running: return to == runnable || to == waiting || to == syscall || to == dead;
    case waiting: return to == runnable;
    case syscall: return to == running || to == runnable;
  }
  return false;
}

// Go's casgstatus: gp moves from `from` to `to`, by the relaxed store it
// always was (status is read only as a hint outside the owner of the
// transition). Checked builds also verify the transition and the expected
// status, with a relaxed load before the store, not with a CAS: a CAS is a
// locked RMW (a full barrier on x86, and in C11 a link in any release
// sequence through the status), so the checked build would order what the
// shipped one does not, and TSan and the stress suites would certify a
// stronger program (spec/memory-model.md, "The checked program is the
// shipped program"). The price: two transitions of one G racing inside the
// load-store window both pass; any two that are ordered at all are caught.
// G: the runtime's g, or the c11/ check's (anything with an atomic status
// and a goid).
template <class G>
inline void casgstatus(G* gp, gstatus from, gstatus to, const char* where) {
  if constexpr (checked) {
    if (!gstatus_transition_ok(from, to))
      fatal("invariant violated: GStatus: %s: goroutine %llu: %s -> %s is not a transition Go "
            "allows",
            where, (unsigned long long)gp->goid, gstatus_name(from), gstatus_name(to));
    gstatus cur = gp->status.load(std::memory_order_relaxed);
    if (cur != from) {
      // The sim's trace log records the transition attempted, so that the
      // failing run's log (fatal flushes it) ends at the step TLC rejects.
      // Nothing runs after the fatal, so the log's order stays exact.
      if constexpr (sim && requires { gp->latency_seq; })
        simulator::trace_g(gp->goid, static_cast<std::uint32_t>(from),
                           static_cast<std::uint32_t>(to));
      fatal("invariant violated: GStatus: %s: goroutine %llu is %s, want %s (moving to %s)", where,
            (unsigned long long)gp->goid, gstatus_name(cur), gstatus_name(from), gstatus_name(to));
    }
  } else {
    (void)where;
  }
  gp->status.store(to, std::memory_order_relaxed);
  // The sim's trace log (the runtime's G only, not the c11/ check's): right
  // after the store, with no scheduling point in between, as every hook.
  if constexpr (sim && requires { gp->latency_seq; })
    simulator::trace_g(gp->goid, static_cast<std::uint32_t>(from), static_cast<std::uint32_t>(to));
  // Scheduling-latency sampling (Go's casgstatus tracking): one in
  // latency_tracking_period entries of a G into runnable stamps the clock;
  // execute, seeing the same count, records the wait (latency_record). The G types that have
  // the fields only (the c11/ check's G has none). `to` is a constant at
  // every call site, so an unsampled transition costs an increment and a
  // test. Who writes: whoever makes the G runnable; the next reader is the
  // M that runs it, after the run-queue hand-off.
  if constexpr (requires { gp->latency_seq; }) {
    if (to == gstatus::runnable && (++gp->latency_seq & (latency_tracking_period - 1)) == 0)
        [[unlikely]]
      gp->runnable_since = nanotime();
  }
}

}  // namespace goro::detail
