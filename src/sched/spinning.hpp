// The spinning-M protocol (Go's "worker thread parking/unparking", in its Go
// 1.21 form) as templates over the runtime it runs in, so that the c11/ check
// compiles this very source under Relacy (issue 13; c11/spinning_c11.cpp).
// The runtime instantiates it with sched_env (sched/internal.hpp):
// spinning.cpp's claim_spinning, resetspinning,
// drop_spinning, wakep, pidleget, pidleput and pidleget_spinning, internal.hpp's
// ready_wake and findrunnable.cpp's spin decision and give-up are calls into
// it.
//
// The protocol's state (Go's names):
//   sched.nmspinning   Ms counted as spinning (looking for work to steal while
//                      holding a P), plus slots claimed for Ms being started
//                      spinning (claim_spinning). Changed only by the four
//                      transitions below, each an RMW.
//   sched.npidle       the idle P list's length; written under sched.lock
//                      (pidleput, pidleget), read racily by the spin decision.
//   sched.needspinning work was found that no idle P could take: a
//                      non-spinning M about to idle its P must spin instead.
//                      Written and read under sched.lock.
//   m.spinning         the M's own view of whether it is counted.
//
// No lost wakeup (tla/PHandoff.tla: NoLostWakeup; spec/memory-model.md §3):
// a submitter publishes a G in a run queue, then (seq_cst fence) reads
// nmspinning and wakes a spinner only if none spins (ready_wake, wakep); the
// last spinner to give up decrements nmspinning, then (seq_cst fence) reads
// every run queue again (give_up_p). A Dekker pair: with both fences seq_cst,
// either the submitter sees the decrement and wakes an M, or the spinner's
// re-check sees the G. A non-spinning M gives up without the re-check, so it
// is covered by needspinning instead: whoever finds work but no idle P sets
// it under sched.lock, and the M checks it under the same lock before idling
// its P.
//
// The environment (Env) supplies the rest of the runtime; every member is
// inline (the runtime's are forwarding calls), so the production
// instantiation compiles to the code it replaced. wakep and give_up_p are
// always_inline: each has one caller in the runtime (spinning.cpp's wakep,
// findrunnable), which GCC would otherwise call out of line, a template
// instantiation not counting as a function called once:
//   orders                 spin_orders, or one the c11/ check weakens
//   m_type, p_type, g_type the runtime's M, P and G; M has a plain bool
//                          `spinning`
//   sched()                the object holding nmspinning, npidle,
//                          needspinning (atomic<int32_t>, atomic<int32_t>,
//                          atomic<bool>)
//   procs()                gomaxprocs (a relaxed load)
//   with_lock(f)           f(locked&) under sched.lock, its result returned
//   pidle_pop(l), pidle_push(l, pp)   the idle P list itself, under the lock
//   allp(i), runqempty(pp) the Ps and their queues, for the re-check
//   wakep()                the runtime's wakep (which calls spin::wakep)
//   startm(pp, spinning)   hand pp to an idle M (or a new one) and wake it
//   releasep(mp), acquirep(mp, pp)    M/P binding
//   restart_locked(l)      stop-the-world or shutdown pending (give_up_p
//                          then goes back to findrunnable's top)
//   globrunq_take(l, mp)   a G from the global queue for mp's P, or null
//
// Atomics go through base/atomic.hpp (std::atomic here, rl::atomic in the
// check), one operation per line, every order written out.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/atomic.hpp"
#include "base/build_config.hpp"
#include "base/fatal.hpp"
#include "sched/chaos.hpp"

