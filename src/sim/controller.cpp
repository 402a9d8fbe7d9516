// The simulation's baton controller: see sim/controller.hpp and
// spec/simulation.md. set_options, env_seed and parse_schedule exist in
// every build (they touch nothing); the rest only with GORO_SIM.
#include "sim/controller.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace goro::detail::simulator {

bool parse_schedule(const std::string& text, std::vector<forced_step>& out, std::string& err) {
  std::istringstream in(text);
  std::string line;
  for (int no = 1; std::getline(in, line); no++) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream ls(line);
    long long thread = -1, steps = -1;
    std::string rest;
    if (!(ls >> thread)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank
      err = "line " + std::to_string(no) + ": expected '<thread> <steps>'";
      return false;
    }
    if (!(ls >> steps) || (ls >> rest) || thread < 0 || steps < 0 || thread > UINT32_MAX ||
        steps > UINT32_MAX) {
      err = "line " + std::to_string(no) + ": expected '<thread> <steps>' (two numbers >= 0)";
      return false;
    }
    out.push_back({static_cast<std::uint32_t>(thread), static_cast<std::uint32_t>(steps)});
  }
  return true;
}

bool env_seed(std::uint64_t& seed) noexcept {
  const char* s = std::getenv("GORO_SIM_SEED");
  if (!s || !*s) return false;
  seed = std::strtoull(s, nullptr, 0);
  return true;
}

bool env_seed_base(std::uint64_t& base) noexcept {
  const char* s = std::getenv("GORO_SIM_SEED_BASE");
  if (!s || !*s) return false;
  base = std::strtoull(s, nullptr, 0);
  return true;
}

// Replay files. Plain file I/O: in every build, so that a tool linked with
// either library can read one.
//
//   goro-sim-replay 1
//   seed 42
//   strategy pct
//   pct_depth 3
//   pct_steps 1000
//   max_decisions 5000   (only when the run stopped at that no-end limit)
//   procs 2
//   decisions 1234
//   hash 0123456789abcdef
//   reason returned false
//   schedule 0 1*12 0 2*3 ...   (the thread chosen at each decision; t*n: n times)
//
// The seed and strategy decide the run; decisions and hash are what a
// replay must reproduce; the schedule (left out past schedule_cap
// decisions) says where a replay that does not reproduce first went
// another way.
namespace {
constexpr std::size_t schedule_cap = 1'000'000;
}

std::string write_replay(const session_stats& st, const std::vector<event>& log,
                         const std::string& reason, const std::string& dir_in) {
  std::string dir = dir_in;
  if (dir.empty())
    if (const char* d = std::getenv("GORO_SIM_REPLAY_DIR"); d && *d) dir = d;
  if (dir.empty()) dir = ".";
  const char* strat = st.strat == strategy::pct ? "pct" : "random";
  std::string path = dir + "/goro-sim-" + strat + "-" + std::to_string(st.seed) + ".replay";
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "goro sim: cannot write the replay file %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return "";
  }
  std::fputs("goro-sim-replay 1\n", f);
  std::string why = reason;
  for (char& ch : why)
    if (ch == '\n') ch = ' ';
  // The no-end limit decides the run only when the run reached it.
  if (st.max_decisions && st.decisions >= st.max_decisions)
    std::fprintf(f, "max_decisions %llu\n", static_cast<unsigned long long>(st.max_decisions));
  std::fprintf(f,
               "seed %llu\nstrategy %s\npct_depth %llu\npct_steps %llu\n"
               "procs %u\ndecisions %llu\nhash %016llx\nreason %s\n",
               static_cast<unsigned long long>(st.seed), strat,
               static_cast<unsigned long long>(st.pct_depth),
               static_cast<unsigned long long>(st.pct_steps), st.procs,
               static_cast<unsigned long long>(st.decisions),
               static_cast<unsigned long long>(st.hash), why.c_str());
  if (log.size() == st.decisions && log.size() <= schedule_cap) {
    std::fputs("schedule", f);
    int col = 8;
    for (std::size_t i = 0; i < log.size();) {
      std::size_t j = i;
      while (j < log.size() && log[j].next == log[i].next) j++;
      char tok[32];
      int n = j - i == 1 ? std::snprintf(tok, sizeof tok, " %u", log[i].next)
                         : std::snprintf(tok, sizeof tok, " %u*%zu", log[i].next, j - i);
      if (col + n > 100) {
        std::fputs("\nschedule", f);
        col = 8;
      }
      std::fputs(tok, f);
      col += n;
      i = j;
    }
    std::fputc('\n', f);
  }
  bool ok = std::fflush(f) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::fprintf(stderr, "goro sim: cannot write the replay file %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return "";
  }
  return path;
}

