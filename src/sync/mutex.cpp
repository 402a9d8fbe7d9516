// goro::mutex: Go's sync.Mutex (sync/mutex.go) on goro's park/ready core.
//
// state_ = waiters << 3 | starving | woken | locked, changed only by atomic
// RMW. The sleepers are not in the mutex: they wait in a process-wide table
// of buckets keyed by the mutex's address (Go's semtable), so that unlock's
// releasing RMW is its last access to *this ([thread.mutex.class]: another
// thread may lock, unlock and destroy the mutex as soon as that RMW is done)
// and the wake that follows uses the address only as a key. The invariants
// (spec/channels.md, "Mutex"):
//   M1  waiters counts the lockers queued in the table under this mutex's
//       address, less the normal-mode wakes in flight (decided, not yet
//       dequeued), plus the starvation hand-off receivers not yet in their
//       final CAS. A locker is counted and queued in one step: its counting
//       CAS runs with the bucket's lock held, and it is queued before that
//       lock is released (and released only after its park committed).
//       Teardown unlinks an abandoned locker only together with a count
//       (mutex_abandon): one still queued with no count left for it is a
//       wake's target, and teardown waits for that wake.
//   M2  a wake is decided only by unlock's releasing RMW, and only when that
//       RMW saw a counted sleeper (normal mode: it takes one off the count and
//       sets woken; starvation mode: the receiver leaves the count itself).
//       By M1 that sleeper is queued by the time the waker gets the bucket
//       lock, so every wake dequeues a waiter that is present: none is lost,
//       none is invented, and no token is ever left behind.
//   M3  woken is set by at most one goroutine at a time: the waiter that an
//       unlock woke, or a spinner that claimed it; only that goroutine
//       clears it (in its next CAS). While it is set, unlock wakes nobody.
//   M4  in starvation mode, locked is never set by a newcomer: ownership
//       passes from unlock to the head waiter through the table, and that
//       waiter sets locked itself.
//   M5  unlock touches *this only up to its releasing RMW. While a wake is in
//       flight, the waiter it will take is still inside lock(), so in a
//       correct program the mutex is alive and its address names it; a wake
//       that found nobody (impossible by M2) would do nothing, so even a
//       stale address could not invent a wake-up for a newer object there.
//
// The protocol over state_ is sync/mutex_state.hpp's, which
// c11/mutex_c11.cpp also checks under Relacy; this file gives it the
// semaphore table, park and ready, spinning and the clock.
#include "goro/mutex.hpp"

#include <cstdint>
#include <thread>

#include "base/cpu_relax.hpp"
#include "goro/goro.hpp"
#include "sched/proc.hpp"
#include "sim/controller.hpp"
#include "sync/mutex_state.hpp"
#include "sync/park.hpp"
#include "time/timer.hpp"

namespace goro {

namespace {

constexpr int active_spin = 4;       // spin rounds before sleeping (Go: active_spin)
constexpr int active_spin_cnt = 30;  // pauses per round

// Go's sync_runtime_canSpin: spinning is worth it only on a multicore
// machine, for a goroutine, when some other P is running (and may unlock
// soon) and this P has nothing else to run. All reads are hints.
bool can_spin(int iter) {
  using namespace detail;
  static const unsigned ncpu = std::thread::hardware_concurrency();
  if (iter >= active_spin || ncpu <= 1) return false;
  m* mp = getm();
  if (!mp || !mp->curg.load(std::memory_order_relaxed) || !mp->p_) return false;
  runtime& rt = *mp->rt;
  // relaxed: heuristics (memory-model.md §2); a stale value costs one spin
  // round or one early sleep.
  auto procs = static_cast<std::int32_t>(rt.gomaxprocs.load(std::memory_order_relaxed));
  if (procs <= rt.sched.npidle.load(std::memory_order_relaxed) +
                   rt.sched.nmspinning.load(std::memory_order_relaxed) + 1)
    return false;
  return runqempty(mp->p_);
}

// True for a goroutine that holds a P (not a foreign thread, and not a
// goroutine inside blocking()): only then can it yield to the one it woke.
bool on_p() {
  detail::nopreempt np;
  detail::m* mp = detail::getm();
  return mp && mp->p_ && mp->curg.load(std::memory_order_relaxed);
}

// The semaphore table (Go's semtable): sleepers of every mutex, in buckets
// chosen by the mutex's address. Each waiter's elem holds the address it
// sleeps on; a bucket's list is FIFO per address, except that a waiter going
// back to sleep is pushed at the front (LIFO: it keeps its turn).
constexpr std::size_t sema_buckets = 251;  // prime, as Go's semTabSize

struct alignas(64) sema_bucket {
  detail::futex_lock lock;
  detail::wait_list q GORO_GUARDED_BY(lock);
};

sema_bucket sema_table[sema_buckets];

sema_bucket& bucket_for(const void* addr) {
  return sema_table[(reinterpret_cast<std::uintptr_t>(addr) >> 3) % sema_buckets];
}

void waitq_push_front(detail::wait_list& q, detail::waiter* w) {
  w->next = q.head;
  q.head = w;
  if (!q.tail) q.tail = w;
}

// Takes the first waiter queued under addr out of q, or returns null.
detail::waiter* waitq_take(detail::wait_list& q, const void* addr) {
  return detail::waitq_remove_first_if(q, [addr](detail::waiter* w) { return w->elem == addr; });
}

// Go's semrelease, without the count: wakes the first sleeper queued under
// addr (M2 says there is one). Uses addr only as a key (M5).
bool sema_wake(const void* addr) {
  detail::nopreempt np;  // the bucket lock must not be held by a preempted G
  sema_bucket& b = bucket_for(addr);
  b.lock.lock();
  detail::waiter* w = waitq_take(b.q, addr);
  b.lock.unlock();
  if (w) detail::ready(w);
  return w != nullptr;
}

// The runtime's side of mutex_state.hpp's Env for the mutex at addr. The
// bucket lock is taken and released through the template's calls, which the
// analysis cannot follow, so these members are not analysed; mutex_state.hpp
// states where the lock is held.
struct mutex_env {
  using waiter = detail::waiter;
  std::atomic<std::int32_t>* state;
  const void* addr;  // the key in the table; after the release RMW, only that (M5)