namespace goro::detail {

// The orders c11/ weakens one step to show the check catches each; the
// runtime uses exactly these. The two fences are the Dekker pair's: each
// separates a thread's store (the G's publication; the decrement of
// nmspinning) from its load of the other's word (nmspinning; the run
// queues), and only seq_cst fences are ordered with each other (S), which
// is what makes one of the two loads see the other's store.
struct spin_orders {
  // ready_wake: after the G is published, before nmspinning is read.
  static constexpr std::memory_order submit_fence = std::memory_order_seq_cst;
  // give_up_p: after the spinner's decrement, before the re-check.
  static constexpr std::memory_order recheck_fence = std::memory_order_seq_cst;
};

namespace spin {

// ---------------------------------------------------------------------------
// The spinning count: every change of nmspinning goes through these four
// transitions, so the count's users can be read in one place.
//
//   claim_spinning   0 -> 1 for an M yet to be started (wakep, handoffp):
//                    at most one spinner is started at a time this way; it
//                    starts the next when it finds work (resetspinning).
//   become_spinning  +1: an M with a P starts spinning (findrunnable).
//   resetspinning    -1: a spinning M found work (schedule_loop).
//   drop_spinning    -1: a spinning M gives up (findrunnable, gcstopm), or a
//                    claim made for an M is not used (startm, wakep).
//
// Orders: every RMW is relaxed (it was seq_cst, Go's order for all its
// atomics). The protocol needs only the RMW's atomicity from them (an exact
// count; the claim's CAS reads the latest value, so two wakeps cannot both
// start a spinner): the StoreLoad ordering it relies on comes from the
// seq_cst fences in ready_wake and in give_up_p's re-check (orders above),
// and the fence rule ([atomics.order] p4.4, C++20) holds whatever the order
// of the decrement sequenced before the spinner's fence. The count publishes
// nothing: its readers load it relaxed (a hint everywhere but in those two
// fenced reads) and no acquire follows them, and a decrement never precedes
// its increment in the modification order because the increment happens
// before it anyway (the same M, or startm's note handing the count over).
// spec/memory-model.md §12, "Orders weakened because of the table".

template <class Env>
bool claim_spinning(Env& env) {
  std::int32_t zero = 0;
  bool won = env.sched().nmspinning.compare_exchange_strong(zero, 1, std::memory_order_relaxed,
                                                            std::memory_order_relaxed);
  // sim's trace log (tla/PHandoffTrace.tla): a dependent call, so the c11/
  // fakes need no such member.
  if constexpr (sim)
    if (won) env.trace_claim();
  return won;
}

// Counts mp as spinning; any pending request for a spinner is now served.
template <class Env>
void become_spinning(Env& env, typename Env::m_type* mp) {
  mp->spinning = true;
  [[maybe_unused]] std::int32_t old = env.sched().nmspinning.fetch_add(1,
                                                                       std::memory_order_relaxed);
  // Two log lines: the store below is a scheduling point, and another M's
  // RMW of nmspinning or needspinning may fall between the two.
  if constexpr (sim) env.trace_spin(mp, old);
  env.sched().needspinning.store(false, std::memory_order_relaxed);
  if constexpr (sim) env.trace_spinclear(mp);
}

template <class Env>
void drop_spinning(Env& env, const char* where) {
  std::int32_t old = env.sched().nmspinning.fetch_sub(1, std::memory_order_relaxed);
  if constexpr (sim) env.trace_drop(where, old);
  if (old <= 0) fatal("%s: negative nmspinning", where);
}

// ---------------------------------------------------------------------------
// The idle P list's count (the list itself is the environment's). Under
// sched.lock; a load and a store, not an RMW: the lock serializes writers,
// and the racy readers (the spin decision, sysmon) need only an untorn value.

template <class Env>
typename Env::p_type* pidleget(Env& env, typename Env::locked& l) {
  typename Env::p_type* pp = env.pidle_pop(l);
  if (pp) {
    std::int32_t n = env.sched().npidle.load(std::memory_order_relaxed);
    env.sched().npidle.store(n - 1, std::memory_order_relaxed);
  }
  return pp;
}

template <class Env>
void pidleput(Env& env, typename Env::locked& l, typename Env::p_type* pp) {
  env.pidle_push(l, pp);
  std::int32_t n = env.sched().npidle.load(std::memory_order_relaxed);
  env.sched().npidle.store(n + 1, std::memory_order_relaxed);
}

// pidleget, and if no P is idle, asks an M about to drop its P to spin
// instead: work was found that no idle P can take, and an M that is about
// to put its P on the idle list without spinning checks this flag under the
// same lock (give_up_p), or the work could wait forever (Go's
// pidlegetSpinning).
template <class Env>
typename Env::p_type* pidleget_spinning(Env& env, typename Env::locked& l) {
  typename Env::p_type* pp = pidleget(env, l);
  if (!pp) {
    env.sched().needspinning.store(true, std::memory_order_relaxed);
    if constexpr (sim) env.trace_needspin();
  }
  return pp;
}

// ---------------------------------------------------------------------------
// The submission side.

// Go's wakep: starts a spinning M on an idle P if no M spins yet. Only one
// spinning M at a time is started here; it starts the next one when it finds
// work (resetspinning), so wakeups ramp up with the work.
template <class Env>
__attribute__((always_inline)) inline void wakep(Env& env) {
  if (env.sched().nmspinning.load(std::memory_order_relaxed) != 0) return;
  GORO_CHAOS_POINT();  // between the spinning check and the claim
  if (!claim_spinning(env)) return;
  typename Env::p_type* pp = env.with_lock([&](typename Env::locked& l) {
    typename Env::p_type* got = pidleget_spinning(env, l);
    if (!got) drop_spinning(env, "wakep");
    return got;
  });
  if (pp) env.startm(pp, true);
}

// After making a G runnable on a local queue: after a seq_cst fence, wakes
// a spinner if none spins (the other side is give_up_p's re-check). Go does
// this inside wakep; goro keeps the fence in one place for every submitter.
template <class Env>
void ready_wake(Env& env) {
  // With one P, held by the caller, there is no other P to start, and the G
  // just queued runs on this one: nothing can be lost.
  if (env.procs() == 1) return;
  // StoreLoad between publishing the G (runqtail store) and reading the
  // spinning state; the spinner has the matching fence in give_up_p.
  GORO_CHAOS_POINT();
  fence(Env::orders::submit_fence);
  // No idle-P test here (Go 1.21): wakep makes it under sched.lock, and if
  // it finds none it sets needspinning for an M about to drop its P. A racy
  // npidle == 0 read here could miss exactly that M (tla/PHandoff.tla,
  // mutant PHandoff_no_needspinning).
  if (env.sched().nmspinning.load(std::memory_order_relaxed) == 0) env.wakep();
}

// A spinning M found work: it stops spinning, and if there may be more work,
// starts another spinner so parallelism ramps up (Go's resetspinning ->
// wakep).
template <class Env>
void resetspinning(Env& env, typename Env::m_type* mp) {
  mp->spinning = false;
  GORO_CHAOS_AT(chaos_site::resetspinning);
  drop_spinning(env, "resetspinning");
  ready_wake(env);
}

// ---------------------------------------------------------------------------
// The M side: findrunnable's spin decision and its giving up of the P.

// Spin (steal) only while fewer than half the busy Ps have a spinning M:
// enough to find work fast, not so many that idle Ms burn the CPUs. True if
// mp is (now) spinning and should steal. The two counters are read racily:
// the decision is a heuristic, and needspinning and the re-check make either
// outcome safe.
template <class Env>
bool want_spin(Env& env, typename Env::m_type* mp) {
  std::int32_t procs = static_cast<std::int32_t>(env.procs());
  if (!mp->spinning) {
    std::int32_t spinning = env.sched().nmspinning.load(std::memory_order_relaxed);
    std::int32_t idle = env.sched().npidle.load(std::memory_order_relaxed);
    if (2 * spinning >= procs - idle) return false;
    become_spinning(env, mp);
  }
  return true;
}

enum class give_up_next {
  retry,    // look for work again from findrunnable's top (mp holds a P)
  run,      // run gp, taken from the global queue (mp still holds its P)
  dropped,  // mp holds no P and no spinning count: block or park (stopm)
};

template <class G>
struct give_up_result {
  give_up_next next;
  G* gp = nullptr;
};

// findrunnable found no work for mp: give up its P without losing a wakeup.
// The global queue is checked again under the lock that injectg also takes
// (no lost global submissions); then, for a spinning M, the decrement and
// the re-check of every run queue.
template <class Env>
__attribute__((always_inline)) inline give_up_result<typename Env::g_type> give_up_p(
    Env& env, typename Env::m_type* mp) {
  using result = give_up_result<typename Env::g_type>;
  GORO_CHAOS_AT(mp->spinning ? chaos_site::drop_p_spinning : chaos_site::drop_p);
  result r = env.with_lock([&](typename Env::locked& l) -> result {
    if (env.restart_locked(l)) return {give_up_next::retry};
    if (typename Env::g_type* gp = env.globrunq_take(l, mp)) return {give_up_next::run, gp};
    // Someone found work but no idle P for it (pidleget_spinning). We are
    // about to make a P idle without the spinner's re-check: spin instead,
    // so that work is found (Go's "delicate dance"). (MUTANT no_needspinning
    // skips it: goro's first spinning protocol.)
    if (!mutant_on(mutant_id::no_needspinning) && !mp->spinning &&
        env.sched().needspinning.load(std::memory_order_relaxed)) {
      become_spinning(env, mp);
      return {give_up_next::retry};
    }
    // (No scheduling point since the needspinning load: the log's order is
    // the decision's.)
    if constexpr (sim) env.trace_giveup(mp);
    pidleput(env, l, env.releasep(mp));
    return {give_up_next::dropped};
  });
  if (r.next != give_up_next::dropped) return r;

  // Spinning -> not spinning. Decrement first, then (after StoreLoad) look
  // at every run queue again: a submitter that saw our count before the
  // decrement did not wake anyone and relies on this re-check. If we did it
  // the other way round (re-check, then decrement), a G submitted between
  // the two would see us still spinning, wake nobody, and wait with an idle
  // P beside it until some unrelated event (tla/PHandoff.tla: NoLostWakeup;
  // mutant no_spin_recheck removes the re-check). Who covers the other
  // sources of work once we stop: findrunnable.cpp, before its call.
  if (mp->spinning) {
    mp->spinning = false;
    GORO_CHAOS_POINT();  // the lost-wakeup window: P released, still counted spinning
    drop_spinning(env, "findrunnable");
    GORO_CHAOS_POINT();
    // (MUTANT no_spin_recheck: gives up without the re-check.)
    if (!mutant_on(mutant_id::no_spin_recheck)) {
      fence(Env::orders::recheck_fence);
      if constexpr (sim) env.trace_recheck(mp);  // PHandoff's Recheck begins
      std::uint32_t n = env.procs();
      for (std::uint32_t i = 0; i < n; i++) {
        if (!env.runqempty(env.allp(i))) {
          typename Env::p_type* pp = env.with_lock(
              [&](typename Env::locked& l) { return pidleget_spinning(env, l); });
          if (pp) {
            env.acquirep(mp, pp);
            become_spinning(env, mp);
            return {give_up_next::retry};
          }
          break;
        }
      }
    }
  }
  return {give_up_next::dropped};
}

}  // namespace spin
}  // namespace goro::detail
