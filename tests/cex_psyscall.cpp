// Replays a TLC counterexample of tla/PHandoff.tla's syscall actions on the
// real P-status protocol (issue 14, point 3; spec/simulation.md,
// "Counterexamples replayed").
//
//   cex_psyscall --script FILE      (the schedule: GORO_SIM_SCHEDULE=FILE)
//
// One simulated thread per process of the model that the protocol of
// sched/psyscall.hpp involves: M m is thread m (1..NM), sysmon is thread
// NM+1. An M's script is a list of blocking calls: for each, it detaches
// its P (syscall_detachp: the model's EnterSyscall) and takes a P back
// (exitsyscall_acquirep: ExitSyscall, then ExitSyscallFast or
// ExitSyscallPidle); sysmon's script is the Ps it retakes (retakep:
// Retake; its handoff puts the P on the idle list: HandoffP with no work).
// Env::acquirep is the runtime's wirep as far as this protocol sees it
// (status running, p.m). ci/tlc_replay.py writes the script and the forced
// schedule from TLC's trace.
//
// The checks are PHandoff.tla's invariants over the Ps, evaluated after
// every step of the protocol from the harness's view (the status words
// read through std::atomic itself, which is no scheduling point):
//   PStateMatchesHolder  every P has exactly one holder (the idle list,
//                        sysmon's handoff, an M's m.p, or the syscall: an
//                        M in the call whose oldp it is, status syscall),
//                        and status running iff p.m is set
//   OneMPerP             m.p and p.m agree
// Output: "cex_psyscall: VIOLATION <Invariant>: ..." (exit 3) or
// "cex_psyscall: no violation" (exit 0). Built correct and with
// -DGORO_MUTANT_EXITSYSCALL_NO_CAS from this same source.
#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sched/psyscall.hpp"
#include "sim/controller.hpp"

static_assert(goro::detail::sim, "cex_psyscall runs in the simulation (GORO_SIM)");

