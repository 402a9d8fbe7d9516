// The spinning-M protocol under Relacy (issue 13): sched/spinning.hpp, the
// source the runtime ships (ready_wake, wakep, claim/become/drop/
// resetspinning, pidleget_spinning, the spin decision and findrunnable's
// give-up with its re-check), compiled with GORO_RELACY so its atomics are
// rl::atomic, over a small fake of the rest of the runtime:
//
//   Ps        2, each with the real run queue (sched/local_runq.hpp at
//             capacity 4): the re-check reads it with the shipped empty(),
//             a thief takes from it with the shipped steal_into();
//   sched.lock an rl::mutex, guarding the idle P list, the idle M list and
//             the scenario's bookkeeping;
//   stopm     the M joins the idle M list and waits on an rl::condition_variable
//             under that mutex for startm's hand-over (nextp and spinning,
//             rl::vars, so a hand-over not ordered before the woken M's read
//             is a data race); startm pops an idle M and wakes it;
//   findrunnable  the runtime's order: own queue, then (if spin::want_spin)
//             steal from the other P, then spin::give_up_p, then stopm;
//   schedule  a spinning M that found work calls spin::resetspinning, then
//             runs the G: the G's script readies Gs onto the M's P (a put,
//             then spin::ready_wake, as goready does) and then exits or runs
//             forever (the M keeps its P and does nothing more: Go's
//             PHandoff "a running G's steps are not fair").
// There is no global queue, no stop-the-world and no netpoll: give_up_p's
// environment says so (restart_locked false, globrunq_take null). gomaxprocs
// is 2 throughout.
//
// End of an execution: when every M is parked or running its G forever,
// nobody can act any more; the M that makes it so wakes the parked ones to
// leave (as checkdead would), and Relacy checks after():
//   NoLostWakeup         no G made runnable and never taken while a P is
//                        idle (tla/PHandoff.tla's NoLostWakeup at the
//                        quiescent end: no runnable G with an idle P and no
//                        M left to find it)
//   NoGTakenTwice        no G taken twice
//   NmspinningBalanced   nmspinning is back to 0
// and during it:
//   NmspinningNonNegative  drop_spinning's own check (fatal() here is a
//                        failed assertion)
//   OneSpinnerPerWakep   while an M that wakep started spinning still holds
//                        that count, no wakep starts another M (the claim's
//                        CAS from 0)
//   (data races)         a G's payload (an rl::var) is written before its
//                        put and read by whoever runs it; startm's hand-over
//                        likewise.
//
// Search: Relacy's context-bound search (sched_bound N: the interleavings
// with at most N preemptive context switches, each load also allowed any
// older store the memory model permits); N per scenario in main's table,
// printed with the iterations. The full search does not end in minutes.
//
// Teeth (c11/CMakeLists.txt): weak_submit_fence and weak_recheck_fence run
// the same source with one of the Dekker pair's fences made acq_rel
// (spin_orders overridden); spinning_c11_no_spin_recheck and
// spinning_c11_no_needspinning compile in ci/mutants.sh's two spinning
// mutants, whose branches are in sched/spinning.hpp.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "base/atomic.hpp"
#include "harness.hpp"
#include "sched/local_runq.hpp"
#include "sched/spinning.hpp"

namespace goro::detail {
// drop_spinning reports a negative count through fatal() (and local_runq a
// broken invariant): here that is a failed Relacy assertion.
void fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  RL_ASSERT(!"goro fatal() called (NmspinningNonNegative: drop_spinning's check)");
  std::abort();
}
}  // namespace goro::detail

