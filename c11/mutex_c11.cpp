// goro::mutex's state word under Relacy (issue 13): sync/mutex_state.hpp, the
// protocol mutex.cpp ships (Go's sync.Mutex: locked / woken / starving bits
// and the waiter count, normal-mode wake, starvation hand-off), compiled with
// GORO_RELACY so its atomics are rl::atomic, over fakes of the runtime.
//
// The fakes. The semaphore bucket's lock is Relacy's rl::mutex, its queue
// (this mutex's sleepers only) an array of detail::var under it. A sleeper
// blocks its Relacy thread on an rl::atomic word until a wake exchanges it to
// 1 (Relacy's wait/wake, a release/acquire edge as ready() is in the
// runtime); a sleeper nobody wakes stays blocked: Relacy's DEADLOCK. The
// clock is fake: a thread's k-th now() returns 1 + k * step, so with step =
// 2 ms every waiter that sleeps once has starved when it wakes (Go's 1 ms),
// and starvation mode is entered without waiting. can_spin allows a given
// number of spin rounds (the woken-flag claim), spin_pause does nothing.
//
// Invariants:
//   MutualExclusion  a plain in-CS flag (Relacy switches threads only at its
//                    operations) is clear on entry; the counter incremented
//                    in the critical section is a detail::var, so an
//                    owner's access not ordered after the previous owner's
//                    is a data race; after(): the counter equals the locks.
//   NoLostWakeup     no locker stays asleep (DEADLOCK otherwise).
//   NoDoubleWake     a wake readies a sleeper that was not already readied.
//   HandoffToWaiter  (M4) in starvation mode only the woken head waiter
//                    takes the lock: its hand-off RMW finds locked clear, or
//                    the shipped code's fatal() (an RL_ASSERT here) fires.
//   AbandonGivesBack  after a teardown abandoned a parked locker, the word is
//                    back to 0: no count, no woken flag, unlocked.
//   NoTouchAfterRelease (M5) the locker whose critical section is the last
//                    destroys the state word right after its unlock; an
//                    unlock still waking a sleeper then must not touch it
//                    (ACCESS TO FREED MEMORY).
//
// Teeth (c11/CMakeLists.txt): weak_lock_cas (lock_slow's acquire CAS made
// relaxed) and weak_unlock_cas (unlock_slow's release CAS made relaxed) run
// the same source with one order weakened (mutex_orders overridden);
// no_abandon_wait runs abandon_foreign with mutex_abandon's wait for an
// in-flight wake removed (mutex_orders::abandon_waits_for_wake false).
#include <cstdlib>
#include <new>

#include "base/atomic.hpp"
#include "harness.hpp"
#include "sync/mutex_state.hpp"

namespace {

using goro::detail::var;

constexpr int max_threads = 3;

struct fwaiter {
  rl::atomic<int> woken;  // 0 asleep or awake, 1 readied and not yet resumed, 2 abandoned
  rl::atomic<int> phase;  // abandon scenario: 0 running, 1 parked, 2 done without parking
};

// Unwinds an abandoned locker's thread out of lock(): the runtime never runs
// such a goroutine again (its stack is freed with the runtime).
struct abandoned_exit {};

// Blocks the calling Relacy thread until word != 0. The check is an RMW (it
// reads the latest value) made in one scheduler step with the block, as
// Relacy's own futex does: a plain load could read a stale 0 after the
// waker's wake had found nobody blocked.
void block_until_nonzero(rl::atomic<int>& word) {
  for (;;) {
    int v;
    {
      rl::preemption_disabler pd(rl::ctx());
      v = word.fetch_add(0, rl::mo_acquire, $);
    }
    if (v != 0) return;
    word.wait(rl::ctx(), false, false, $);
  }
}

// Blocks the calling Relacy thread until word != seen (as block_until_nonzero).
void block_until_changed(rl::atomic<int>& word, int seen) {
  for (;;) {
    int v;
    {
      rl::preemption_disabler pd(rl::ctx());
      v = word.fetch_add(0, rl::mo_acquire, $);
    }
    if (v != seen) return;
    word.wait(rl::ctx(), false, false, $);
  }
}

void set(rl::atomic<int>& word, int v) {
  word.store(v, rl::mo_release, $);
  word.wake(rl::ctx(), max_threads, $);
}

// The state word, in its own storage so that its last user can destroy it.
struct mu_obj {
  goro::detail::atomic<std::int32_t> state{0};
};

// The semaphore bucket: its lock, and the queue of this mutex's sleepers.
struct bucket {
  rl::mutex lock;
  var<int> n;
  var<fwaiter*> q[max_threads];
  rl::atomic<int> wakes;  // wake() calls so far, bumped under the lock (wait_wake)
};

long handoff_executions = 0;  // executions that went through a hand-off

template <class Scn, class O>
struct mutex_test;

// mutex_state.hpp's Env over the fakes, one per thread.
template <class Scn, class O>
struct fake_env {
  using waiter = fwaiter;
  mutex_test<Scn, O>* t;
  unsigned me;
  int clock_calls = 0;

