// The netpoller's readiness latch under Relacy (issue 13):
// netpoll/poll_latch.hpp, the source the runtime ships (netpoll's
// poll_latch_ready, poll_wait's poll_latch_wait, the slot's take by close),
// compiled with GORO_RELACY so its fields are rl::var.
//
// The latch holds no atomic: ready and the slot are plain data under the
// descriptor's lock (a futex_lock in the runtime). Here that lock is a small
// spin lock through the facade (acquire exchange to lock, release store to
// unlock: the orders futex_lock's fast paths use), so Relacy checks that the
// lock is what orders an edge before the wait that consumes it; the park is
// a Relacy semaphore (park_unlock's commit is the lock's release; ready's
// wake-up is the post), so a goroutine parked for ever is a DEADLOCK.
//
// Threads: the goroutine (thread 0) waits for reading (lock, then
// poll_latch_wait, as poll_wait does) and, where the scenario has a single
// edge, then looks at the latch once more; the poller (thread 1) reports
// one read edge (poll_latch_ready, then readies what it took, as netpoll's
// caller does); thread 2, where the scenario has one, is a second poller
// with another edge (findrunnable and sysmon both polling) or a close
// (closing = true and the slot's take under the lock, then the ready, as
// poll_close does). Checked:
//   NoLostWakeup  the goroutine's wait returns (else Relacy reports the
//                 goroutine blocked for ever: DEADLOCK)
//   WokenOnce     every park ends with exactly one ready, and no ready is
//                 left over
//   ConsumedOnce  a single edge lets one wait through: once the wait has
//                 returned 0, the latch is empty
// (spec/netpoll.md; NetTest.AnEdgeThatArrivesBeforeTheReaderWaitsIsNotLost
// is the runtime test of NoLostWakeup; spec/memory-model.md, "C11 check:
// the netpoll readiness latch".)
//
// Teeth (c11/CMakeLists.txt): weak_unlock runs the same source with the
// model lock's release weakened; netpoll_c11_netpoll_no_latch compiles in
// ci/mutants.sh's mutant, whose branch lives in netpoll/poll_latch.hpp.
#include <cerrno>
#include <cstdlib>

#include "base/atomic.hpp"
#include "harness.hpp"
#include "netpoll/poll_latch.hpp"

namespace {

using goro::detail::atomic;
using goro::detail::poll_latch;
using goro::detail::poll_latch_ready;
using goro::detail::poll_latch_wait;
using goro::detail::var;

constexpr std::memory_order rlx = std::memory_order_relaxed;

// The model of polldesc::lock: a test-and-set spin lock over the facade.
struct lock_orders {
  static constexpr std::memory_order lock = std::memory_order_acquire;
  static constexpr std::memory_order unlock = std::memory_order_release;
};
// Weakened one step: an unlock that publishes nothing.
struct weak_unlock_orders : lock_orders {
  static constexpr std::memory_order unlock = std::memory_order_relaxed;
};

template <class O>
struct spin_lock {
  atomic<bool> locked{false};
  void lock() {
    while (locked.exchange(true, O::lock)) rl::yield(1, $);
  }
  void unlock() { locked.store(false, O::unlock); }
};

// A goroutine's waiter: a semaphore for the park, and a count of readies.
struct tw {
  rl::rl_sem_t sem;
  atomic<int> readies;  // relaxed: a count; the post carries the wake-up
};

template <class O>
struct tpd {
  spin_lock<O> lock;
  poll_latch<tw> rg, wg;
  var<bool> closing;
};

// ready(): the goroutine runs again.
void ready(tw* w) {
  w->readies.fetch_add(1, rlx);
  rl::rl_sem_post(&w->sem, $);
}

// Scenario knobs.
//   third   what thread 2 does: 0 nothing (2 threads), 1 a second edge, 2 a close
template <class Scn, class O = lock_orders>
struct latch_test : rl::test_suite<latch_test<Scn, O>, Scn::third == 0 ? 2 : 3> {
  using pd_t = tpd<O>;
  pd_t pd;
  tw w;
  int parks = 0;    // the goroutine's own count
  int result = -1;  // what its wait returned
  bool relatched = false;

