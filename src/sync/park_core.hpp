// The park/ready handshake's core, as templates over its environment, so
// that the runtime (sync/park.cpp, sched/goroutine.cpp, sync/chan.cpp,
// sync/select.cpp, sched/lifetime.cpp) and the c11/ check of it
// (c11/park_c11.cpp, issue 13) compile the same source: std::atomic here,
// rl::atomic there (base/atomic.hpp).
//
// The handshake (spec/memory-model.md §5, §6; spec/channels.md):
//   parker   holding the wait list's lock, puts its waiter on the list, then
//            park_waiter: a goroutine moves running -> waiting (gopark_commit)
//            and switches away; the switch saves its context and only then,
//            on the next context, releases the lock (the commit, Go's
//            gopark unlockf). A thread releases the lock and waits for its
//            woken word.
//   readier  takes the waiter off the list under the same lock (for a
//            select, sudog_list::dequeue's claim decides which case wins),
//            hands over its payload, unlocks, then ready_waiter: a goroutine
//            moves waiting -> runnable (goready_put) and goes to a run queue;
//            a thread gets its woken word stored.
// Invariants (tla/ and spec/ names):
//   NoLostWakeup   a waiter on a list is taken off it by exactly one readier
//                  (or by teardown), who readies it: the lock makes "look,
//                  then enqueue" atomic for the parker, and the commit makes
//                  the waiter findable only once it is parked.
//   NoGTakenTwice  a G is readied (waiting -> runnable) once per park, so it
//                  runs on one M at a time; a select is claimed by exactly
//                  one case.
//   GStatus        every status change is one Go allows, from the status the
//                  caller expects (sched/gstatus.hpp's casgstatus).
// What the environment gives (template parameters): the context switch
// (gopark's switch_from_g: saves the context, then runs the unlock step),
// the run queue put (runqput / injectg), the locks (futex_lock) and the
// futex calls. The c11 check supplies fakes for each (a Relacy thread that
// blocks until it is resumed, rl::mutex, a yield for futex_wait).
#pragma once
#include <atomic>
#include <cstdint>

#include "base/atomic.hpp"
#include "sched/gstatus.hpp"