  bool can_spin(int iter) const { return iter < Scn::spins; }
  static void spin_pause() {}
  std::int64_t now() { return 1 + std::int64_t(clock_calls++) * Scn::clock_step; }
  void sleep_lock() { t->b.lock.lock($); }
  void sleep_unlock() { t->b.lock.unlock($); }
  void sleep(bool requeue) {
    bucket& b = t->b;
    fwaiter* w = &t->fw[me];
    int n = b.n.load();
    RL_ASSERT(n < max_threads);
    if (requeue) {
      for (int i = n; i > 0; i--) b.q[i].store(b.q[i - 1].load());
      b.q[0].store(w);
    } else {
      b.q[n].store(w);
    }
    b.n.store(n + 1);
    b.lock.unlock($);
    if (Scn::abandon && me == 1) {
      // Parked, never to run again: the teardown thread takes it from here.
      set(w->phase, 1);
      block_until_nonzero(w->woken);
      throw abandoned_exit{};
    }
    block_until_nonzero(w->woken);
    // Off the queue (the waker dequeued us under the lock): nobody readies
    // us again before we queue ourselves again, under the lock.
    w->woken.store(0, rl::mo_relaxed, $);
  }
  bool remove(waiter* w) {
    bucket& b = t->b;
    int n = b.n.load();
    for (int i = 0; i < n; i++) {
      if (b.q[i].load() != w) continue;
      for (int j = i + 1; j < n; j++) b.q[j - 1].store(b.q[j].load());
      b.n.store(n - 1);
      return true;
    }
    return false;
  }
  bool queued(waiter* w) {
    bucket& b = t->b;
    int n = b.n.load();
    for (int i = 0; i < n; i++)
      if (b.q[i].load() == w) return true;
    return false;
  }
  // Teardown's wait for a wake in flight: until some wake() has run.
  void wait_wake() {
    bucket& b = t->b;
    int seen = b.wakes.load(rl::mo_relaxed, $);  // under the lock
    b.lock.unlock($);
    block_until_changed(b.wakes, seen);
    b.lock.lock($);
  }
  // sema_wake: the first sleeper, dequeued under the lock, readied after it.
  bool wake() {
    bucket& b = t->b;
    b.lock.lock($);
    int n = b.n.load();
    fwaiter* w = nullptr;
    if (n > 0) {
      w = b.q[0].load();
      for (int i = 1; i < n; i++) b.q[i - 1].store(b.q[i].load());
      b.n.store(n - 1);
    }
    b.wakes.fetch_add(1, rl::mo_relaxed, $);
    b.lock.unlock($);
    b.wakes.wake(rl::ctx(), max_threads, $);  // a teardown in wait_wake
    if (w) {
      int old = w->woken.exchange(1, rl::mo_release, $);
      RL_ASSERT(old == 0 || !"NoDoubleWake: a sleeper readied twice, or after it was abandoned");
      w->woken.wake(rl::ctx(), max_threads, $);  // the sleeper, and a teardown waiting on it
    }
    return w != nullptr;
  }
  void after_handoff() { t->handed_off = true; }
  [[noreturn]] static void fatal(const char*) {
    RL_ASSERT(!"goro fatal(): mutex invariant broken (M1-M4; HandoffToWaiter)");
    std::abort();
  }
};

template <class Scn, class O = goro::detail::mutex_orders>
struct mutex_test : rl::test_suite<mutex_test<Scn, O>, Scn::nthreads> {
  static constexpr int nthreads = Scn::nthreads;
  alignas(mu_obj) unsigned char storage[sizeof(mu_obj)];
  bool destroyed = false;
  bucket b;
  fwaiter fw[nthreads];
  var<int> counter;  // the critical section's data
  bool inside = false;
  bool handed_off = false;
  bool abandoned = false;  // locker 1 never came back from a park