bool read_replay(const std::string& path, replay_spec& out, std::string& err) {
  std::ifstream in(path);
  if (!in) {
    err = "cannot open it: " + std::string(std::strerror(errno));
    return false;
  }
  replay_spec r;
  std::string line;
  int lineno = 0;
  bool header = false, seed = false, strat = false, decisions = false, hash = false;
  auto bad = [&](const std::string& what) {
    err = "line " + std::to_string(lineno) + ": " + what;
    return false;
  };
  // A whole unsigned number in `v`, or false.
  auto number = [](const std::string& v, std::uint64_t& x, int base = 10) {
    if (v.empty() || v[0] == '-') return false;
    char* end = nullptr;
    errno = 0;
    x = std::strtoull(v.c_str(), &end, base);
    return errno == 0 && end && *end == '\0';
  };
  while (std::getline(in, line)) {
    lineno++;
    if (line.empty() || line[0] == '#') continue;
    std::size_t sp = line.find(' ');
    std::string key = line.substr(0, sp);
    std::string val = sp == std::string::npos ? "" : line.substr(sp + 1);
    std::uint64_t x = 0;
    if (!header) {
      if (key != "goro-sim-replay") return bad("not a goro replay file (no goro-sim-replay line)");
      if (val != "1") return bad("format version " + val + ": this goro reads version 1");
      header = true;
    } else if (key == "seed") {
      if (!number(val, x)) return bad("seed " + val + ": want an unsigned 64-bit number");
      r.seed = x;
      seed = true;
    } else if (key == "strategy") {
      if (val == "random") r.strat = strategy::random;
      else if (val == "pct") r.strat = strategy::pct;
      else return bad("strategy " + val + ": want random or pct");
      strat = true;
    } else if (key == "pct_depth") {
      if (!number(val, x) || x < 1 || x > 64) return bad("pct_depth " + val + ": want 1 .. 64");
      r.pct_depth = x;
    } else if (key == "pct_steps") {
      if (!number(val, x) || x < 1) return bad("pct_steps " + val + ": want 1 or more");
      r.pct_steps = x;
    } else if (key == "max_decisions") {
      if (!number(val, x) || x < 1) return bad("max_decisions " + val + ": want 1 or more");
      r.max_decisions = x;
    } else if (key == "procs") {
      if (!number(val, x) || x > 1024) return bad("procs " + val + ": want 0 .. 1024");
      r.procs = static_cast<unsigned>(x);
    } else if (key == "decisions") {
      if (!number(val, x)) return bad("decisions " + val + ": want an unsigned number");
      r.decisions = x;
      decisions = true;
    } else if (key == "hash") {
      if (!number(val, x, 16)) return bad("hash " + val + ": want hexadecimal");
      r.hash = x;
      hash = true;
    } else if (key == "reason") {
      r.reason = val;
    } else if (key == "schedule") {
      r.has_schedule = true;
      std::istringstream toks(val);
      std::string t;
      while (toks >> t) {
        std::size_t star = t.find('*');
        std::uint64_t who = 0, n = 1;
        if (!number(t.substr(0, star), who) || who > UINT32_MAX ||
            (star != std::string::npos && (!number(t.substr(star + 1), n) || n == 0)))
          return bad("schedule entry " + t + ": want THREAD or THREAD*COUNT");
        if (r.schedule.size() + n > schedule_cap) return bad("schedule longer than the cap");
        r.schedule.insert(r.schedule.end(), n, static_cast<std::uint32_t>(who));
      }
    } else {
      return bad("unknown key " + key);
    }
  }
  if (!header) {
    err = "empty, not a goro replay file";
    return false;
  }
  const char* missing = !seed        ? "seed"
                        : !strat     ? "strategy"
                        : !decisions ? "decisions"
                        : !hash      ? "hash"
                                     : nullptr;
  if (missing) {
    err = std::string("no ") + missing + " line";
    return false;
  }
  if (r.has_schedule && r.schedule.size() != r.decisions) {
    err = "the schedule lists " + std::to_string(r.schedule.size()) + " decisions, the file says " +
          std::to_string(r.decisions);
    return false;
  }
  out = std::move(r);
  return true;
}

}  // namespace goro::detail::simulator

#ifdef GORO_SIM
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>

#include "sched/chaos.hpp"

