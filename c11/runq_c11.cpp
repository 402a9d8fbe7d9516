// The per-P run queue under Relacy (issue 13): sched/local_runq.hpp, the
// source the runtime ships, compiled with GORO_RELACY so its atomics are
// rl::atomic, at capacity 4 so a handful of operations reaches overflow,
// wrap-around of the slot index and steal-half edges.
//
// Threads: the owner of queue 0 and two thieves, each owning its own queue
// (the destination of its steals, drained by its own gets). Every G carries a
// payload, an rl::var written by the owner before the put and read by
// whoever takes the G: Relacy reports a data race on it unless the taker's
// read happens-after the write, i.e. unless the queue's release/acquire
// pairs publish the G; and it reports a read of a slot no put wrote
// (uninitialised rl::atomic). Checked after every complete execution:
//   NoGLost        every G put is taken (by get, steal, or the overflow sink)
//   NoGTakenTwice  none is taken twice
// (tla/RunQueue.tla's invariants of the same names.)
//
// Search: Relacy's context-bound search (sched_bound: the interleavings with
// at most `bound` preemptive context switches; within them a load may also
// return an older store that the memory model allows, shown as [NOT CURRENT]
// in its histories), bound printed with the iterations. Its full
// search (sched_full) did not end within 5 minutes on 2 cores even for the
// small scenario, so CI runs bound 3, and bound 4 for the small one (the
// table in main). The command line is c11/harness.hpp's.
//
// Teeth (c11/CMakeLists.txt): the scenarios weak_put_tail and weak_put_next
// run the same source with one order weakened (runq_orders overridden), and
// the executables runq_c11_<mutant> compile in ci/mutants.sh's run-queue
// mutants; each must be caught.
#include <cstdlib>

#include "base/atomic.hpp"
#include "harness.hpp"
#include "sched/local_runq.hpp"

namespace goro::detail {
// local_runq reports a broken invariant through fatal(); here that is a
// failed Relacy assertion (fail_test leaves the execution, never returns).
void fatal(const char* fmt, ...) {
  RL_ASSERT(!"goro fatal() called");
  (void)fmt;
  std::abort();
}
}  // namespace goro::detail

namespace {

using goro::detail::local_runq;
using goro::detail::var;

constexpr int max_gs = 8;

struct tg {
  int id = 0;
  var<int> payload;  // written by the owner before the put, read by the taker
};

using queue = local_runq<tg, 4>;

// One order weakened one step, to show the check has teeth (c11/CMakeLists.txt
// registers them as tests that pass only if Relacy reports the failure).
// put's release store of tail, relaxed: a thief that sees the new tail can
// read the slot before the owner's store to it.
struct weak_put_tail_orders : goro::detail::runq_orders {
  static constexpr std::memory_order put_tail = std::memory_order_relaxed;
};
// put-next's release CAS of runnext, relaxed: a thief that CASes the new G
// out of runnext reads its payload without happening-after its write.
struct weak_put_next_orders : goro::detail::runq_orders {
  static constexpr std::memory_order put_next = std::memory_order_relaxed;
};

constexpr int payload_of(int id) { return 1000 + id; }

// What a thread took, recorded in plain per-thread state (only that thread
// writes it; after() reads it once every thread has finished).
struct taken_log {
  int count[max_gs] = {};
  void take(tg* gp) {
    RL_ASSERT(gp != nullptr);
    // Reading the payload is the race check: it must happen-after the write.
    RL_ASSERT(gp->payload.load() == payload_of(gp->id));
    count[gp->id]++;
  }
};

// The overflow path's stand-in for the global queue (the runtime's sink
// takes sched.lock); it runs on the owner only.
struct sink_log {
  taken_log* log;
  void operator()(tg** batch, std::uint32_t n) const {
    for (std::uint32_t i = 0; i < n; i++) log->take(batch[i]);
  }
};

// The courtesy pause before stealing runnext is a sleep in the runtime; here
// the explored interleavings already cover "the owner gets there first".
struct no_pause {
  void operator()() const {}
};

// One owner (thread 0) and two thieves (1, 2). Scenario steps are a string
// per thread, one char per operation:
//   owner:  'p' put, 'n' put-next (runnext), 'g' get one, 'G' get until empty,
//           't' try_put (globrunqget's refill; a full ring puts normally),
//           'x' take_next and re-put at the tail (gopark under preemption)
//   thief:  's' steal (ring only), 'S' steal (may take runnext), then the
//           thief drains its own queue with gets; 'e' asks empty() and
//           size() first (the spinning re-check's questions), then steals;
//           'T' steals from thief 1's queue instead (a G stolen twice over)
template <class Scn, class Q = queue>
struct runq_test : rl::test_suite<runq_test<Scn, Q>, 3> {
  Q q[3];
  tg gs[max_gs];
  int nput = 0;
  taken_log log[3];

  void before() {
    for (int i = 0; i < max_gs; i++) gs[i].id = i;
    // Counters just below 2^32: the scenarios wrap them mid-run.
    for (auto& x : q) x.reset_stopped(Scn::start);
  }