  mu_obj* mu() { return reinterpret_cast<mu_obj*>(storage); }

  void before() {
    ::new (storage) mu_obj;
    destroyed = inside = handed_off = abandoned = false;
    b.n.store(0);
    b.wakes.store(0, rl::mo_relaxed, $);
    for (auto& f : fw) {
      f.woken.store(0, rl::mo_relaxed, $);
      f.phase.store(0, rl::mo_relaxed, $);
    }
    counter.store(0);
  }

  void thread(unsigned me) {
    fake_env<Scn, O> env{this, me};
    if (Scn::abandon && me == 2) return teardown(env);
    try {
      lockers(env, me);
    } catch (abandoned_exit&) {
      abandoned = true;
    }
    if (Scn::abandon && me == 1 && !abandoned) set(fw[1].phase, 2);
    if (Scn::abandon && me == 0) set(fw[0].phase, 2);  // locker 0 has finished
  }

  // The abandon scenario's teardown of locker 1 (park.hpp's abandon_waiters):
  // once it is parked, fn(arg, false); if a waker had taken it, wait for that
  // waker's ready() and then fn(arg, true), which gives back what the wake
  // handed it (the woken flag, or the mutex in starvation mode).
  void teardown(fake_env<Scn, O>& env) {
    // A goroutine locker runs no more once teardown starts; a foreign
    // thread's may still be unlocking.
    if (!Scn::foreign_unlock) block_until_nonzero(fw[0].phase);
    block_until_nonzero(fw[1].phase);
    if (fw[1].phase.load(rl::mo_relaxed, $) != 1) return;  // never slept
    if (goro::detail::mutex_abandon<O>(mu()->state, env, false, &fw[1])) {
      int old = fw[1].woken.exchange(2, rl::mo_release, $);
      RL_ASSERT(old == 0 || !"NoDoubleWake: an abandoned sleeper was readied");
      fw[1].woken.wake(rl::ctx(), max_threads, $);
      return;
    }
    block_until_nonzero(fw[1].woken);
    goro::detail::mutex_abandon<O>(mu()->state, env, true, &fw[1]);
  }

  void lockers(fake_env<Scn, O>& env, unsigned me) {
    for (int round = 0; round < Scn::rounds[me]; round++) {
      // The try-locker (try_lock_scn) tries first and blocks only if that
      // failed, so every scenario has a fixed number of critical sections.
      if (!(Scn::try_locker == int(me) && goro::detail::mutex_try_lock(mu()->state)))
        goro::detail::mutex_lock<O>(mu()->state, env);
      RL_ASSERT(!inside || !"MutualExclusion: two owners");
      inside = true;
      int c = counter.load() + 1;
      counter.store(c);
      inside = false;
      goro::detail::mutex_unlock<O>(mu()->state, env);
      if (!Scn::abandon && c == total()) {
        // The last critical section: its owner may destroy the mutex as soon
        // as it has unlocked it ([thread.mutex.class]); an unlock still
        // waking a sleeper must not touch it any more (M5).
        mu()->~mu_obj();
        destroyed = true;
      }
    }
  }