namespace {

namespace sim = goro::detail::simulator;
using goro::detail::pstatus;

struct hm;
struct hp {
  goro::detail::atomic<pstatus> status{pstatus::idle};
  goro::detail::atomic<hm*> m_{nullptr};
  bool in_pidle = false;
  bool in_handoff = false;  // sysmon holds it between its retake and handoffp
  // An M is inside a multi-step operation on it (detach, exitsyscall's
  // claim and wirep) that the model makes one step: not checked meanwhile.
  bool busy = false;
};

struct hm {
  int id = 0;
  hp* p = nullptr;     // m.p
  hp* oldp = nullptr;  // m.oldp
  bool in_call = false;
};

constexpr int max_n = 8;
hp ps[max_n + 1];  // 1..NP
hm ms[max_n + 1];  // 1..NM
int np = 0, nm = 0;
std::vector<int> pidle;  // sched.pidle, under sched.lock in the runtime

pstatus peek(const hp& p) {  // the harness's view: std::atomic's load, no point
  return static_cast<const std::atomic<pstatus>&>(p.status).load(std::memory_order_relaxed);
}
hm* peek_m(const hp& p) {
  return static_cast<const std::atomic<hm*>&>(p.m_).load(std::memory_order_relaxed);
}

const char* violation = nullptr;
std::string detail;
std::uint64_t violation_at = 0;
bool violation_forced = false;

void fail(const char* inv, std::string what) {
  if (violation) return;
  violation = inv;
  detail = std::move(what);
  violation_at = sim::decisions_now();
  violation_forced = sim::forcing();
}

void check() {
  for (int i = 1; i <= np; i++) {
    hp& p = ps[i];
    if (p.busy) continue;
    std::string who;
    int holders = 0;
    auto add = [&](const std::string& h) {
      holders++;
      who += (who.empty() ? "" : ", ") + h;
    };
    if (p.in_pidle) add("the idle list");
    if (p.in_handoff) add("sysmon's handoff");
    for (int m = 1; m <= nm; m++)
      if (ms[m].p == &p) add("M " + std::to_string(m) + "'s m.p");
    bool syscall_holder = false;
    for (int m = 1; m <= nm; m++)
      syscall_holder = syscall_holder || (ms[m].in_call && ms[m].oldp == &p);
    syscall_holder = syscall_holder && peek(p) == pstatus::syscall;
    if (syscall_holder) add("the syscall");
    if (holders != 1)
      fail("PStateMatchesHolder",
           "P " + std::to_string(i) + " has " + std::to_string(holders) + " holders (" + who + ")");
    if ((peek(p) == pstatus::running) != (peek_m(p) != nullptr))
      fail("PStateMatchesHolder", "P " + std::to_string(i) + ": status and p.m disagree");
    if (peek(p) == pstatus::syscall && !syscall_holder)
      fail("PStateMatchesHolder", "P " + std::to_string(i) + " in syscall with no M in the call");
    if (hm* m = peek_m(p); m && m->p != &p)
      fail("OneMPerP", "P " + std::to_string(i) + ".m is M " + std::to_string(m->id) +
                           ", whose m.p is not P " + std::to_string(i));
  }
}

// exitsyscall_acquirep's environment for M m.
struct env {
  hm* m;
  void acquirep(hp* p) {
    // wirep: the P is ours (status running, p.m).
    p->busy = true;
    p->status.store(pstatus::running, std::memory_order_relaxed);
    p->m_.store(m, std::memory_order_relaxed);
    m->p = p;
    p->busy = false;
    check();
  }
  hp* pidleget() {
    if (pidle.empty()) return nullptr;
    hp* p = &ps[pidle.back()];
    pidle.pop_back();
    p->in_pidle = false;
    return p;
  }
};

void m_thread(hm* m, int calls) {
  for (int k = 0; k < calls; k++) {
    if (!m->p) return;  // no P: the slow path (not in the harness)
    // entersyscall: m.p cleared, m.oldp recorded, then the detach.
    hp* old = m->p;
    old->busy = true;
    m->oldp = old;
    m->p = nullptr;
    m->in_call = true;
    goro::detail::syscall_detachp(*old);
    old->busy = false;
    check();
    // exitsyscall.
    env e{m};
    old->busy = true;
    hp* got = goro::detail::exitsyscall_acquirep(old, e);
    old->busy = false;
    m->in_call = false;
    m->oldp = nullptr;
    check();
    if (!got) return;
  }
}

void sysmon_thread(const std::vector<int>* retakes) {
  for (int i : *retakes) {
    hp& p = ps[i];
    goro::detail::retakep(p, [](hp& pp) {
      pp.in_handoff = true;
      check();
      // handoffp with no work (the harness's Ps have no queues): pp goes
      // idle.
      pp.in_handoff = false;
      pp.in_pidle = true;
      pidle.push_back(static_cast<int>(&pp - ps));
      check();
    });
  }
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "cex_psyscall: %s\nusage: cex_psyscall --script FILE\n", why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  const char* path = nullptr;
  for (int i = 1; i < argc; i++)
    if (std::strcmp(argv[i], "--script") == 0 && i + 1 < argc) path = argv[++i];
    else usage("unknown argument");
  if (!path) usage("--script is required");
  std::ifstream in(path);
  if (!in) usage("cannot read the script");
  std::vector<int> calls(max_n + 1, 0), retakes;
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream ls(line);
    std::string key;
    if (!(ls >> key)) continue;
    int a = 0, b = 0;
    if (key == "ms") ls >> nm;
    else if (key == "ps") ls >> np;
    else if (key == "holds" && (ls >> a >> b)) {  // M a holds P b (running)
      if (a < 1 || a > nm || b < 1 || b > np) usage("holds: out of range");
      ms[a].p = &ps[b];
      ps[b].status.store(pstatus::running, std::memory_order_relaxed);  // before the session
      ps[b].m_.store(&ms[a], std::memory_order_relaxed);
    } else if (key == "idle") {
      while (ls >> a) {
        if (a < 1 || a > np) usage("idle: out of range");
        ps[a].in_pidle = true;
        pidle.push_back(a);
      }
    } else if (key == "m" && (ls >> a >> b)) {  // M a makes b blocking calls
      if (a < 1 || a > nm) usage("m: out of range");
      calls[a] = b;
    } else if (key == "sysmon") {
      while (ls >> a) {
        if (a < 1 || a > np) usage("sysmon: out of range");
        retakes.push_back(a);
      }
    }
  }
  if (nm < 1 || nm > max_n || np < 1 || np > max_n) usage("ms and ps must be in 1..8");
  for (int m = 1; m <= nm; m++) ms[m].id = m;
  check();
  if (violation) usage("the initial state already breaks an invariant");

  sim::options o;  // seed 1 unless GORO_SIM_SEED; schedule from GORO_SIM_SCHEDULE
  sim::set_options(o);
  sim::begin_session();
  std::vector<std::thread> threads;
  for (int m = 1; m <= nm; m++) threads.push_back(sim::spawn_thread(m_thread, &ms[m], calls[m]));
  threads.push_back(sim::spawn_thread(sysmon_thread, &retakes));
  for (auto& t : threads) sim::join(t);
  sim::end_session();
  check();
  sim::session_stats st = sim::last_stats();
  std::printf("cex_psyscall: %" PRIu64 " decisions, %" PRIu64 " atomic steps forced, schedule %s\n",
              st.decisions, st.forced, st.schedule_done ? "used up" : "NOT used up");
  if (violation) {
    std::printf("cex_psyscall: VIOLATION %s: %s (at decision %" PRIu64 ", %s)\n", violation,
                detail.c_str(), violation_at,
                violation_forced ? "inside the forced schedule" : "after the forced schedule");
    return 3;
  }
  std::printf("cex_psyscall: no violation: every P had one holder throughout\n");
  return 0;
}