  void before() {
    rl::rl_sem_init(&w.sem, 0, 0, $);
    w.readies.store(0, rlx);
    pd.rg.reset();
    pd.wg.reset();
    pd.closing.store(false);
  }

  // poll_wait's environment: the closing check and the park.
  struct env {
    latch_test* t;
    int check(pd_t& d) { return d.closing.load() ? EBADF : 0; }
    void park(pd_t& d, poll_latch<tw>& slot) {
      RL_ASSERT(slot.arm(&t->w) || !"two goroutines wait on one direction");
      t->parks++;
      d.lock.unlock();  // park_unlock: the park commits, then the lock goes
      // Relacy's sem_wait may fail spuriously (as EINTR): wait on.
      while (rl::rl_sem_wait(&t->w.sem, $) != 0) {
      }
      RL_ASSERT(t->w.readies.load(rlx) == t->parks || !"WokenOnce: a park ended without its ready");
    }
  };

  // netpoll reporting one read edge; its caller readies what it took.
  void poll_edge() {
    tw* woken[2] = {nullptr, nullptr};
    int n = 0;
    poll_latch_ready(pd, true, false, [&](tw* x) { woken[n++] = x; });
    for (int i = 0; i < n; i++) ready(woken[i]);
  }

  void thread(unsigned me) {
    if (me == 0) {  // the goroutine
      env e{this};
      pd.lock.lock();
      result = poll_latch_wait(pd, true, e);
      RL_ASSERT(result == 0 || (Scn::third == 2 && result == EBADF));
      if (Scn::third != 1 && result == 0) {
        // One edge, consumed by the wait: nothing latched is left for a
        // second one.
        pd.lock.lock();
        relatched = pd.rg.consume();
        pd.lock.unlock();
      }
    } else if (me == 1 || Scn::third == 1) {  // a poller
      poll_edge();
    } else {  // a close
      pd.lock.lock();
      pd.closing.store(true);
      tw* x = pd.rg.take();
      pd.lock.unlock();
      if (x) ready(x);
    }
  }

  void after() {
    RL_ASSERT(!relatched || !"ConsumedOnce: one edge let two waits through");
    RL_ASSERT(w.readies.load(rlx) == parks || !"WokenOnce: a waiter readied twice, or not at all");
    int left = 0;
    rl::rl_sem_getvalue(&w.sem, &left, $);
    RL_ASSERT(left == 0 || !"WokenOnce: a ready left over");
    rl::rl_sem_destroy(&w.sem, $);
  }
};

// One edge racing the wait: latched before the goroutine looks, or waking
// it in the slot.
struct edge_wait_scn {
  static constexpr int third = 0;
};
// Two edges from two pollers: the waiter is readied once, the second edge
// stays latched.
struct two_pollers_scn {
  static constexpr int third = 1;
};
// One edge and a close racing the wait: whoever takes the waiter readies
// it; the wait returns 0 or EBADF.
struct close_scn {
  static constexpr int third = 2;
};

}  // namespace

int main(int argc, char** argv) {
  using goro::c11::run_test;
  // CI's searches: the two-thread scenario ends under the full search (8k
  // executions); with a third thread the spin lock's retries make the full
  // search run for hours, so bound 4 (about 1.1M executions, ~10 s each;
  // bound 5 took ~30 s each, bound 6 ~110 s).
  return goro::c11::main(
      "netpoll", argc, argv,
      {
          {"edge_wait", {rl::sched_full, 0}, run_test<latch_test<edge_wait_scn>>},
          {"two_pollers", {rl::sched_bound, 4}, run_test<latch_test<two_pollers_scn>>},
          {"close", {rl::sched_bound, 4}, run_test<latch_test<close_scn>>},
          // Teeth: the model lock's unlock made relaxed; Relacy must report
          // the latch's fields racing.
          {"weak_unlock",
           {rl::sched_full, 0},
           run_test<latch_test<edge_wait_scn, weak_unlock_orders>>,
           true},
      });
}