namespace {

using goro::detail::atomic;
using goro::detail::local_runq;
using goro::detail::spin_orders;
using goro::detail::var;
namespace spin = goro::detail::spin;

constexpr int np = 2;      // Ps (gomaxprocs)
constexpr int nm = 3;      // Ms: Relacy threads
constexpr int max_gs = 4;  // Gs a scenario names

struct tg {
  int id = 0;
  var<int> payload;  // written before the G's put, read by whoever runs it
};
constexpr int payload_of(int id) { return 1000 + id; }

struct tp {
  int id = 0;
  local_runq<tg, 4> runq;
  tp* link = nullptr;  // the idle list, under the lock
};

struct tm {
  int id = 0;
  bool spinning = false;  // m.spinning: the M's own
  tp* p_ = nullptr;       // the M's own
  // The idle M list and startm's hand-over: under the lock, but nextp and
  // spinning are handed over as the runtime's startm does (written by the
  // waker, read by the woken M after its wait), so they are rl::vars.
  tm* schedlink = nullptr;
  bool woken = false;
  var<tp*> nextp;
  var<bool> nextspinning;
};

// What sched.lock guards in the fake.
struct tlocked {
  tp* pidle = nullptr;
  tm* midle = nullptr;
  int active = 0;     // Ms neither parked nor running a G forever
  bool quit = false;  // nobody can act any more: parked Ms leave
  // startm found no idle M: the runtime creates one (newm). Here the next M
  // to call stopm becomes it instead of parking (a thread for it would be
  // one more Relacy thread, and the M that stops has nothing else to do).
  bool newm = false;
  tp* newm_p = nullptr;
  bool newm_spinning = false;
};

struct tcounters {
  atomic<std::int32_t> nmspinning{0};
  atomic<std::int32_t> npidle{0};
  atomic<bool> needspinning{false};
};

// One order weakened one step, for the teeth: the submitter's fence (between
// the G's put and its read of nmspinning) and the giving-up spinner's fence
// (between its decrement and its re-check), each made acq_rel: either alone
// allows the store-buffering outcome in which both sides miss each other.
struct weak_submit_fence_orders : spin_orders {
  static constexpr std::memory_order submit_fence = std::memory_order_acq_rel;
};
struct weak_recheck_fence_orders : spin_orders {
  static constexpr std::memory_order recheck_fence = std::memory_order_acq_rel;
};

// How an M starts.
enum class role {
  parked,        // on the idle M list, no P
  idle,          // holds its P, not spinning: enters findrunnable
  spinning,      // holds its P, counted spinning: enters findrunnable
  runs,          // holds its P and runs G `g`
  spinner_runs,  // a spinning M that just found G `g`: resetspinning, then runs it
};

struct mstart {
  role r;
  int p = -1;  // its P
  int g = -1;  // the G it runs
};

// A G's script: the Gs it readies onto its M's P (in order; next: into
// runnext, as goready does), then it exits or runs forever.
struct gscript {
  int ready[2] = {-1, -1};
  bool next = false;
  bool forever = false;
};

template <class Test>
struct tenv {
  using orders = typename Test::orders;
  using m_type = tm;
  using p_type = tp;
  using g_type = tg;
  using locked = tlocked;

  Test& t;

  tcounters& sched() { return t.counters; }
  std::uint32_t procs() { return np; }
  template <class F>
  auto with_lock(F&& f) {
    t.mu.lock($);
    auto r = f(t.locked);
    t.mu.unlock($);
    return r;
  }
  static void pidle_push(tlocked& l, tp* pp) {
    pp->link = l.pidle;
    l.pidle = pp;
  }
  static tp* pidle_pop(tlocked& l) {
    tp* pp = l.pidle;
    if (pp) {
      l.pidle = pp->link;
      pp->link = nullptr;
    }
    return pp;
  }
  tp* allp(std::uint32_t i) { return &t.ps[i]; }
  // The runtime's runqempty: the queue's empty() at its default (acquire).
  static bool runqempty(const tp* pp) { return pp->runq.empty(); }
  void wakep() { spin::wakep(*this); }
  void startm(tp* pp, bool spinning) { t.startm(pp, spinning); }
  static tp* releasep(tm* mp) {
    tp* pp = mp->p_;
    mp->p_ = nullptr;
    return pp;
  }
  static void acquirep(tm* mp, tp* pp) { mp->p_ = pp; }
  bool restart_locked(tlocked&) { return false; }
  tg* globrunq_take(tlocked&, tm*) { return nullptr; }
};

struct no_pause {
  void operator()() const {}
};

template <class Scn, class O = spin_orders>
struct spin_test : rl::test_suite<spin_test<Scn, O>, nm> {
  using orders = O;
  using env = tenv<spin_test>;

  tcounters counters;
  rl::mutex mu;               // sched.lock
  rl::condition_variable cv;  // the parked Ms' notes
  tlocked locked;
  tp ps[np];
  tm ms[nm];
  tg gs[max_gs];

  // Ghost state: read and written by one Relacy thread at a time (Relacy
  // runs them as fibers on one OS thread), never part of the protocol.
  int taken[max_gs] = {};
  bool made_runnable[max_gs] = {};
  bool wakep_spinner[nm] = {};  // started spinning by wakep, count still held

