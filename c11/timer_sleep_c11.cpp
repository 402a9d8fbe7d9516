// The timer sleeper's StoreLoad handshake under Relacy (issue 13):
// time/timer_sleep.hpp, the source block_in_netpoll and wake_timer_sleeper
// ship, compiled with GORO_RELACY.
//
// Threads: the sleeper (an M that found no work and is about to block in
// netpoll until the earliest timer) and one or two adders (goroutines on
// other Ps adding a timer each, publishing it in their P's when0 and then
// calling the wake side). The sleeper's earliest() reads every P's when0,
// as earliest_timer does. Checked after every complete execution:
//   NoLateTimer  the sleeper's chosen deadline is no later than every timer
//                added, or some adder broke its poll (netpoll_break), after
//                which the real sleeper re-reads the timers.
// The stand-ins: when0 stores are relaxed, as publish_when0's (the heap
// lock orders them for the heap's own readers, not for this handshake);
// netpoll_break is a flag.
//
// Search: exhaustive (sched_full) for the two-thread scenarios (9408
// executions each); two_adders, with three threads, did not end within 15
// minutes under the full search, so it runs context-bound, bound 4.
#include <cstdint>

#include "base/atomic.hpp"
#include "harness.hpp"
#include "time/timer_sleep.hpp"

namespace {

using goro::detail::atomic;
using goro::detail::timer_sleep_commit;
using goro::detail::timer_sleep_wake;

constexpr int max_ps = 2;

// Scn: the timers already pending on each P when the sleeper looks (0:
// none), and the timer each adder adds (adder i on P i).
template <class Scn>
struct timer_sleep_test : rl::test_suite<timer_sleep_test<Scn>, 1 + Scn::adders> {
  atomic<std::int64_t> until;
  atomic<std::int64_t> when0[max_ps];
  atomic<bool> broke[max_ps];
  std::int64_t deadline = -1;  // the sleeper's choice; read in after()

  void before() {
    until.store(0, std::memory_order_relaxed);
    for (int i = 0; i < max_ps; i++) {
      when0[i].store(Scn::pending[i], std::memory_order_relaxed);
      broke[i].store(false, std::memory_order_relaxed);
    }
  }

  std::int64_t earliest() {
    std::int64_t best = 0;
    for (int i = 0; i < max_ps; i++) {
      std::int64_t w = when0[i].load(std::memory_order_relaxed);
      if (w != 0 && (best == 0 || w < best)) best = w;
    }
    return best;
  }

  void thread(unsigned me) {
    if (me == 0) {
      std::int64_t when = earliest();
      deadline = timer_sleep_commit(until, when, [&] { return earliest(); });
      return;
    }
    int i = static_cast<int>(me) - 1;
    std::int64_t t = Scn::added[i];
    // publish_when0: the new top of P i's heap, if earlier.
    std::int64_t old = when0[i].load(std::memory_order_relaxed);
    if (old == 0 || t < old) when0[i].store(t, std::memory_order_relaxed);
    timer_sleep_wake(until, t, [&] { broke[i].store(true, std::memory_order_relaxed); });
  }

  void after() {
    bool any_break = false;
    std::int64_t first = 0;
    for (int i = 0; i < Scn::adders; i++) {
      any_break = any_break || broke[i].load(std::memory_order_relaxed);
      if (first == 0 || Scn::added[i] < first) first = Scn::added[i];
    }
    // deadline 0 means "no timer": sleep until a socket or a break.
    bool in_time = deadline != 0 && deadline <= first;
    RL_ASSERT(any_break || in_time ||
              !"NoLateTimer: a timer added while the M went to sleep "
               "is slept past");
  }
};

// No timer pending: the sleeper would block indefinitely; one adder adds a
// timer on the other P.
struct first_timer_scn {
  static constexpr int adders = 1;
  static constexpr std::int64_t pending[max_ps] = {0, 0};
  static constexpr std::int64_t added[max_ps] = {50, 0};
};

// A timer at 100 pending on P1; an adder on P0 adds an earlier one at 50.
struct earlier_timer_scn {
  static constexpr int adders = 1;
  static constexpr std::int64_t pending[max_ps] = {0, 100};
  static constexpr std::int64_t added[max_ps] = {50, 0};
};

// Two adders on two Ps race the sleeper, which re-reads both.
struct two_adders_scn {
  static constexpr int adders = 2;
  static constexpr std::int64_t pending[max_ps] = {0, 0};
  static constexpr std::int64_t added[max_ps] = {70, 50};
};

}  // namespace

int main(int argc, char** argv) {
  using goro::c11::run_test;
  return goro::c11::main(
      "timer_sleep", argc, argv,
      {
          {"first_timer", {rl::sched_full, 0}, run_test<timer_sleep_test<first_timer_scn>>},
          {"earlier_timer", {rl::sched_full, 0}, run_test<timer_sleep_test<earlier_timer_scn>>},
          {"two_adders", {rl::sched_bound, 4}, run_test<timer_sleep_test<two_adders_scn>>},
      });
}