namespace goro::detail::simulator {

namespace {

std::uint64_t splitmix64(std::uint64_t& s) noexcept {
  std::uint64_t x = (s += 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Virtual time at the start of every session (so that two sessions of one
// seed read the same clock), and its step per decision: a thread that
// polls the clock without waiting (a spin until a deadline) still sees
// time pass, and sysmon's 20 us tick comes every 80 decisions.
constexpr std::int64_t time_base = 1'000'000'000'000;  // 1000 s
constexpr std::int64_t time_step = 250;
// PCT: a thread chosen this many times in a row drops to the lowest
// priority, so that a spin-wait on a lower-priority thread cannot starve it
// for ever (PCT assumes every thread terminates
// without help; the runtime's spin-waits are bounded but a yield loop is not).
constexpr std::uint64_t pct_starve = 5000;

enum class state : std::uint8_t { ready, running, waiting, joining, done };

struct slot {
  std::condition_variable cv;
  state st = state::ready;
  // waiting: the futex word and value, a wake received, the deadline.
  const std::atomic<std::uint32_t>* addr = nullptr;
  std::uint32_t val = 0;
  bool woken = false;
  bool timed_out = false;
  std::int64_t deadline = 0;
  std::thread::id native{};
  std::thread::id join_target{};  // joining
  std::int64_t prio = 0;          // PCT (change points and starvation drops go below 1)
  // The point it stopped at (thread_start before its first run): whether
  // its next step is an atomic operation, for a forced schedule.
  site at = site::thread_start;
};

struct controller {
  std::mutex mu;
  bool active = false;
  options opts;
  bool opts_set = false;
  session_stats stats;
  session_stats last;
  std::vector<event> log, last_log;
  std::vector<std::unique_ptr<slot>> slots;
  std::uint32_t current = 0;
  std::uint32_t live = 0;  // slots not done
  std::uint64_t rng = 0;
  // PCT
  std::vector<std::uint64_t> change_points;  // sorted step numbers
  std::size_t next_change = 0;
  std::uint32_t last_chosen = UINT32_MAX;
  std::uint64_t run_length = 0;
  std::int64_t low_prio = 0;  // the next priority given at a drop (decreasing, may go negative)
  std::vector<std::uint32_t> cand;  // pick's scratch
  // Forced schedule (opts.schedule): the entry in force and the atomic
  // steps it has left; forcing is false before the first and after the last.
  bool forcing = false;
  std::size_t entry = 0;
  std::uint32_t left = 0;
  std::string schedule_file;  // GORO_SIM_SCHEDULE, for the divergence message
  // Replays: the next session's (expect_replay) and the running one's.
  bool expect_next = false;
  replay_spec next_spec;
  std::string next_source;
  bool replaying = false;
  replay_spec spec;
  std::string spec_source;
  unsigned procs = 0;  // set_session_procs
};

controller& ctl() {
  // Never destroyed: threads of a session may still pass through points
  // while static destructors run.
  static auto* c = new controller;
  return *c;
}

std::atomic<bool> session_on{false};
std::atomic<std::int64_t> vnow{time_base};
std::atomic<std::uint64_t> seed_now{0};
// A thread that does not take part reached a point or a futex operation in
// this session (see pick).
std::atomic<bool> outsiders{false};

// The calling thread's slot in the running session (UINT32_MAX: none) and
// the session it belongs to.
thread_local std::uint32_t my_id = UINT32_MAX;
thread_local std::uint64_t my_session = 0;
std::uint64_t session_no = 0;
// Sessions that took their seed from GORO_SIM_SEED_BASE (begin_session).
std::uint64_t base_sessions = 0;

void hash_event(controller& c, const event& e) {
  std::uint64_t h = c.stats.hash ? c.stats.hash : 14695981039346656037ull;
  std::uint64_t words[2] = {std::uint64_t{e.thread} << 32 | e.next,
                            std::uint64_t(e.s) << 32 | e.where};
  for (std::uint64_t w : words)
    for (int i = 0; i < 8; i++) h = (h ^ ((w >> (8 * i)) & 0xff)) * 1099511628211ull;
  c.stats.hash = h;
}

bool runnable(controller& c, slot& s) {
  switch (s.st) {
    case state::ready:
    case state::running: return true;
    case state::waiting:
      // relaxed: every other participant is stopped at a point, so the
      // word holds what the last runner stored (the controller's mutex,
      // taken by that runner at its point, orders it before this read).
      if (s.woken || (s.addr && s.addr->load(std::memory_order_relaxed) != s.val)) return true;
      if (s.deadline != 0 && vnow.load(std::memory_order_relaxed) >= s.deadline) {
        s.timed_out = true;
        return true;
      }
      return false;
    case state::joining:
      for (auto& o : c.slots)
        if (o->native == s.join_target && o->st != state::done) return false;
      return true;
    case state::done: return false;
  }
  return false;
}

const char* strategy_name(strategy s) { return s == strategy::pct ? "pct" : "random"; }

// The running session's stats as a replay file records them.
session_stats stats_now(controller& c) {
  session_stats st = c.stats;
  st.pct_depth = c.opts.pct_depth;
  st.pct_steps = c.opts.pct_steps;
  st.max_decisions = c.opts.max_decisions;
  st.procs = c.procs;
  return st;
}

// A replay: compares the run so far (at its end or at its failure) with the
// file, records the verdict in the stats and prints it.
void check_replay_locked(controller& c) {
  if (!c.replaying) return;
  const replay_spec& r = c.spec;
  std::ostringstream why;
  bool ok = c.stats.decisions == r.decisions && c.stats.hash == r.hash;
  if (c.stats.decisions != r.decisions)
    why << "decisions " << c.stats.decisions << ", the file's " << r.decisions << "; ";
  if (c.stats.hash != r.hash)
    why << "log hash " << std::hex << c.stats.hash << ", the file's " << r.hash << std::dec << "; ";
  if (r.has_schedule) {
    std::size_t n = std::min(r.schedule.size(), c.log.size());
    for (std::size_t i = 0; i < n; i++)
      if (c.log[i].next != r.schedule[i]) {
        ok = false;
        why << "first difference at decision " << i << ": thread " << c.log[i].next
            << " ran, the file's " << r.schedule[i] << "; ";
        break;
      }
  }
  if (r.procs && c.procs && r.procs != c.procs)
    why << "procs " << c.procs << ", the file's " << r.procs << "; ";
  c.stats.replay_checked = true;
  c.stats.replay_ok = ok;
  c.stats.replay_detail = why.str();
  if (ok)
    std::fprintf(stderr,
                 "goro sim: replay of %s: reproduced exactly (%" PRIu64 " decisions, log hash "
                 "%016" PRIx64 ")\n",
                 c.spec_source.c_str(), c.stats.decisions, c.stats.hash);
  else
    std::fprintf(stderr, "goro sim: replay of %s: NOT reproduced: %s\n", c.spec_source.c_str(),
                 c.stats.replay_detail.c_str());
}

// A failure the controller or fatal() reports: the replay line, and the
// replay file (or, in a replay, the verdict). c.mu is held.
void failure_locked(controller& c, const char* reason) {
  if (c.replaying) {
    check_replay_locked(c);
    return;
  }
  std::string path = write_replay(stats_now(c), c.log, reason);
  std::fprintf(stderr, "goro sim: replay with GORO_SIM_SEED=%" PRIu64 " GORO_SIM_STRATEGY=%s%s%s\n",
               c.stats.seed, strategy_name(c.stats.strat),
               path.empty() ? "" : ", or GORO_SIM_REPLAY=", path.c_str());
}

[[noreturn]] void sim_deadlock(controller& c) {
  std::fprintf(stderr,
               "goro sim: every thread waits and none has a deadline (a deadlock) after %" PRIu64
               " decisions\n",
               c.stats.decisions);
  failure_locked(c, "every thread waits and none has a deadline (a deadlock)");
  for (std::size_t i = 0; i < c.slots.size(); i++) {
    slot& s = *c.slots[i];
    std::fprintf(stderr, "  thread %zu: state %d addr %p val %u deadline %" PRId64 "\n", i,
                 int(s.st), static_cast<const void*>(s.addr), s.val, s.deadline);
  }
  std::abort();
}

std::uint32_t pick(controller& c, std::unique_lock<std::mutex>& lk) {
  std::vector<std::uint32_t>& cand = c.cand;
  for (int outside_waits = 0;; outside_waits++) {
    cand.clear();
    for (std::uint32_t i = 0; i < c.slots.size(); i++)
      if (runnable(c, *c.slots[i])) cand.push_back(i);
    if (!cand.empty()) break;
    // Everyone waits. A thread outside the simulation (a foreign thread
    // calling into the runtime) may be about to wake one of them, in real
    // time: give it a moment before virtual time jumps ahead of it. Such a
    // run is not deterministic anyway; a run without outsiders never sleeps.
    if (outsiders.load(std::memory_order_relaxed) && outside_waits < 20) {
      lk.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      lk.lock();
      continue;
    }
    // Jump to the earliest deadline.
    std::int64_t earliest = 0;
    for (auto& s : c.slots)
      if (s->st == state::waiting && s->deadline != 0 && (earliest == 0 || s->deadline < earliest))
        earliest = s->deadline;
    if (earliest == 0) sim_deadlock(c);
    if (earliest > vnow.load(std::memory_order_relaxed))
      vnow.store(earliest, std::memory_order_relaxed);
  }
  if (c.opts.strat == strategy::random) return cand[splitmix64(c.rng) % cand.size()];
  std::uint32_t chosen = cand[0];
  for (std::uint32_t k : cand)
    if (c.slots[k]->prio > c.slots[chosen]->prio) chosen = k;
  return chosen;
}

const char* state_name(controller& c, const slot& s) {
  switch (s.st) {
    case state::ready: return "ready";
    case state::running: return "running";
    case state::waiting: return "waiting (a futex or timed wait)";
    case state::joining: {
      for (std::size_t i = 0; i < c.slots.size(); i++)
        if (c.slots[i]->native == s.join_target) {
          static thread_local char buf[64];
          std::snprintf(buf, sizeof buf, "joining thread %zu", i);
          return buf;
        }
      return "joining";
    }
    case state::done: return "done (exited)";
  }
  return "?";
}

[[noreturn]] void diverged(controller& c, std::uint32_t t, const char* why) {
  const forced_step& f = c.opts.schedule[c.entry];
  std::fprintf(stderr,
               "goro sim: forced schedule diverged at decision %" PRIu64
               " (entry %zu of %zu: thread %u for %u atomic steps, %u left): thread %u %s%s%s; "
               "GORO_SIM_SEED=%" PRIu64 "\n",
               c.stats.decisions, c.entry + 1, c.opts.schedule.size(), f.thread, f.steps, c.left, t,
               why, c.schedule_file.empty() ? "" : "; schedule ", c.schedule_file.c_str(),
               c.stats.seed);
  std::abort();
}

// The forced schedule's choice (see forced_step): the running thread keeps
// the baton through points that are not atomic operations; otherwise the
// entry in force names the thread, and picking it where its next step is
// an atomic operation uses up one step. Past the last entry, the seed's
// strategy (pick) decides, and forcing goes off for the session.
std::uint32_t forced_pick(controller& c, std::unique_lock<std::mutex>& lk, std::uint32_t me) {
  slot& mine = *c.slots[me];
  if (mine.at != site::atomic && runnable(c, mine)) return me;
  while (c.left == 0) {
    if (++c.entry >= c.opts.schedule.size()) {
      c.forcing = false;
      c.stats.schedule_done = true;
      c.stats.schedule_decisions = c.stats.decisions;
      return pick(c, lk);
    }
    c.left = c.opts.schedule[c.entry].steps;
  }
  std::uint32_t t = c.opts.schedule[c.entry].thread;
  if (t >= c.slots.size()) diverged(c, t, "does not exist (not created yet)");
  slot& s = *c.slots[t];
  if (!runnable(c, s)) {
    // Every thread waiting: virtual time jumps as in pick, once, and the
    // forced thread may then run (its deadline passed).
    bool any = false;
    for (auto& o : c.slots) any = any || runnable(c, *o);
    std::int64_t earliest = 0;
    if (!any)
      for (auto& o : c.slots)
        if (o->st == state::waiting && o->deadline != 0 &&
            (earliest == 0 || o->deadline < earliest))
          earliest = o->deadline;
    if (earliest > vnow.load(std::memory_order_relaxed))
      vnow.store(earliest, std::memory_order_relaxed);
    if (!runnable(c, s)) diverged(c, t, state_name(c, s));
  }
  if (s.at == site::atomic) {
    c.left--;
    c.stats.forced++;
  }
  return t;
}

// The seed's choice: a random walk, or PCT with its change points and its
// starvation drop.
std::uint32_t pick_seeded(controller& c, std::unique_lock<std::mutex>& lk, std::uint32_t me) {
  // PCT change points: at step k_i the thread that ran drops below every
  // initial priority (d-1 such points).
  if (c.opts.strat == strategy::pct) {
    while (c.next_change < c.change_points.size() &&
           c.change_points[c.next_change] <= c.stats.decisions) {
      c.slots[me]->prio = c.low_prio--;
      c.next_change++;
    }
  }
  std::uint32_t next = pick(c, lk);
  if (c.opts.strat == strategy::pct) {
    c.run_length = next == c.last_chosen ? c.run_length + 1 : 0;
    c.last_chosen = next;
    if (c.run_length >= pct_starve) {
      c.slots[next]->prio = c.low_prio--;
      c.run_length = 0;
      next = pick(c, lk);
      c.last_chosen = next;
    }
  }
  return next;
}

// The running thread (me) has recorded its state; hand the baton on and
// wait until it comes back (unless me is done).
void hand_off(controller& c, std::unique_lock<std::mutex>& lk, std::uint32_t me, site s,
              std::uint32_t where) {
  c.slots[me]->at = s;
  std::uint32_t next = c.forcing ? forced_pick(c, lk, me) : pick_seeded(c, lk, me);
  if (c.stats.decisions >= c.opts.max_decisions ||
      vnow.load(std::memory_order_relaxed) - time_base > c.opts.max_virtual_ns) {
    std::fprintf(stderr,
                 "goro sim: no end after %" PRIu64 " decisions and %.3f s of virtual time (a "
                 "lost wakeup or a livelock?); replay with GORO_SIM_SEED=%" PRIu64 "\n",
                 c.stats.decisions,
                 static_cast<double>(vnow.load(std::memory_order_relaxed) - time_base) / 1e9,
                 c.stats.seed);
    failure_locked(c, "no end: past the decision or virtual time limit");
    std::abort();
  }
  event e{me, s, where, next};
  hash_event(c, e);
  c.log.push_back(e);
  c.stats.decisions++;
  vnow.fetch_add(time_step, std::memory_order_relaxed);
  c.current = next;
  slot& n = *c.slots[next];
  n.st = state::running;
  if (next != me) {
    n.cv.notify_one();
    if (c.slots[me]->st == state::done) return;
    slot& mine = *c.slots[me];
    mine.cv.wait(lk, [&] { return !c.active || c.current == me; });
  }
}

// A participant at a point must hold the baton: one that runs without it
// would make the run depend on the OS again (a simulator bug, not the
// runtime's), so it stops the run.
void check_baton(controller& c) {
  if (c.current == my_id) return;
  std::fprintf(stderr,
               "goro sim: thread %u reached a scheduling point without the baton (held by %u)\n",
               my_id, c.current);
  std::abort();
}

bool participating(controller& c) {
  if (my_id == UINT32_MAX || my_session != session_no || !c.active) return false;
  check_baton(c);
  return true;
}

std::uint64_t env_u64(const char* name, std::uint64_t dflt) {
  const char* s = std::getenv(name);
  return s && *s ? std::strtoull(s, nullptr, 0) : dflt;
}

}  // namespace

void set_options(const options& o) noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  c.opts = o;
  c.opts_set = true;
}

void begin_session() noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  options o = c.opts;
  // GORO_SIM_SEED_BASE=B: the k-th unconfigured session of the process
  // (k = 0, 1, ...) gets seed B + k, so one run of a test binary covers many
  // seeds (ctest label sim, spec/simulation.md, "Many seeds in one run"),
  // and its failure prints the one seed that replays the failing session
  // alone under GORO_SIM_SEED. Not printed per session: thousands run.
  bool from_base = false;
  if (!c.opts_set) {
    std::uint64_t base = 0;
    if (env_seed_base(base)) {
      o.seed = base + base_sessions++;
      from_base = true;
    } else {
      // A fresh seed, printed: a run nobody configured can still be replayed.
      std::random_device rd;
      o.seed = (std::uint64_t{rd()} << 32) | rd();
    }
  }
  std::uint64_t s;
  if (env_seed(s)) o.seed = s;
  if (const char* st = std::getenv("GORO_SIM_STRATEGY"); st && *st) {
    if (std::strcmp(st, "pct") == 0) o.strat = strategy::pct;
    else if (std::strcmp(st, "random") == 0) o.strat = strategy::random;
    else {
      std::fprintf(stderr, "goro sim: GORO_SIM_STRATEGY=%s: must be random or pct\n", st);
      std::abort();
    }
  }
  o.pct_depth = static_cast<unsigned>(env_u64("GORO_SIM_PCT_DEPTH", o.pct_depth));
  if (o.pct_depth < 1) o.pct_depth = 1;
  o.pct_steps = env_u64("GORO_SIM_PCT_STEPS", o.pct_steps);
  o.max_decisions = env_u64("GORO_SIM_MAX_DECISIONS", o.max_decisions);
  c.schedule_file.clear();
  if (const char* f = std::getenv("GORO_SIM_SCHEDULE"); f && *f) {
    std::ifstream in(f);
    std::stringstream text;
    text << in.rdbuf();
    std::string err;
    o.schedule.clear();
    if (!in || !parse_schedule(text.str(), o.schedule, err)) {
      std::fprintf(stderr, "goro sim: GORO_SIM_SCHEDULE=%s: %s\n", f,
                   in ? err.c_str() : "cannot read it");
      std::abort();
    }
    c.schedule_file = f;
  }
  // A replay: the file's seed, strategy and PCT parameters, over everything
  // else (the API's expect_replay for one session, GORO_SIM_REPLAY for
  // every session of the process).
  c.replaying = false;
  if (c.expect_next) {
    c.replaying = true;
    c.spec = c.next_spec;
    c.spec_source = c.next_source;
    c.expect_next = false;
  } else if (const char* f = std::getenv("GORO_SIM_REPLAY"); f && *f) {
    std::string err;
    if (!read_replay(f, c.spec, err)) {
      std::fprintf(stderr, "goro sim: GORO_SIM_REPLAY=%s: %s\n", f, err.c_str());
      std::abort();
    }
    c.replaying = true;
    c.spec_source = f;
  }
  if (c.replaying) {
    o.seed = c.spec.seed;
    o.strat = c.spec.strat;
    o.pct_depth = static_cast<unsigned>(c.spec.pct_depth);
    o.pct_steps = c.spec.pct_steps;
    if (c.spec.max_decisions) o.max_decisions = c.spec.max_decisions;
  }
  if (c.replaying)
    std::fprintf(stderr, "goro sim: replaying %s: GORO_SIM_SEED=%" PRIu64 " strategy %s\n",
                 c.spec_source.c_str(), o.seed, o.strat == strategy::pct ? "pct" : "random");
  else if ((!c.opts_set && !from_base) || std::getenv("GORO_SIM_VERBOSE"))
    std::fprintf(stderr, "goro sim: GORO_SIM_SEED=%" PRIu64 " strategy %s\n", o.seed,
                 o.strat == strategy::pct ? "pct" : "random");
  c.opts = o;
  c.stats = session_stats{};
  c.stats.seed = o.seed;
  c.stats.strat = o.strat;
  c.log.clear();
  c.slots.clear();
  c.rng = o.seed;
  c.change_points.clear();
  c.next_change = 0;
  c.last_chosen = UINT32_MAX;
  c.run_length = 0;
  c.forcing = !o.schedule.empty();
  c.entry = 0;
  c.left = c.forcing ? o.schedule[0].steps : 0;
  // Initial priorities are above d; the change points give d-1 .. 1, and
  // starvation drops continue below.
  c.low_prio = static_cast<std::int64_t>(o.pct_depth) - 1;
  if (o.strat == strategy::pct) {
    for (unsigned i = 1; i < o.pct_depth; i++)
      c.change_points.push_back(splitmix64(c.rng) % (o.pct_steps ? o.pct_steps : 1) + 1);
    std::sort(c.change_points.begin(), c.change_points.end());
  }
  vnow.store(time_base, std::memory_order_relaxed);
  seed_now.store(o.seed, std::memory_order_relaxed);
  session_no++;
  c.slots.push_back(std::make_unique<slot>());
  c.slots[0]->st = state::running;
  c.slots[0]->native = std::this_thread::get_id();
  c.slots[0]->prio = static_cast<std::int64_t>(o.pct_depth + (splitmix64(c.rng) >> 8));
  c.current = 0;
  c.live = 1;
  c.active = true;
  my_id = 0;
  my_session = session_no;
  outsiders.store(false, std::memory_order_relaxed);
  session_on.store(true, std::memory_order_relaxed);
}

void end_session() noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return;
  // Every other participant must be gone first, or it would run on freely
  // (and nondeterministically) while the next session starts.
  slot& me = *c.slots[my_id];
  for (;;) {
    slot* other = nullptr;
    for (std::uint32_t i = 0; i < c.slots.size(); i++)
      if (i != my_id && c.slots[i]->st != state::done) {
        other = c.slots[i].get();
        break;
      }
    if (!other) break;
    me.st = state::joining;
    me.join_target = other->native;
    hand_off(c, lk, my_id, site::join, 0);
  }
  c.stats.threads = static_cast<std::uint32_t>(c.slots.size());
  c.stats.virtual_ns = vnow.load(std::memory_order_relaxed) - time_base;
  if (c.opts.strat == strategy::pct) {
    double k = static_cast<double>(c.stats.decisions ? c.stats.decisions : 1);
    double bound = 1.0 / c.stats.threads;
    for (unsigned i = 1; i < c.opts.pct_depth; i++) bound /= k;
    c.stats.pct_bound = bound;
    if (std::getenv("GORO_SIM_VERBOSE"))
      std::fprintf(stderr,
                   "goro sim: PCT depth %u, %u threads, %" PRIu64
                   " steps: a bug of depth %u is found with probability >= 1/(n*k^(d-1)) = %.3g\n",
                   c.opts.pct_depth, c.stats.threads, c.stats.decisions, c.opts.pct_depth, bound);
  }
  c.stats.pct_depth = c.opts.pct_depth;
  c.stats.pct_steps = c.opts.pct_steps;
  c.stats.procs = c.procs;
  check_replay_locked(c);
  c.replaying = false;
  c.procs = 0;
  c.active = false;
  c.last = c.stats;
  c.last_log.swap(c.log);
  c.log.clear();
  session_on.store(false, std::memory_order_relaxed);
  my_id = UINT32_MAX;
}

bool in_session() noexcept { return session_on.load(std::memory_order_relaxed); }

std::uint64_t decisions_now() noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  return c.stats.decisions;
}

