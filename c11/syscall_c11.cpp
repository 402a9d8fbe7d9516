// The blocking-call P-status protocol under Relacy (issue 13):
// sched/psyscall.hpp, the source the runtime ships (entersyscall's
// syscall_detachp, exitsyscall's exitsyscall_acquirep, sysmon's retakep),
// compiled with GORO_RELACY so its atomics are rl::atomic.
//
// Threads: M1 (thread 0) holds the one P and makes a blocking call;
// sysmon (thread 1) tries to retake it; M2 (thread 2) looks for an idle P
// (the M that handoffp or the idle list would give the retaken P to) and,
// in some scenarios, makes a blocking call of its own on it. The
// environment is small fakes: sched.pidle is a counter under an rl::mutex
// (sched.lock), acquirep/releasep store m_ and status as the runtime's do,
// handoffp puts the P on the idle list, the slow path only records itself.
//
// Whoever owns the P (an M running on it, sysmon between its claim and the
// handoff) writes the P's `owner`, an rl::var: Relacy reports a data race
// unless each owner's use happens-after the previous owner's, i.e. unless
// the syscall store's release and the claimant's acquire pass the P on.
// Checked:
//   OneMPerP      never two owners of the P at once (a relaxed counter of
//                 holders, exact by coherence, plus the race check)
//   ExitOrSlow    the returning M gets a P back (its own by CAS, or an idle
//                 one) or goes the slow path, and the slow path only when
//                 its P was claimed by someone else
//   NoPLost       at the end the P is idle, on the idle list exactly once,
//                 held by nobody
// (tla/PHandoff.tla's OneMPerP; spec/memory-model.md §4 and its
// "C11 check: blocking calls" section.)
//
// Search: Relacy's exhaustive search (sched_full) where it ends within the
// budget, else context-bound (the table in main). The command line is
// c11/harness.hpp's.
//
// Teeth (c11/CMakeLists.txt): weak_retake_claim and weak_exit_claim run the
// same source with one CAS's order weakened (psyscall_orders overridden);
// syscall_c11_exitsyscall_no_cas compiles in ci/mutants.sh's mutant, whose
// branch lives in sched/psyscall.hpp.
#include <cstdlib>
#include <ostream>

#include "base/atomic.hpp"
#include "harness.hpp"
#include "sched/psyscall.hpp"

// Relacy prints the values in its histories: pstatus by name.
namespace goro::detail {
std::ostream& operator<<(std::ostream& os, pstatus s) {
  static const char* const names[] = {"idle", "running", "syscall", "stopped"};
  return os << names[static_cast<unsigned>(s)];
}
}  // namespace goro::detail

namespace {

using goro::detail::atomic;
using goro::detail::exitsyscall_acquirep;
using goro::detail::pstatus;
using goro::detail::psyscall_orders;
using goro::detail::retakep;
using goro::detail::syscall_detachp;
using goro::detail::var;

constexpr std::memory_order rlx = std::memory_order_relaxed;

struct tm;

struct tp {
  atomic<pstatus> status;
  atomic<tm*> m_;
  var<int> owner;  // written by whoever owns the P: the race check
};

struct tm {
  int id = 0;
  tp* p_ = nullptr;
  tp* oldp = nullptr;
};

constexpr int sysmon_id = 9;

// Weakened one step each (acquire to relaxed; the failure order is relaxed
// already).
// retake's claim: sysmon's handoff would use the P without seeing what the
// M that made the call wrote to it.
struct weak_retake_claim_orders : psyscall_orders {
  static constexpr std::memory_order retake_claim = std::memory_order_relaxed;
  static constexpr std::memory_order retake_claim_fail = std::memory_order_relaxed;
};
// exitsyscall's fast path: an M taking back its old P, which meanwhile was
// retaken, run by M2 and left in M2's own call, would run it without seeing
// M2's writes.
struct weak_exit_claim_orders : psyscall_orders {
  static constexpr std::memory_order exit_claim = std::memory_order_relaxed;
  static constexpr std::memory_order exit_claim_fail = std::memory_order_relaxed;
};

// Scenario knobs.
//   retakes   how many times sysmon tries to retake the P
//   m2_call   M2, if it gets the P, makes a blocking call on it and returns
template <class Scn, class O = psyscall_orders>
struct syscall_test : rl::test_suite<syscall_test<Scn, O>, 3> {
  tp P;
  tm ms[3];  // ms[0] is M1, ms[2] is M2 (ms[1] unused: sysmon has no M)
  rl::mutex sched_lock;
  var<int> nidle;  // how many times P is on sched.pidle (under sched_lock)
  // Owners of the P right now. Relaxed RMWs: exact by coherence, and they
  // order nothing, so they hide no missing happens-before.
  atomic<int> holders;
  atomic<int> retakes_won;
  bool m1_slow = false, m1_back = false;  // M1's own record

  void before() {
    P.status.store(pstatus::running, rlx);
    P.m_.store(&ms[0], rlx);
    P.owner.store(0);
    for (int i = 0; i < 3; i++) ms[i].id = i;
    ms[0].p_ = &P;
    nidle.store(0);
    holders.store(1, rlx);  // M1 runs on the P
    retakes_won.store(0, rlx);
  }

  // Taking and leaving ownership of the P.
  void own(tp* pp, int who) {
    RL_ASSERT(holders.fetch_add(1, rlx) == 0 || !"OneMPerP: a second owner of the P");
    pp->owner.store(who);  // races with the previous owner's unless ordered
  }
  void use(tp* pp, int who) {
    // An M running a G on the P: reads and writes it.
    RL_ASSERT(pp->owner.load() == who || !"OneMPerP: the P was used by another owner");
    pp->owner.store(who);
  }
  void disown() { holders.fetch_sub(1, rlx); }

