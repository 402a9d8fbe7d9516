// Build modes as constants (Go: `const raceenabled = false`, race0.go), so
// that code tests them with an ordinary `if constexpr` and both arms compile
// in every build: a mutant, a check or a sanitizer branch cannot rot in the
// builds that do not take it.
//
//   checked   GORO_CHECK_INVARIANTS: the invariant checks (GORO_INVARIANT,
//             casgstatus's GStatus check, getm's NoPreemptGetM, the
//             stopped-world auditor of sched/audit.hpp). A check may read
//             (racily, through relaxed atomics) but never synchronizes: no
//             lock round, fence or acquire/release exists only when checked
//             is true (spec/memory-model.md, "The checked program is the
//             shipped program").
//   chaos     GORO_CHAOS: seeded delays at the scheduler's decision points
//             (sched/chaos.hpp).
//   sim       GORO_SIM: deterministic simulation (sim/controller.hpp); the
//             chaos points, lock operations and kernel waits become its
//             scheduling points.
//   tsan      compiled with -fsanitize=thread.
//   asan      compiled with -fsanitize=address.
//   mutant    GORO_MUTANT_<NAME>: a deliberate bug compiled in, to show the
//             checks catch it (ci/mutants.sh lists them and what catches each).
//
// Where the modes come from: CMake defines GORO_CHECK_INVARIANTS and
// GORO_CHAOS for libgoro and for goro_internal (goro's own tests), never for
// users of the installed package. GORO_MUTANT_<NAME> is defined for the
// library's objects only (switching mutants then recompiles the library
// alone), so `mutant` reads none outside src/*.cpp: mutant sites belong in
// code compiled into the library. The sanitizers are detected from the
// compiler, as a sanitized build defines no macro of ours.
//
// The GORO_TSAN and GORO_ASAN macros stay for the few places the
// preprocessor must decide (an #include of a sanitizer interface, inline
// asm that a sanitizer cannot follow); everything else uses the constants.
#pragma once
#include <cstddef>

// The sanitizer detection itself is the public header's (goro/detail/sanitizer.hpp:
// futex_lock, in a public header, needs it for its TSan annotations), so
// there is one place that decides.
#include "goro/detail/sanitizer.hpp"