  void thread(unsigned me) {
    const char* ops = Scn::ops[me];
    for (const char* op = ops; *op; op++) {
      switch (*op) {
        case 'p':
        case 'n': {
          tg* gp = &gs[nput++];  // nput: owner only
          gp->payload.store(payload_of(gp->id));
          q[0].put(gp, *op == 'n', sink_log{&log[0]});
          break;
        }
        case 't': {
          tg* gp = &gs[nput++];
          gp->payload.store(payload_of(gp->id));
          if (!q[0].try_put(gp)) q[0].put(gp, false, sink_log{&log[0]});
          break;
        }
        case 'x':
          if (tg* gp = q[0].take_next()) q[0].put(gp, false, sink_log{&log[0]});
          break;
        case 'g':
          if (tg* gp = q[0].get().gp) log[0].take(gp);
          break;
        case 'G':
          while (tg* gp = q[0].get().gp) log[0].take(gp);
          break;
        case 'e':
          // A non-empty answer is only a hint (the owner may take it
          // first); asked for its orders, which ci/weaken.sh weakens.
          if (!q[0].empty() || q[0].size() != 0) steal_and_drain(me, 0, true);
          break;
        case 'T': steal_and_drain(me, 1, true); break;
        case 's':
        case 'S': steal_and_drain(me, 0, *op == 'S'); break;
      }
    }
  }

  // A thief's turn: steal from queue `victim` into its own queue, then take
  // everything it got (the stolen G, then its own queue drained by gets).
  void steal_and_drain(unsigned me, int victim, bool steal_runnext) {
    if (tg* gp = q[me].steal_into(q[victim], steal_runnext, no_pause{})) {
      log[me].take(gp);
      while (tg* g2 = q[me].get().gp) log[me].take(g2);
    }
  }

  void after() {
    // Every scenario ends each thread with a drain of the queue it owns (the
    // owner's final 'G'; a thief's gets after its steal), and a G leaves a
    // queue only into the taker's log or the taker's own queue (drained
    // after), so a G put but taken by nobody was lost.
    for (int i = 0; i < nput; i++) {
      int n = log[0].count[i] + log[1].count[i] + log[2].count[i];
      RL_ASSERT(n != 0 || !"NoGLost: a G put was never taken");
      RL_ASSERT(n <= 1 || !"NoGTakenTwice: a G was taken twice");
    }
  }
};

// The owner fills the ring past capacity (the 5th put overflows: 2 oldest
// plus the new G to the sink unless a thief made room), then drains; two
// ring-only thieves steal concurrently.
struct overflow_scn {
  static constexpr std::uint32_t start = 0xFFFFFFFEu;
  static constexpr const char* ops[3] = {"pppppG", "s", "s"};
};

// runnext: put-next twice (the second kicks the first into the ring), a
// plain put, a get; thieves that may take runnext when the ring is empty.
struct runnext_scn {
  static constexpr std::uint32_t start = 0xFFFFFFFFu;
  static constexpr const char* ops[3] = {"nnpgG", "S", "S"};
};

// Owner gets racing the thieves' steals, with the ring wrapping.
struct get_steal_scn {
  static constexpr std::uint32_t start = 0xFFFFFFFDu;
  static constexpr const char* ops[3] = {"pppgpgG", "s", "S"};
};

// The smallest: a put, a put-next and a drain against a ring-only and a
// runnext-taking thief (its full search did not end either; CI: bound 4).
struct small_scn {
  static constexpr std::uint32_t start = 0xFFFFFFFFu;
  static constexpr const char* ops[3] = {"pnG", "s", "S"};
};

// The other entry points: try_put (the refill from the global queue),
// take_next (runnext emptied to the tail), and empty()/size() asked by a
// thief before it steals.
struct extras_scn {
  static constexpr std::uint32_t start = 0xFFFFFFFFu;
  static constexpr const char* ops[3] = {"tnxG", "e", "S"};
};

// Thief 1 steals two of three Gs (keeping one in its ring) while thief 2
// steals from thief 1: a G published by a thief's steal_into tail store.
struct chain_scn {
  static constexpr std::uint32_t start = 0xFFFFFFFEu;
  static constexpr const char* ops[3] = {"pppG", "s", "T"};
};

}  // namespace

int main(int argc, char** argv) {
  using goro::c11::run_test;
  using weak_tail_q = local_runq<tg, 4, weak_put_tail_orders>;
  using weak_next_q = local_runq<tg, 4, weak_put_next_orders>;
  // CI's searches: Relacy's full search did not end within 5 minutes even
  // for the small scenario, so bound 3, and bound 4 for the small one (9M
  // executions, ~40 s); extras at bound 2 (0.4M executions, 4 s: bound 3
  // explores 10.7M, over 50 s of CPU).
  return goro::c11::main(
      "runq", argc, argv,
      {
          {"small", {rl::sched_bound, 4}, run_test<runq_test<small_scn>>},
          {"overflow", {rl::sched_bound, 3}, run_test<runq_test<overflow_scn>>},
          {"runnext", {rl::sched_bound, 3}, run_test<runq_test<runnext_scn>>},
          {"get_steal", {rl::sched_bound, 3}, run_test<runq_test<get_steal_scn>>},
          {"extras", {rl::sched_bound, 2}, run_test<runq_test<extras_scn>>},
          {"chain", {rl::sched_bound, 3}, run_test<runq_test<chain_scn>>},
          // Teeth: one order weakened one step; Relacy must report it.
          {"weak_put_tail",
           {rl::sched_bound, 2},
           run_test<runq_test<overflow_scn, weak_tail_q>>,
           true},
          {"weak_put_next",
           {rl::sched_bound, 2},
           run_test<runq_test<runnext_scn, weak_next_q>>,
           true},
      });
}