bool forcing() noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  return c.active && c.forcing;
}

std::uint64_t current_seed() noexcept { return seed_now.load(std::memory_order_relaxed); }

session_stats last_stats() {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  return c.last;
}

std::vector<event> last_log() {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  return c.last_log;
}

void point(site s, std::uint32_t where) noexcept {
  if (!participant()) return;
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return;
  c.slots[my_id]->st = state::ready;
  hand_off(c, lk, my_id, s, where);
}

bool participant() noexcept {
  if (!session_on.load(std::memory_order_relaxed)) return false;
  if (my_id != UINT32_MAX) return true;
  outsiders.store(true, std::memory_order_relaxed);
  return false;
}

void chaos_point(const char* file, int line) noexcept {
  if (participant()) point(site::chaos, chaos_site_id(file, line));
}

void atomic_point(const char* file, unsigned line) noexcept {
  if (participant()) point(site::atomic, chaos_site_id(file, static_cast<int>(line)));
}

bool futex_wait(const std::atomic<std::uint32_t>* addr, std::uint32_t val,
                std::int64_t deadline) noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return false;
  slot& me = *c.slots[my_id];
  me.st = state::waiting;
  me.addr = addr;
  me.val = val;
  me.woken = false;
  me.timed_out = false;
  me.deadline = deadline;
  hand_off(c, lk, my_id, deadline ? site::timed_wait : site::futex_wait, 0);
  me.addr = nullptr;
  me.deadline = 0;
  return me.timed_out;
}