  static constexpr int total() {
    int n = 0;
    for (int i = 0; i < nthreads; i++)
      if (!Scn::abandon || i != 2) n += Scn::rounds[i];
    return n;
  }

  void after() {
    int expect = total() - (abandoned ? 1 : 0);
    RL_ASSERT(counter.load() == expect || !"MutualExclusion: a critical section lost");
    if (Scn::abandon)
      RL_ASSERT(mu()->state.load(std::memory_order_relaxed) == 0 ||
                !"AbandonGivesBack: the word is not back to free, no waiter, not woken");
    RL_ASSERT(b.n.load() == 0 || !"NoLostWakeup: a sleeper left queued");
    if (handed_off) handoff_executions++;
    if (!destroyed) mu()->~mu_obj();
  }
};

// Two lockers, one critical section each; no spinning, a clock that never
// lets anyone starve.
struct two_scn {
  static constexpr int nthreads = 2;
  static constexpr int rounds[nthreads] = {1, 1};
  static constexpr int spins = 0;
  static constexpr std::int64_t clock_step = 0;
  static constexpr bool abandon = false;
  static constexpr bool foreign_unlock = false;
  static constexpr int try_locker = -1;  // the locker that tries first, or none
};
// Three lockers, one critical section each.
struct three_scn {
  static constexpr int nthreads = 3;
  static constexpr int rounds[nthreads] = {1, 1, 1};
  static constexpr int spins = 0;
  static constexpr std::int64_t clock_step = 0;
  static constexpr bool abandon = false;
  static constexpr bool foreign_unlock = false;
  static constexpr int try_locker = -1;
};
// As two_scn, but locker 1 tries try_lock first (the public try_lock, and
// the abandon path's): a try_lock that wins the word after the other's
// unlock must acquire its critical section (the counter), as lock() does.
struct try_lock_scn : two_scn {
  static constexpr int try_locker = 1;
};
// As three_scn with one spin round allowed: a spinner's claim of woken.
struct spin_scn {
  static constexpr int nthreads = 3;
  static constexpr int rounds[nthreads] = {1, 1, 1};
  static constexpr int spins = 1;
  static constexpr std::int64_t clock_step = 0;
  static constexpr bool abandon = false;
  static constexpr bool foreign_unlock = false;
  static constexpr int try_locker = -1;
};
// Starvation: every sleeper has starved when it wakes (2 ms a clock tick);
// one locker takes the lock twice, so a woken waiter can lose it to that
// barging owner, sleep again at the front with the starving bit set, and be
// handed the lock by the next unlock.
struct starvation_scn {
  static constexpr int nthreads = 2;
  static constexpr int rounds[nthreads] = {2, 1};
  static constexpr int spins = 0;
  static constexpr std::int64_t clock_step = 2'000'000;
  static constexpr bool abandon = false;
  static constexpr bool foreign_unlock = false;
  static constexpr int try_locker = -1;
};
// As starvation_scn with a third locker.
struct starvation3_scn {
  static constexpr int nthreads = 3;
  static constexpr int rounds[nthreads] = {2, 1, 1};
  static constexpr int spins = 0;
  static constexpr std::int64_t clock_step = 2'000'000;
  static constexpr bool abandon = false;
  static constexpr bool foreign_unlock = false;
  static constexpr int try_locker = -1;
};

// Abandonment (park.hpp, waiter_on_abandon): locker 0 (a goroutine) takes
// the lock twice, locker 1 never runs again once it has parked, and thread 2
// is teardown, once locker 0 has finished: it takes locker 1 off the bucket
// or, if an unlock's wake got there first, gives back the woken flag that
// wake handed it.
struct abandon_scn {
  static constexpr int nthreads = 3;
  static constexpr int rounds[nthreads] = {2, 1, 0};
  static constexpr int spins = 0;
  static constexpr std::int64_t clock_step = 0;
  static constexpr bool abandon = true;
  static constexpr bool foreign_unlock = false;
  static constexpr int try_locker = -1;
};
// As abandon_scn, but locker 0 is a thread outside the runtime, which may
// still be unlocking while teardown runs: its unlock's CAS can decide a
// normal-mode wake of locker 1 (count - 1, woken set) before teardown takes
// the bucket lock. Teardown then finds locker 1 queued with no count left
// for it, and waits for that wake (mutex_abandon) instead of unlinking it;
// the no_abandon_wait teeth shows what unlinking it did (the bug this check
// found: spec/memory-model.md, "C11 check: mutex").
struct abandon_foreign_scn : abandon_scn {
  static constexpr bool foreign_unlock = true;
};

// One order weakened one step (c11/CMakeLists.txt registers them as tests
// that pass only if Relacy reports the failure).
// lock_slow's CAS relaxed: a locker that takes a lock freed by the fast-path
// unlock reads the counter unordered.
struct weak_lock_cas_orders : goro::detail::mutex_orders {
  static constexpr std::memory_order lock_cas = std::memory_order_relaxed;
};
// unlock_slow's CAS relaxed: a third locker whose fast-path CAS reads the
// released word takes the lock without the critical section before it.
struct weak_unlock_cas_orders : goro::detail::mutex_orders {
  static constexpr std::memory_order unlock_cas = std::memory_order_relaxed;
};
// The fix removed (mutex_abandon unlinks a queued waiter the count no longer
// includes): in abandon_foreign the in-flight wake finds nobody and the word
// is left at woken with no owner (AbandonGivesBack).
struct no_abandon_wait_orders : goro::detail::mutex_orders {
  static constexpr bool abandon_waits_for_wake = false;
};

template <class Test>
bool run_counting(const char* check, const char* name, goro::c11::search s) {
  handoff_executions = 0;
  bool ok = goro::c11::run_test<Test>(check, name, s);
  std::printf("c11 mutex %s: %ld executions went through a starvation hand-off\n", name,
              handoff_executions);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  using goro::c11::run_test;
  // CI's searches: the full search for the two-thread scenarios (two: 176
  // executions; try_lock: 392; starvation: 116 thousand, 1.3 s) and for
  // abandon (811 thousand, 8 s); bound 4 for the three-thread
  // ones (three 240 thousand, 3 s; spin 393 thousand, 3.4 s; starvation3 924
  // thousand, 9 s; bound 5 is 1.4 M / 2.4 M / 8.0 M, up to 89 s).
  return goro::c11::main(
      "mutex", argc, argv,
      {
          {"two", {rl::sched_full, 0}, run_test<mutex_test<two_scn>>},
          {"try_lock", {rl::sched_full, 0}, run_test<mutex_test<try_lock_scn>>},
          {"three", {rl::sched_bound, 4}, run_test<mutex_test<three_scn>>},
          {"spin", {rl::sched_bound, 4}, run_test<mutex_test<spin_scn>>},
          {"starvation", {rl::sched_full, 0}, run_counting<mutex_test<starvation_scn>>},
          {"starvation3", {rl::sched_bound, 4}, run_counting<mutex_test<starvation3_scn>>},
          {"abandon", {rl::sched_full, 0}, run_test<mutex_test<abandon_scn>>},
          {"abandon_foreign", {rl::sched_bound, 5}, run_test<mutex_test<abandon_foreign_scn>>},
          // Teeth: one order weakened one step; Relacy must report it.
          {"weak_lock_cas",
           {rl::sched_bound, 2},
           run_test<mutex_test<two_scn, weak_lock_cas_orders>>,
           true},
          {"weak_unlock_cas",
           {rl::sched_bound, 2},
           run_test<mutex_test<three_scn, weak_unlock_cas_orders>>,
           true},
          {"no_abandon_wait",
           {rl::sched_full, 0},
           run_test<mutex_test<abandon_foreign_scn, no_abandon_wait_orders>>,
           true},
      });
}