namespace goro::detail {

#ifdef GORO_CHECK_INVARIANTS
inline constexpr bool checked = true;
#else
inline constexpr bool checked = false;
#endif

#ifdef GORO_CHAOS
inline constexpr bool chaos = true;
#else
inline constexpr bool chaos = false;
#endif

// GORO_SIM: the deterministic simulation (sim/controller.hpp,
// spec/simulation.md): one thread runs at a time between scheduling
// points, chosen from a seed, with kernel waits and time simulated.
#ifdef GORO_SIM
inline constexpr bool sim = true;
#else
inline constexpr bool sim = false;
#endif

#ifdef GORO_TSAN
inline constexpr bool tsan = true;
#else
inline constexpr bool tsan = false;
#endif

#ifdef GORO_ASAN
inline constexpr bool asan = true;
#else
inline constexpr bool asan = false;
#endif

// One per GORO_MUTANT value CMake accepts (CMakeLists.txt's list; ci/mutants.sh
// says what each breaks).
enum class mutant_id {
  none,
  steal_plain_store,
  publish_tail_first,
  get_plain_store,
  no_spin_recheck,
  wg_stale_wake,
  exitsyscall_no_cas,
  preempt_anywhere,
  no_needspinning,
  resize_drops_runnext,
  timer_early,
  preempt_no_xrstor,
  netpoll_no_latch,
  no_checkdead,
  checkdead_ignores_threads,
  uncounted_foreign_ready,
  // Run-queue mutants caught by trace validation against tla/RunQueue.tla
  // (label tla-trace, tla/RunQueueTrace.tla), built only into the trace
  // harness (tests/runq_trace.cpp); not in ci/mutants.sh's list.
  steal_half_plus_one,
  get_keeps_head,
  put_overwrites_full,
  // A G-level mutant caught by trace validation against tla/PHandoff.tla
  // (tla/PHandoffTrace.tla's Ready): goready of a G already runnable.
  // Built only into the trace harness (tests/sim_trace.cpp).
  ready_twice,
};

inline constexpr mutant_id mutant =
#if defined(GORO_MUTANT_STEAL_PLAIN_STORE)
    mutant_id::steal_plain_store;
#elif defined(GORO_MUTANT_PUBLISH_TAIL_FIRST)
    mutant_id::publish_tail_first;
#elif defined(GORO_MUTANT_GET_PLAIN_STORE)
    mutant_id::get_plain_store;
#elif defined(GORO_MUTANT_NO_SPIN_RECHECK)
    mutant_id::no_spin_recheck;
#elif defined(GORO_MUTANT_WG_STALE_WAKE)
    mutant_id::wg_stale_wake;
#elif defined(GORO_MUTANT_EXITSYSCALL_NO_CAS)
    mutant_id::exitsyscall_no_cas;
#elif defined(GORO_MUTANT_PREEMPT_ANYWHERE)
    mutant_id::preempt_anywhere;
#elif defined(GORO_MUTANT_NO_NEEDSPINNING)
    mutant_id::no_needspinning;
#elif defined(GORO_MUTANT_RESIZE_DROPS_RUNNEXT)
    mutant_id::resize_drops_runnext;
#elif defined(GORO_MUTANT_TIMER_EARLY)
    mutant_id::timer_early;
#elif defined(GORO_MUTANT_PREEMPT_NO_XRSTOR)
    mutant_id::preempt_no_xrstor;
#elif defined(GORO_MUTANT_NETPOLL_NO_LATCH)
    mutant_id::netpoll_no_latch;
#elif defined(GORO_MUTANT_NO_CHECKDEAD)
    mutant_id::no_checkdead;
#elif defined(GORO_MUTANT_CHECKDEAD_IGNORES_THREADS)
    mutant_id::checkdead_ignores_threads;
#elif defined(GORO_MUTANT_UNCOUNTED_FOREIGN_READY)
    mutant_id::uncounted_foreign_ready;
#elif defined(GORO_MUTANT_STEAL_HALF_PLUS_ONE)
    mutant_id::steal_half_plus_one;
#elif defined(GORO_MUTANT_GET_KEEPS_HEAD)
    mutant_id::get_keeps_head;
#elif defined(GORO_MUTANT_PUT_OVERWRITES_FULL)
    mutant_id::put_overwrites_full;
#elif defined(GORO_MUTANT_READY_TWICE)
    mutant_id::ready_twice;
#else
    mutant_id::none;
#define GORO_DETAIL_NO_NAMED_MUTANT
#endif

// mutant_on(m): is mutant m compiled in and active. In every build but one
// it is a constant (detail::mutant == m), so a site `if (mutant_on(...))`
// folds away and production carries no trace of its mutants.
//
// GORO_MUTANT=runtime (ci/mutants.sh) compiles every site in and picks the
// active mutant when the process starts, from the environment variable
// GORO_MUTANT_ACTIVE (a name of mutant_names below; unset or "none": the
// correct runtime), so one build serves every mutant and the control
// instead of one library rebuild per mutant. An unknown name is a fatal
// error: a misspelt mutant would run the correct runtime and "fail to be
// caught".
inline constexpr const char* mutant_names[] = {
    "none",
    "steal_plain_store",
    "publish_tail_first",
    "get_plain_store",
    "no_spin_recheck",
    "wg_stale_wake",
    "exitsyscall_no_cas",
    "preempt_anywhere",
    "no_needspinning",
    "resize_drops_runnext",
    "timer_early",
    "preempt_no_xrstor",
    "netpoll_no_latch",
    "no_checkdead",
    "checkdead_ignores_threads",
    "uncounted_foreign_ready",
    "steal_half_plus_one",
    "get_keeps_head",
    "put_overwrites_full",
    "ready_twice",
};
static_assert(sizeof mutant_names / sizeof mutant_names[0] ==
                  static_cast<std::size_t>(mutant_id::ready_twice) + 1,
              "mutant_names: one name per mutant_id, in order");

// A translation unit compiled with a named mutant's macro as well (a
// mutated source linked ahead of the library: tests/CMakeLists.txt's
// goro_sim_trace_mutant) keeps that mutant as a constant.
#if defined(GORO_MUTANT_RUNTIME) && defined(GORO_DETAIL_NO_NAMED_MUTANT)
// Read once (sched/chaos.cpp); the first call comes from runtime start,
// before any signal handler can ask, and later calls read a constant.
mutant_id active_mutant() noexcept;
inline bool mutant_on(mutant_id m) noexcept { return active_mutant() == m; }
#else
constexpr bool mutant_on(mutant_id m) noexcept { return mutant == m; }
#endif

}  // namespace goro::detail