namespace goro::detail {

// The orders c11/ weakens one step to show the check catches each;
// production uses exactly these. A scenario derives a struct that overrides
// one and instantiates the templates with it (as runq_orders).
struct park_orders {
  // ready_waiter's store of a thread waiter's woken word: publishes what the
  // readier did before it (the value handed over, the select's param).
  static constexpr std::memory_order ready_woken = std::memory_order_release;
  // park_waiter's load of woken: pairs with that store.
  static constexpr std::memory_order park_woken = std::memory_order_acquire;
  // goready's store of runnable for a G whose runtime has begun to shut
  // down: the readier's last touch of the G and its waiter. Teardown's
  // acquire loads (abandon_parked) pair with it before it frees the frame.
  static constexpr std::memory_order abandon_ready = std::memory_order_release;
  static constexpr std::memory_order abandon_wait = std::memory_order_acquire;
  // The select claim (Go's selectDone CAS): only its atomicity is used.
  // The initial 0 reaches every claimant through the channel lock it holds;
  // what the winner hands over reaches the select through ready.
  static constexpr std::memory_order select_claim = std::memory_order_relaxed;
  // The claim is a read-modify-write. A check's weakened struct sets this
  // false: a load and a store, so two cases can both win.
  static constexpr bool claim_by_rmw = true;
  // gopark writes `waiting` before it switches away (so before the unlock
  // that lets a readier find it). A check's weakened struct sets this false.
  static constexpr bool status_before_switch = true;
};

// ---- the goroutine side ----

// gopark's half: the status before the switch. switch_away() saves the
// context and, on the next context, runs the unlock step that lets a
// readier find the G; it returns once the G runs again. A readier can only
// find the G after that unlock, so it sees `waiting` (GStatus).
template <class O = park_orders, class G, class Switch>
inline void gopark_commit(G* gp, Switch&& switch_away) {
  if constexpr (!O::status_before_switch) {
    // Teeth only (a check's weakened struct): the status written after the
    // switch, when a readier may already have found the G.
    switch_away();
    casgstatus(gp, gstatus::running, gstatus::waiting, "gopark");
  } else {
    casgstatus(gp, gstatus::running, gstatus::waiting, "gopark");
    switch_away();
  }
}

// goready's half: the status, then put() (a run queue: its release publishes
// the G and whatever the readier wrote before it). Called once per park, by
// whoever took the waiter off its list (NoGTakenTwice).
template <class G, class Put>
inline void goready_put(G* gp, Put&& put) {
  casgstatus(gp, gstatus::waiting, gstatus::runnable, "goready");
  put();
}

// goready for a G whose runtime has begun to shut down: it never runs
// again, and this store is the readier's last touch of it and of its
// waiter. release: teardown (abandon_parked), finding the G taken off its
// list by us, waits for it to leave `waiting`; our reads of the waiter
// happen before that acquire.
template <class O = park_orders, class G>
inline void goready_abandoned(G* gp) {
  gp->status.store(gstatus::runnable, O::abandon_ready);
}

// Teardown's first pass for one G (abandon_waiters, spec/scheduler.md
// "Lifetime"): a G still parked on a list that recorded how to leave it
// (gp->abandon) leaves it; if a readier took it first, waits until that
// readier's goready is done with it. yield() while waiting.
template <class O = park_orders, class G, class Yield>
inline void abandon_parked(G* gp, Yield&& yield) {
  if (!gp->abandon || gp->status.load(O::abandon_wait) != gstatus::waiting) return;
  if (gp->abandon(gp->abandon_arg, false)) {
    gp->abandon = nullptr;
    return;
  }
  // A readier took gp off its list before us and is between its unlock and
  // its goready: goready_abandoned's store is its last touch of gp and its
  // waiter. gp keeps its record: the second pass sees it readied.
  while (gp->status.load(O::abandon_wait) == gstatus::waiting) yield();
}

// ---- either kind of waiter ----

// park_unlock / park_commit (sync/park.cpp). w: a waiter (gp: the parked G,
// or null for a thread; woken: the thread's futex word), already on a list
// whose lock(s) the caller holds. A G parks through gopark(), which commits
// and then unlocks (above); a thread unlocks, then waits for ready_waiter.
template <class O = park_orders, class W, class GoPark, class Unlock, class FutexWait>
inline void park_waiter(W& w, GoPark&& gopark, Unlock&& unlock, FutexWait&& futex_wait) {
  if (w.gp) {
    gopark();
    return;
  }
  unlock();
  // acquire: pairs with ready_waiter's release store, so the thread sees
  // what the readier did before waking it.
  while (w.woken.load(O::park_woken) == 0) futex_wait(&w.woken, 0u);
}

// ready (sync/park.cpp): wakes w, already taken off its list. The caller
// must not touch w afterwards: the waiter may have returned and its frame
// gone. goready(gp) for a G; for a thread, the woken store and futex_wake,
// which uses the address only as a key and never dereferences it.
template <class O = park_orders, class W, class GoReady, class FutexWake>
inline void ready_waiter(W* w, GoReady&& goready, FutexWake&& futex_wake) {
  if (auto* gp = w->gp) {
    goready(gp);
    return;
  }
  auto* word = &w->woken;
  // release: publishes the readier's writes (the payload) to park_waiter.
  word->store(1, O::ready_woken);
  futex_wake(word, 1);
}

// ---- select ----

// Claims the select parked through pk (Go's selectDone CAS 0 -> 1): true
// for exactly one claimant. pk->select_done starts at 0, written before the
// select's sudogs were enqueued under the channel locks a claimant holds.
template <class O = park_orders, class P>
inline bool select_claim(P* pk) {
  if constexpr (!O::claim_by_rmw) {
    // Teeth only (a check's weakened struct): two claimants can both see 0.
    if (pk->select_done.load(std::memory_order_relaxed) != 0) return false;
    pk->select_done.store(1, std::memory_order_relaxed);
    return true;
  } else {
    std::uint32_t open = 0;
    return pk->select_done.compare_exchange_strong(open, 1, O::select_claim,
                                                   std::memory_order_relaxed);
  }
}

// A channel's FIFO of parked operations (Go's waitq), guarded by the
// channel's lock. S: a sudog (pk, next, prev); S::pk: its parker
// (is_select, select_done). The contracts are sync/chan.hpp's (sudog_queue).
template <class S, class O = park_orders>
struct sudog_list {
  S* first = nullptr;
  S* last = nullptr;

  void enqueue(S* s) noexcept {
    s->next = nullptr;
    s->prev = last;
    if (last) last->next = s;
    else first = s;
    last = s;
  }

  // Takes the first sudog that can still be woken: a select's sudog whose
  // select has been claimed through another case is unlinked and skipped.
  S* dequeue() noexcept {
    for (;;) {
      S* s = first;
      if (!s) return nullptr;
      first = s->next;
      if (first) first->prev = nullptr;
      else last = nullptr;
      s->next = s->prev = nullptr;
      // The select may have been claimed through another of its cases, on
      // another channel, by a readier holding only that channel's lock: the
      // claim decides (select_claim).
      if (s->pk->is_select && !select_claim<O>(s->pk))
        continue;  // lost to another case: left unlinked (pass 3 sees that)
      return s;
    }
  }

  // Unlinks s if it is still queued; no-op otherwise.
  void remove(S* s) noexcept {
    S* p = s->prev;
    S* n = s->next;
    if (p) {
      p->next = n;
    } else {
      // No predecessor: s is either the head or not queued at all (dequeue
      // clears both links of what it takes).
      if (first != s) return;
      first = n;
    }
    if (n) n->prev = p;
    else last = p;
    s->next = s->prev = nullptr;
  }
};

}  // namespace goro::detail
