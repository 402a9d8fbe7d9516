// The netpoller's readiness latch (Go's pollDesc.rg / wg with pdReady), as
// a template over the descriptor and the parking environment, so the
// runtime (netpoll/netpoll.cpp) and the c11/ check (c11/netpoll_c11.cpp,
// under Relacy) compile this same source (issue 13).
//
// epoll is edge-triggered: it reports each readiness edge once, to whichever
// M polls. An edge that finds no goroutine waiting must not be lost, so each
// direction of a descriptor is a latch: the edge sets `ready` and takes the
// waiter, if any, off the slot (the poller then readies it); a goroutine
// about to wait consumes a set `ready` instead of parking, else parks in the
// slot, and re-checks after every wake-up. Invariants (spec/netpoll.md,
// NetTest's EdgeLatched, c11/netpoll_c11.cpp):
//   NoLostWakeup  an edge either wakes the waiter in the slot or stays
//                 latched for the next wait
//   WokenOnce     a parked waiter is taken off the slot, hence readied, by
//                 exactly one party (an edge, a close, a deadline)
//   ConsumedOnce  a latched edge lets one wait through, not two
//
// The latch is lock-based: every access to `ready` and the slot is under
// the descriptor's lock (polldesc::lock, a futex_lock), and there is no
// atomic in it. What orders an edge before the wait that consumes it is the
// lock's release/acquire; what carries the wake-up is the park/ready pair
// (sync/park.hpp). Both are the environment here: PD::lock, Env::park.
//
// Environment (template parameters):
//  W    the waiter type (sync/park.hpp's waiter in the runtime).
//  PD   the descriptor: lock (lock()/unlock()), rg and wg (poll_latch<W>,
//       guarded by lock).
//  Env  poll_wait's: env.check(pd) (lock held) returns 0 or the error that
//       ends the wait (EBADF closing, ETIMEDOUT a deadline passed);
//       env.park(pd, latch) arms latch with a waiter and parks it,
//       releasing pd.lock (park_unlock), and returns once readied.
// The latch's fields are var<T> (base/atomic.hpp): plain in production,
// race-checked cells under Relacy, so a missing lock is reported.
#pragma once
#include "base/atomic.hpp"
#include "base/build_config.hpp"
#include "goro/detail/thread_annotations.hpp"

namespace goro::detail {

// One direction of a descriptor. Every member requires the descriptor's lock.
template <class W>
class poll_latch {
 public:
  poll_latch() = default;
  poll_latch(const poll_latch&) = delete;
  poll_latch& operator=(const poll_latch&) = delete;

  // The poller: an edge for this direction. Latches it and returns the
  // waiter taken off the slot (the caller readies it), or null.
  W* edge() {
    if (mutant_on(mutant_id::netpoll_no_latch)) {
      // MUTANT: an edge with nobody waiting is dropped, not latched.
      if (waiter_.load() == nullptr) return nullptr;
    }
    ready_.store(true);
    return take();
  }
  // A goroutine about to wait: consumes a latched edge (true), or finds none.
  bool consume() {
    if (!ready_.load()) return false;
    ready_.store(false);
    return true;
  }
  // Puts w in the slot; false if another waiter is there already.
  [[nodiscard]] bool arm(W* w) {
    if (waiter_.load() != nullptr) return false;
    waiter_.store(w);
    return true;
  }
  // Takes the waiter off the slot (an edge, a close, a deadline): whoever
  // takes it readies it, so it is readied once (WokenOnce).
  W* take() {
    W* w = waiter_.load();
    if (w) waiter_.store(nullptr);
    return w;
  }
  bool holds(const W* w) const { return waiter_.load() == w; }
  // A descriptor handed to a new socket: no edge, no waiter.
  void reset() {
    ready_.store(false);
    waiter_.store(nullptr);
  }

 private:
  var<bool> ready_;  // an edge nobody has consumed (Go: pdReady)
  var<W*> waiter_;   // the goroutine parked for this direction (at most one)
};

// netpoll's side of one event: latches the edges it reports, under pd.lock,
// passing each waiter taken off a slot to out (the caller readies them once
// the poll is over).
template <class PD, class Out>
inline void poll_latch_ready(PD& pd, bool r, bool w, Out&& out) GORO_EXCLUDES(pd.lock) {
  pd.lock.lock();
  if (r)
    if (auto* x = pd.rg.edge()) out(x);
  if (w)
    if (auto* x = pd.wg.edge()) out(x);
  pd.lock.unlock();
}

// poll_wait's loop, with pd.lock held on entry (released on return): 0 once
// an edge for the direction has been consumed, else env.check's error.
template <class PD, class Env>
inline int poll_latch_wait(PD& pd, bool read, Env& env) GORO_RELEASE(pd.lock) {
  for (;;) {
    if (int err = env.check(pd)) {
      pd.lock.unlock();
      return err;
    }
    auto& l = read ? pd.rg : pd.wg;
    if (l.consume()) {
      pd.lock.unlock();
      return 0;
    }
    // Parked in the slot, pd.lock released by the park: an edge from here
    // on finds us there (NoLostWakeup), and we re-check after the wake-up.
    env.park(pd, l);
    pd.lock.lock();
  }
}

}  // namespace goro::detail