  static bool can_spin(int iter) { return goro::can_spin(iter); }
  static void spin_pause() {
    for (int i = 0; i < active_spin_cnt; i++) detail::cpu_relax();
  }
  static std::int64_t now() { return detail::nanotime(); }
  sema_bucket& bucket() const { return bucket_for(addr); }
  void sleep_lock() GORO_NO_THREAD_SAFETY_ANALYSIS { bucket().lock.lock(); }
  void sleep_unlock() GORO_NO_THREAD_SAFETY_ANALYSIS { bucket().lock.unlock(); }
  bool remove(waiter* w) GORO_NO_THREAD_SAFETY_ANALYSIS {
    return detail::waitq_remove(bucket().q, w);
  }
  bool queued(waiter* w) GORO_NO_THREAD_SAFETY_ANALYSIS {
    for (waiter* x = bucket().q.head; x; x = x->next)
      if (x == w) return true;
    return false;
  }
  // Teardown's wait for a foreign thread's wake in flight (mutex_abandon):
  // that thread has passed its releasing RMW and needs only this lock.
  void wait_wake() GORO_NO_THREAD_SAFETY_ANALYSIS {
    bucket().lock.unlock();
    if constexpr (detail::sim) detail::simulator::point(detail::simulator::site::yield);
    std::this_thread::yield();
    bucket().lock.lock();
  }
  bool wake() const {
    // The wake that unlock's releasing RMW decided must follow it with no
    // preemption between (unlock_slow's nopreempt): teardown waits for a
    // wake in flight (mutex_abandon), and a goroutine preempted in between
    // is runnable, so it never runs again once the runtime stops.
    GORO_INVARIANT(detail::unpreemptible(),
                   "MutexWakeUnpreemptible: goroutine %llu decides a wake while preemptible",
                   (unsigned long long)detail::getg()->goid);
    return sema_wake(addr);
  }
  static void after_handoff() {
    // The receiver is in our runnext, so yielding runs it next (Go's goyield).
    if (on_p()) yield();
  }
  [[noreturn]] static void fatal(const char* msg) { detail::fatal("%s", msg); }
  void sleep(bool requeue) GORO_NO_THREAD_SAFETY_ANALYSIS {
    sema_bucket* b = &bucket();
    b->lock.assert_held();  // sleep: locked by sleep_lock
    detail::waiter w;
    detail::waiter_init(w);
    w.elem = const_cast<void*>(addr);  // the key sema_wake looks for
    if (requeue) waitq_push_front(b->q, &w);
    else detail::waitq_push(b->q, &w);
    // Abandoned here (park.hpp, waiter_on_abandon): mutex_abandon.
    struct link {
      mutex_env env;
      detail::waiter* w;
    } ln{*this, &w};
    detail::waiter_on_abandon(
        w,
        [](void* arg, bool readied) noexcept {
          auto* l = static_cast<link*>(arg);
          auto&& state = detail::sim_view(*l->env.state);
          return detail::mutex_abandon(state, l->env, readied, l->w);
        },
        &ln);
    detail::park_unlock(w, b->lock, detail::wait_reason::sync_mutex_lock);
  }
};

}  // namespace

bool mutex::try_lock() noexcept {
  // The inline fast paths (goro/mutex.hpp) and mutex_state.hpp share one layout.
  static_assert(locked_bit == detail::mutex_locked_bit && woken_bit == detail::mutex_woken_bit &&
                starving_bit == detail::mutex_starving_bit &&
                waiter_shift == detail::mutex_waiter_shift);
  auto&& state = detail::sim_view(state_);  // base/atomic.hpp: a point per operation in sim
  return detail::mutex_try_lock(state);
}

void mutex::lock_slow() {
  detail::honour_preempt();  // before the nopreempt region (park.hpp)
  // can_spin reads the M and P, and the semaphore's lock must not be held
  // by a preempted goroutine (chan.cpp, "Preemption").
  detail::nopreempt np;
  mutex_env env{&state_, this};
  auto&& state = detail::sim_view(state_);
  detail::mutex_lock_slow(state, env);
}

void mutex::unlock_slow(std::int32_t old) {
  {
    // Not preemptible from the releasing RMW to the wake it decided: a
    // goroutine preempted between them would leave the wake in flight, and
    // a runtime that stops then never runs it again, while teardown waits
    // for that wake (mutex_abandon). Before: Lifetime.ForeignTryRecvAnd-
    // UnlockRacingTheEndOfRun hung in about 1 run in 100 under load, when
    // an async preemption landed there. after_handoff's yield is still a
    // scheduling point (preemptoff holds off only signals).
    detail::nopreempt np;
    mutex_env env{&state_, this};
    auto&& state = detail::sim_view(state_);
    detail::mutex_unlock_slow(state, old, env);
  }
  detail::honour_preempt();  // uses nothing of *this (park.hpp)
}

}  // namespace goro
