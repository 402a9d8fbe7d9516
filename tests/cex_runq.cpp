// Replays a TLC counterexample of a tla/RunQueue.tla mutant on the real run
// queue (issue 14, point 3; spec/simulation.md, "Counterexamples replayed").
//
//   cex_runq --script FILE      (the schedule: GORO_SIM_SCHEDULE=FILE)
//
// One thread per process of the model, in the simulation (GORO_SIM): the
// owner (thread 1) runs put, put-next and get on the shipped
// sched/local_runq.hpp at the model's capacity (4), and thief k (thread
// 1+k) calls grab on it; thread 0 creates them, joins them, then drains
// what is left. ci/tlc_replay.py writes both files from TLC's textual
// counterexample: the script says which operations each thread calls (the
// owner's choice of put, put-next or get at each "idle" step of the trace,
// each thief's grab calls and whether each may take runnext), and the
// forced schedule says how many atomic operations each thread performs in
// turn (one entry per run of steps of one process of the trace). After the
// schedule the seed decides, so the threads finish their scripts.
//
// The checks are the model's invariants, on the Gs the queue hands out
// (the trace hook sees every take as the atomic that decided it returns):
//   NoGTakenTwice  no G is taken twice (checked at every take)
//   NoGLost        after the drain every G put has been taken once
// Output: "cex_runq: VIOLATION <Invariant>: ..." (exit 3) or
// "cex_runq: no violation ..." (exit 0); a forced schedule the code cannot
// follow stops the run in the controller ("forced schedule diverged").
// Built once correct and once per twin mutant (-DGORO_MUTANT_<NAME>, as
// tests/runq_trace.cpp is), from this same source.
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness_fatal.hpp"
#include "sched/local_runq.hpp"
#include "sim/controller.hpp"

static_assert(goro::detail::sim, "cex_runq runs in the simulation (GORO_SIM)");

GORO_HARNESS_FATAL("cex_runq")

namespace {

namespace sim = goro::detail::simulator;

struct hg {
  int id = 0;  // 1..NG, the model's G ids (0 is Nil)
};

constexpr std::uint32_t cap = 4;  // tla/RunQueue.cfg's CAP
constexpr int max_g = 64;

// The run's record. Plain data: only the thread holding the controller's
// baton runs, and the controller's mutex orders one holder after the last.
int taken[max_g + 1];
int first_twice = 0;  // the first G seen taken a second time
std::uint64_t twice_at = 0;
bool twice_forced = false;

void take(const hg* gp) {
  if (!gp) return;  // a stale nil slot: no G (the model's Take1(Nil))
  if (++taken[gp->id] == 2 && first_twice == 0) {
    first_twice = gp->id;
    twice_at = sim::decisions_now();
    twice_forced = sim::forcing();
  }
}

// The trace hook (local_runq's T): records the takes on the owner's queue.
struct hook {
  static constexpr bool on = true;
  template <class Q>
  static void put(Q*, hg*, std::uint32_t) {}
  template <class Q>
  static void put_next(Q*, hg*, hg*) {}
  template <class Q>
  static void putslow(Q*, std::uint32_t, std::uint32_t, hg**, hg*) {}
  template <class Q>
  static void get_next(Q*, hg* gp) {
    take(gp);
  }
  template <class Q>
  static void get(Q*, std::uint32_t, std::uint32_t, hg* gp) {
    take(gp);
  }
  template <class Q>
  static void get_empty(Q*, std::uint32_t) {}
  template <class Q>
  static void grab(Q*, std::uint32_t, std::uint32_t, std::uint32_t n, hg** gs) {
    for (std::uint32_t i = 0; i < n; i++) take(gs[i]);
  }
  template <class Q>
  static void grab_next(Q*, std::uint32_t, std::uint32_t, hg* gp) {
    take(gp);
  }
  template <class Q>
  static void grab_none(Q*, std::uint32_t, std::uint32_t, bool) {}
};

using queue = goro::detail::local_runq<hg, cap, goro::detail::runq_orders, hook>;

// Built before the session: the constructor's slot stores are atomics, and
// outside a session they are no scheduling points.
queue victim;
queue scratch[8];  // each thief's own ring, where grab copies (never published)
hg gs[max_g + 1];
std::deque<hg*> globrunq;  // sched.runq: putslow's sink, get's fallback
int next_g = 1;

struct script {
  std::string owner;               // P put, N put-next, G get
  std::vector<std::string> thief;  // per thief: F/T per grab call (may take runnext)
  int ng = 0;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "cex_runq: %s\nusage: cex_runq --script FILE\n", why);
  std::exit(2);
}