void futex_wake(const std::atomic<std::uint32_t>* addr, int n) noexcept {
  {
    controller& c = ctl();
    std::lock_guard lk(c.mu);
    if (!participating(c)) return;
    // In creation order, so that which waiter a wake-one picks is a
    // function of the schedule (the kernel's order is not ours to know).
    for (auto& s : c.slots) {
      if (n <= 0) break;
      if (s->st == state::waiting && s->addr == addr && !s->woken) {
        s->woken = true;
        n--;
      }
    }
  }
  point(site::futex_wake);
}

std::int64_t now() noexcept { return vnow.load(std::memory_order_relaxed); }

std::uint64_t fastrand_seed(std::int64_t id) noexcept {
  std::uint64_t s = seed_now.load(std::memory_order_relaxed) ^
                    static_cast<std::uint64_t>(id + 1) * 0xBF58476D1CE4E5B9ull;
  std::uint64_t r = splitmix64(s);
  return r ? r : 1;
}

std::uint32_t thread_created() noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  c.slots.push_back(std::make_unique<slot>());
  slot& s = *c.slots.back();
  s.st = state::ready;
  s.prio = static_cast<std::int64_t>(c.opts.pct_depth + (splitmix64(c.rng) >> 8));
  c.live++;
  return static_cast<std::uint32_t>(c.slots.size() - 1);
}