  // sched.pidle under sched.lock (pidleput's status store is the runtime's:
  // relaxed, ordered by the lock).
  void pidleput(tp* pp) {
    sched_lock.lock($);
    pp->status.store(pstatus::idle, rlx);
    nidle.store(nidle.load() + 1);
    sched_lock.unlock($);
  }

  // The M's side of exitsyscall_acquirep (the runtime's is syscall.cpp's).
  struct env {
    syscall_test* t;
    tm* mp;
    void acquirep(tp* pp) {
      t->own(pp, mp->id);
      RL_ASSERT(mp->p_ == nullptr);
      mp->p_ = pp;
      pp->m_.store(mp, std::memory_order_release);
      pp->status.store(pstatus::running, rlx);
    }
    tp* pidleget() {
      tp* pp = nullptr;
      t->sched_lock.lock($);
      if (int n = t->nidle.load(); n > 0) {
        t->nidle.store(n - 1);
        pp = &t->P;
      }
      t->sched_lock.unlock($);
      return pp;
    }
  };

  // releasep + pidleput: the M is done with the P (it parks, say).
  void release_to_idle(tm* mp) {
    tp* pp = mp->p_;
    mp->p_ = nullptr;
    pp->m_.store(nullptr, rlx);
    disown();
    pidleput(pp);
  }

  // entersyscall; the call; exitsyscall. Returns whether the M got a P.
  bool blocking_call(tm* mp) {
    tp* pp = mp->p_;
    use(pp, mp->id);  // the P's last use before the call
    mp->oldp = pp;
    mp->p_ = nullptr;
    disown();
    syscall_detachp<O>(*pp);
    // ... the call ...
    tp* oldp = mp->oldp;
    mp->oldp = nullptr;
    env e{this, mp};
    tp* got = exitsyscall_acquirep<O>(oldp, e);
    if (!got) return false;  // slow path: the G waits for a P, the M parks
    use(got, mp->id);
    return true;
  }

  void thread(unsigned me) {
    if (me == 0) {  // M1
      tm* mp = &ms[0];
      if (blocking_call(mp)) {
        m1_back = true;
        release_to_idle(mp);
      } else {
        m1_slow = true;
      }
    } else if (me == 1) {  // sysmon
      for (int k = 0; k < Scn::retakes; k++) {
        retakep<O>(P, [&](tp& pp) {
          retakes_won.fetch_add(1, rlx);
          own(&pp, sysmon_id);  // handoffp reads the P's queues and timers
          disown();
          pidleput(&pp);  // handoffp: no work, so the idle list
        });
      }
    } else {  // M2: an M that looks for an idle P
      tm* mp = &ms[2];
      env e{this, mp};
      if (tp* pp = e.pidleget()) {
        e.acquirep(pp);
        use(pp, mp->id);
        if (Scn::m2_call && !blocking_call(mp)) return;  // slow path: holds nothing
        release_to_idle(mp);
      }
    }
  }

  void after() {
    RL_ASSERT(m1_back != m1_slow || !"ExitOrSlow: M1 both (or neither) got a P and went slow");
    RL_ASSERT(!m1_slow || retakes_won.load(rlx) > 0 ||
              !"ExitOrSlow: M1 went the slow path though nobody claimed its P");
    RL_ASSERT(holders.load(rlx) == 0 || !"NoPLost: the P is still held at the end");
    RL_ASSERT(nidle.load() == 1 || !"NoPLost: the P is not on the idle list exactly once");
    RL_ASSERT(P.status.load(rlx) == pstatus::idle || !"NoPLost: the P is not idle at the end");
  }
};

// M1's call against one retake; M2 takes the P if it is on the idle list.
struct exit_retake_scn {
  static constexpr int retakes = 1;
  static constexpr bool m2_call = false;
};

// As exit_retake, but M2 makes its own call on the retaken P: M1's fast-path
// CAS may then take the P out of M2's call (the status is syscall again),
// and must acquire what M2 wrote; M2 then finds no P and goes slow.
struct reenter_scn {
  static constexpr int retakes = 1;
  static constexpr bool m2_call = true;
};

// As reenter, with sysmon retaking twice (M2's call too).
struct reenter2_scn {
  static constexpr int retakes = 2;
  static constexpr bool m2_call = true;
};

}  // namespace

int main(int argc, char** argv) {
  using goro::c11::run_test;
  // CI's searches: exit_retake and reenter end under the full search
  // (0.5M and 1M executions, ~4 s and ~10 s); reenter2's full search did
  // not end within 5 minutes, so bound 7 (1.1M executions, ~7 s; bound 8
  // took ~18 s).
  return goro::c11::main(
      "syscall", argc, argv,
      {
          {"exit_retake", {rl::sched_full, 0}, run_test<syscall_test<exit_retake_scn>>},
          {"reenter", {rl::sched_full, 0}, run_test<syscall_test<reenter_scn>>},
          {"reenter2", {rl::sched_bound, 7}, run_test<syscall_test<reenter2_scn>>},
          // Teeth: one order weakened one step; Relacy must report it.
          {"weak_retake_claim",
           {rl::sched_full, 0},
           run_test<syscall_test<exit_retake_scn, weak_retake_claim_orders>>,
           true},
          {"weak_exit_claim",
           {rl::sched_full, 0},
           run_test<syscall_test<reenter_scn, weak_exit_claim_orders>>,
           true},
      });
}
