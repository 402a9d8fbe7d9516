// Timers (Go's runtime/time.go): each P keeps a 4-ary min-heap of the timers
// its goroutines started, ordered by `when`. The M holding the P runs the
// expired ones at every trip through the scheduler (findrunnable, and the
// G-side fast path when the earliest one is due); idle Ms run those of other
// Ps when they steal; sysmon starts an M when a timer is overdue and nobody
// runs it. Sleeping costs no thread: the G parks, the timer readies it.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "base/atomic.hpp"
#include "goro/detail/waitq.hpp"
#include "time/nanotime.hpp"

namespace goro::detail {

struct runtime;
struct p;
struct timer_heap;

// Contracts in Go's fixed form, as in sync/park.hpp ("G in a call": a
// goroutine inside blocking()).

// nanotime(): time/nanotime.hpp.

struct timer {
  std::int64_t when = 0;           // CLOCK_MONOTONIC ns
  void (*fire)(timer*) = nullptr;  // runs with no timer lock held
  void* arg = nullptr;
  // Frees a heap-allocated timer still pending when its runtime is torn
  // down (after()); null for timers on a goroutine's stack (sleep).
  void (*dispose)(timer*) = nullptr;
  // The heap holding the timer (null: none) and its index there (Go's
  // timer.ts / the heap position), so it can be modified in place or
  // deleted (timer_mod / timer_del). Both written under that heap's lock;
  // `heap` is also read without it by timer_mod / timer_del, which lock
  // the heap they read and read it again (a timer moves to another heap
  // only under both heaps' locks, when procresize retires a P, and leaves
  // every heap under its lock: popped to fire, deleted, or the runtime
  // torn down). Acquire/release on `heap`: the release store pairs with
  // the acquire load in timer_mod / timer_del, which only tells them which
  // lock to take; the fields they then use are read under it.
  detail::atomic<timer_heap*> heap{nullptr};
  std::size_t idx = 0;
};

// One P's timers. `lock` guards `heap`; `when0` mirrors the earliest `when`
// (0: no timer) so others can peek without the lock.
struct timer_heap {
  // Lock order (spec/memory-model.md, "Lock order"): after sched.lock and a
  // poll descriptor's lock (their declarations say so, for clang); two
  // heaps' locks only in destroy_p_locked, with the world stopped (nobody
  // else can hold two).
  futex_lock lock;
  std::vector<timer*> heap GORO_GUARDED_BY(lock);  // 4-ary min-heap on when
  // Written under lock; read racily (relaxed) as a hint by the owner's fast
  // path, stealers, the parking M and sysmon, each of which takes the lock
  // before acting on it.
  detail::atomic<std::int64_t> when0{0};
  // Timers in the heap; written under lock (relaxed). Read by
  // destroy_p_locked, with the world stopped, to skip moving an empty heap
  // (checkdead looks at when0 instead, through earliest_timer).
  detail::atomic<std::int32_t> count{0};
};

// Pushes t, which is in no heap, onto h.
// Called from: G with P (sleep, after) | G in a call | foreign thread
//   (after, onto P0's heap) | G with P in start_the_world (a retired P's
//   timers, destroy_p_locked)
// Locks: holds h.lock (destroy_p_locked: also sched.lock and the old heap's)
// May switch: no
void timer_push_locked(timer_heap& h, timer* t) GORO_REQUIRES(h.lock);
// Removes t from whichever heap holds it (Go's deltimer). False if it was
// in none: never added, already popped to fire, or deleted. The caller
// holds a reference on the runtime whose heap may hold t (its heaps are
// freed with it), and serializes timer_mod / timer_del of one timer.
// Called from: G with P | G in a call | foreign thread (socket close and
//   deadline changes)
// Locks: holds the timer's owner's lock (polldesc.lock), usually; takes the
//   heap's lock (and releases it)
// May switch: no
bool timer_del(timer* t);
// Sets t's `when` and makes it pending (Go's modtimer): in place in the
// heap that holds it, else pushed onto `h`. Same caller duties as
// timer_del.
// Called from: as timer_del
// Locks: as timer_del (takes the lock of the heap holding t, or of h)
// May switch: no
void timer_mod(timer* t, std::int64_t when, timer_heap& h);
// Runs every timer of h that is due at `now`; returns how many fired.
// Takes h.lock itself and calls each fire() after releasing it.
// Called from: g0 holding a P (findrunnable, stealwork: a due timer sends
//   the G-side fast path to g0, wants_g0)
// Locks: none held; takes h.lock (released before each fire; a fire may
//   take others: a socket's lock, a channel's, sched.lock through ready)
// May switch: no
int run_timers(timer_heap& h, std::int64_t now);
// The earliest timer over all of rt's Ps (0: none), read racily.
// Called from: g0 (findrunnable, block_in_netpoll, checkdead) | sysmon
// Locks: none held, or sched.lock (checkdead); takes none
// May switch: no
std::int64_t earliest_timer(runtime& rt);
// After adding a timer due at `when`: wake the M sleeping for timers if it
// would sleep past it.
// Called from: G with P (after, poll_set_deadline) | G in a call | foreign
//   thread | g0 or the next G (sleep's post-switch step) | sysmon
//   (handoffp of a retaken P)
// Locks: any (polldesc.lock in adopt_locked); takes none (netpoll_break
//   writes the eventfd)
// May switch: no
void wake_timer_sleeper(runtime& rt, std::int64_t when);

// now + d, clamped to INT64_MAX ("never") instead of wrapping; a d <= 0
// gives now (already due). Both in nanoseconds of one clock. (The public
// templates saturate chrono values with goro/detail/saturate.hpp; this is
// the runtime's step from a duration to a deadline.)
constexpr std::int64_t saturating_deadline(std::int64_t now, std::int64_t d) noexcept {
  if (d <= 0) return now;
  return d > std::numeric_limits<std::int64_t>::max() - now
             ? std::numeric_limits<std::int64_t>::max()
             : now + d;
}

}  // namespace goro::detail