void thread_native(std::uint32_t id, std::thread::id tid) noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  c.slots[id]->native = tid;
}

void thread_begin(std::uint32_t id) noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  my_id = id;
  my_session = session_no;
  slot& me = *c.slots[id];
  me.cv.wait(lk, [&] { return !c.active || c.current == id; });
}

void thread_exit() noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return;
  std::uint32_t me = my_id;
  c.slots[me]->st = state::done;
  c.live--;
  my_id = UINT32_MAX;
  hand_off(c, lk, me, site::thread_exit, 0);
}

void set_session_procs(unsigned n) noexcept {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  c.procs = n;
}

void expect_replay(const replay_spec& r, const std::string& source) {
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  c.expect_next = true;
  c.next_spec = r;
  c.next_source = source;
}

void report_fatal(const char* msg) noexcept {
  if (!in_session()) return;
  controller& c = ctl();
  std::lock_guard lk(c.mu);
  if (!c.active) return;
  std::string reason = std::string("fatal error: ") + msg;
  failure_locked(c, reason.c_str());
}

void wait_exit(std::thread::id tid) noexcept {
  controller& c = ctl();
  std::unique_lock lk(c.mu);
  if (!participating(c)) return;
  slot& me = *c.slots[my_id];
  me.st = state::joining;
  me.join_target = tid;
  hand_off(c, lk, my_id, site::join, 0);
}

}  // namespace goro::detail::simulator
#endif