script read_script(const char* path) {
  std::ifstream in(path);
  if (!in) usage("cannot read the script");
  script s;
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream ls(line);
    std::string key;
    if (!(ls >> key)) continue;
    if (key == "cap") {
      std::uint32_t c = 0;
      ls >> c;
      if (c != cap) usage("the model's CAP is not the harness's (4)");
    } else if (key == "ng") {
      ls >> s.ng;
      if (s.ng < 1 || s.ng > max_g) usage("ng out of range");
    } else if (key == "owner") {
      std::string op;
      while (ls >> op) s.owner += op;
    } else if (key == "thief") {
      std::size_t k = 0;
      ls >> k;
      if (k < 1 || k > 8) usage("thief number out of range");
      if (s.thief.size() < k) s.thief.resize(k);
      std::string call;
      while (ls >> call) s.thief[k - 1] += call;
    }  // other keys (model, expect, ...) are the translator's notes
  }
  for (char c : s.owner)
    if (c != 'P' && c != 'N' && c != 'G') usage("owner ops are P, N, G");
  for (auto& t : s.thief)
    for (char c : t)
      if (c != 'F' && c != 'T') usage("thief calls are F, T");
  return s;
}

void sink(hg** batch, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; i++) globrunq.push_back(batch[i]);
}

void owner(const std::string* ops, int ng) {
  for (char op : *ops) {
    if (op == 'G') {
      auto r = victim.get();
      if (!r.gp && !globrunq.empty()) {  // findrunnable's next try
        take(globrunq.front());
        globrunq.pop_front();
      }
      continue;
    }
    if (next_g > ng) goro::detail::fatal("the script puts more than ng = %d Gs", ng);
    victim.put(&gs[next_g++], op == 'N', sink);
  }
}

void thief(std::size_t k, const std::string* calls) {
  for (char c : *calls) victim.grab(scratch[k], 0, c == 'T', [] {});
}

}  // namespace

int main(int argc, char** argv) {
  const char* path = nullptr;
  for (int i = 1; i < argc; i++)
    if (std::strcmp(argv[i], "--script") == 0 && i + 1 < argc) path = argv[++i];
    else usage("unknown argument");
  if (!path) usage("--script is required");
  script s = read_script(path);
  for (int g = 1; g <= max_g; g++) gs[g].id = g;

  sim::options o;  // seed 1 unless GORO_SIM_SEED; schedule from GORO_SIM_SCHEDULE
  sim::set_options(o);
  sim::begin_session();
  std::vector<std::thread> threads;
  threads.push_back(sim::spawn_thread(owner, &s.owner, s.ng));
  for (std::size_t k = 0; k < s.thief.size(); k++)
    threads.push_back(sim::spawn_thread(thief, k, &s.thief[k]));
  for (auto& t : threads) sim::join(t);
  // Drain: everything still queued is taken once more by the owner's view.
  while (victim.get().gp) {
  }
  while (!globrunq.empty()) {
    take(globrunq.front());
    globrunq.pop_front();
  }
  sim::end_session();
  sim::session_stats st = sim::last_stats();
  std::printf("cex_runq: %" PRIu64 " decisions, %" PRIu64
              " atomic steps forced, schedule %s; %d Gs put\n",
              st.decisions, st.forced, st.schedule_done ? "used up" : "NOT used up", next_g - 1);

  if (first_twice) {
    std::printf("cex_runq: VIOLATION NoGTakenTwice: G %d taken %d times (the second take at "
                "decision %" PRIu64 ", %s)\n",
                first_twice, taken[first_twice], twice_at,
                twice_forced ? "inside the forced schedule" : "after the forced schedule");
    return 3;
  }
  for (int g = 1; g < next_g; g++)
    if (taken[g] != 1) {
      std::printf("cex_runq: VIOLATION NoGLost: G %d was put and taken %d times after the "
                  "drain\n",
                  g, taken[g]);
      return 3;
    }
  std::printf("cex_runq: no violation: each of the %d Gs put was taken exactly once\n", next_g - 1);
  return 0;
}