  void before() {
    for (int i = 0; i < np; i++) ps[i].id = i;
    for (int i = 0; i < max_gs; i++) gs[i].id = i;
    bool held[np] = {};
    std::int32_t nspin = 0;
    for (int i = 0; i < nm; i++) {
      tm& m = ms[i];
      m.id = i;
      const mstart& s = Scn::ms[i];
      if (s.r == role::parked) {
        m.schedlink = locked.midle;
        locked.midle = &m;
        continue;
      }
      locked.active++;
      m.p_ = &ps[s.p];
      held[s.p] = true;
      if (s.r == role::spinning || s.r == role::spinner_runs) {
        m.spinning = true;
        nspin++;
      }
      if (s.g >= 0) {
        gs[s.g].payload.store(payload_of(s.g));
        made_runnable[s.g] = true;
      }
    }
    std::int32_t nidle = 0;
    for (int i = np - 1; i >= 0; i--) {
      if (held[i]) continue;
      env::pidle_push(locked, &ps[i]);
      nidle++;
    }
    counters.nmspinning.store(nspin, std::memory_order_relaxed);
    counters.npidle.store(nidle, std::memory_order_relaxed);
    counters.needspinning.store(false, std::memory_order_relaxed);
  }

  void thread(unsigned me) {
    tm* mp = &ms[me];
    const mstart& s = Scn::ms[me];
    if (s.r == role::parked) {
      mu.lock($);
      if (!park_locked(mp)) return;
    }
    schedule(mp, s.g >= 0 ? &gs[s.g] : nullptr);
  }

  // schedule_loop: find a G, stop spinning if we were, run it.
  void schedule(tm* mp, tg* gp) {
    env e{*this};
    for (;;) {
      if (!gp) gp = findrunnable(mp);
      if (!gp) return;
      if (mp->spinning) {
        wakep_spinner[mp->id] = false;  // before the count goes
        spin::resetspinning(e, mp);
      }
      if (!execute(mp, gp)) return;
      gp = nullptr;
    }
  }

  // findrunnable, in the runtime's order. Null: the scenario is over.
  tg* findrunnable(tm* mp) {
    env e{*this};
    for (;;) {
      if (tg* gp = mp->p_->runq.get().gp) return gp;
      if (spin::want_spin(e, mp)) {
        if (tg* gp = stealwork(mp)) return gp;
      }
      wakep_spinner[mp->id] = false;  // before give_up_p's decrement
      spin::give_up_result<tg> r = spin::give_up_p(e, mp);
      if (r.next == spin::give_up_next::retry) continue;
      if (r.next == spin::give_up_next::run) return r.gp;
      if (!stopm(mp)) return nullptr;
    }
  }

  // One round over the other P, runnext included (the runtime's last round).
  tg* stealwork(tm* mp) {
    for (tp& p2 : ps) {
      if (&p2 == mp->p_) continue;
      if (tg* gp = mp->p_->runq.steal_into(p2.runq, true, no_pause{})) return gp;
    }
    return nullptr;
  }

  // Runs gp's script on mp's P. False if it runs forever.
  bool execute(tm* mp, tg* gp) {
    RL_ASSERT(gp->payload.load() == payload_of(gp->id));  // the race check
    taken[gp->id]++;
    const gscript& sc = Scn::gs[gp->id];
    env e{*this};
    for (int k : sc.ready) {
      if (k < 0) continue;
      tg* g2 = &gs[k];
      g2->payload.store(payload_of(k));
      made_runnable[k] = true;
      mp->p_->runq.put(g2, sc.next, [](tg**, std::uint32_t) {
        RL_ASSERT(!"the scenarios never overflow a run queue");
      });
      spin::ready_wake(e);
    }
    if (!sc.forever) return true;
    mu.lock($);
    leave_locked();
    mu.unlock($);
    return false;
  }

  // An M stops acting (parks, or runs its G forever); the last one ends the
  // scenario, waking the parked Ms to leave.
  void leave_locked() {
    if (--locked.active == 0) {
      RL_ASSERT(!locked.newm || !"model bound: a newm nobody took");
      locked.quit = true;
      cv.notify_all($);
    }
  }

  // stopm: park on the idle M list until startm hands us a P. False: the
  // scenario is over.
  bool stopm(tm* mp) {
    mu.lock($);
    if (locked.newm) {  // become the M that startm asked for
      locked.newm = false;
      locked.active--;  // its count: we were active already
      mp->p_ = locked.newm_p;
      mp->spinning = locked.newm_spinning;
      wakep_spinner[mp->id] = mp->spinning;
      mu.unlock($);
      return true;
    }
    mp->schedlink = locked.midle;
    locked.midle = mp;
    leave_locked();
    return park_locked(mp);
  }

  // stopm's second half, entered with the lock held (and directly by an M
  // that starts parked: before() put it on the idle list).
  bool park_locked(tm* mp) {
    while (!mp->woken && !locked.quit) cv.wait(mu, $);
    bool woken = mp->woken;
    mp->woken = false;
    mu.unlock($);
    if (!woken) return false;
    mp->p_ = mp->nextp.load();
    mp->spinning = mp->nextspinning.load();
    return true;
  }

  // startm(pp, spinning): an idle M takes pp. Only wakep calls it here.
  void startm(tp* pp, bool spinning) {
    if (spinning) {
      for (int i = 0; i < nm; i++)
        RL_ASSERT(!wakep_spinner[i] ||
                  !"OneSpinnerPerWakep: wakep started a second spinner while the first holds its "
                   "count");
    }
    mu.lock($);
    tm* nmp = locked.midle;
    if (!nmp) {  // newm: the next M to stop takes it (tlocked::newm)
      RL_ASSERT(!locked.newm || !"model bound: a second newm before the first ran");
      locked.newm = true;
      locked.newm_p = pp;
      locked.newm_spinning = spinning;
      locked.active++;
      mu.unlock($);
      return;
    }
    locked.midle = nmp->schedlink;
    nmp->schedlink = nullptr;
    nmp->nextp.store(pp);
    nmp->nextspinning.store(spinning);
    nmp->woken = true;
    locked.active++;
    if (spinning) wakep_spinner[nmp->id] = true;
    cv.notify_all($);
    mu.unlock($);
  }

  void after() {
    bool idle_p = locked.pidle != nullptr;
    for (int i = 0; i < max_gs; i++) {
      RL_ASSERT(taken[i] <= 1 || !"NoGTakenTwice: a G was run twice");
      if (made_runnable[i] && taken[i] == 0)
        RL_ASSERT(!idle_p || !"NoLostWakeup: a runnable G waits, a P is idle, no M is left");
    }
    RL_ASSERT(counters.nmspinning.load(std::memory_order_relaxed) == 0 ||
              !"NmspinningBalanced: nmspinning is not back to 0");
  }
};

// The Dekker pair: M0 readies G1 onto P0 (a put, then ready_wake) and runs
// forever, while M1, the only spinner, finds nothing to steal and gives up
// (decrement, re-check, stopm); M2 is parked. Either M0 sees no spinner and
// wakes one on the P M1 gave up, or M1's re-check sees G1.
struct recheck_scn {
  static constexpr mstart ms[nm] = {
      {role::runs, 0, 0}, {role::spinning, 1, -1}, {role::parked, -1, -1}};
  static constexpr gscript gs[max_gs] = {{{1, -1}, false, true}, {}, {}, {}};
};

// needspinning (spec/traceability.md, "Lost wakeup in the spinning protocol",
// TLC's trace): M0, a spinner that just found G0, stops spinning and runs it;
// G0 readies G1 into P0's runnext and runs forever. M1 on P1 is not
// spinning: it may decide not to spin (it sees M0's count) and then drop
// its P without a re-check; both wakeps then find no idle P and set
// needspinning, which M1 must see under the lock before idling P1.
struct needspinning_scn {
  static constexpr mstart ms[nm] = {
      {role::spinner_runs, 0, 0}, {role::idle, 1, -1}, {role::parked, -1, -1}};
  static constexpr gscript gs[max_gs] = {{{1, -1}, true, true}, {}, {}, {}};
};

// wakep racing stopm with an idle P: M0 readies G1 and G2 onto P0 and runs
// forever; P1 is idle, M1 and M2 parked. The first wakep starts a spinner on
// P1 (which steals, runs, and through resetspinning may wake another); no
// wakep may start a second spinner while the first holds its count.
struct ramp_scn {
  static constexpr mstart ms[nm] = {
      {role::runs, 0, 0}, {role::parked, -1, -1}, {role::parked, -1, -1}};
  static constexpr gscript gs[max_gs] = {{{1, 2}, false, true}, {}, {}, {}};
};

}  // namespace

int main(int argc, char** argv) {
  using goro::c11::run_test;
  // CI's searches: the full search did not end within 5 minutes even for
  // recheck (over 15M executions), so context bounds: 3 for recheck (~0.8M
  // executions, ~13 s), 2 for needspinning and ramp (~0.1M, ~3 s each; at
  // bound 3 they pass too, in ~100 s and ~120 s, over the budget). Every
  // tooth is caught at bound 1 or 2, in under a second.
  return goro::c11::main(
      "spinning", argc, argv,
      {
          {"recheck", {rl::sched_bound, 3}, run_test<spin_test<recheck_scn>>},
          {"needspinning", {rl::sched_bound, 2}, run_test<spin_test<needspinning_scn>>},
          {"ramp", {rl::sched_bound, 2}, run_test<spin_test<ramp_scn>>},
          // Teeth: one fence of the Dekker pair weakened; Relacy must report it.
          {"weak_submit_fence",
           {rl::sched_bound, 2},
           run_test<spin_test<recheck_scn, weak_submit_fence_orders>>,
           true},
          {"weak_recheck_fence",
           {rl::sched_bound, 2},
           run_test<spin_test<recheck_scn, weak_recheck_fence_orders>>,
           true},
      });
}
