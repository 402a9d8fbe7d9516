// The simulation's trace log (sim/trace_log.hpp; spec/simulation.md, "Trace
// validation"). Empty outside the sim build; there, the runtime calls it
// (runq_sim_hook, sched/runtime.hpp, and the P-protocol sites) and it logs
// only in a session with GORO_SIM_TRACE set.
//
// Run queues. The log is cut in *segments*: one P's queue from its creation,
// or from a drain_stopped (procresize removing the P, which empties it in a
// stopped world, outside RunQueue.tla), to the next drain or the end of the
// session. Every segment of every session the process has run (a driver may
// run several seeds, one session each) goes into one module,
// DIR/runq/RunqTraceLog.tla, rewritten at each session's end: one TLC run
// checks them all, each from RunQueue.tla's Init (tla/RunQueueTrace.tla;
// the format is tests/runq_trace.cpp's for real-thread runs, with
// LogExact = TRUE: each segment's order is the session's order).
// What the writer maps:
//  - processes: "o" is whichever M holds the P (the owner view: only the
//    holder puts and gets); a thief is "m<id>", the M stealing;
//  - Gs: RunQueue.tla's owner puts fresh Gs 1..NG once each, while the
//    runtime puts a G again each time it becomes runnable (and reuses dead
//    Gs' structures). Each put of a G on this queue is therefore a fresh
//    token, numbered in put order, and a take names the token of that put;
//    a G displaced from runnext to the tail keeps its token (as in the spec,
//    where RunqPutCasNext moves og to the tail);
//  - counters: head and tail minus the segment's base (the head at which it
//    began), so that every segment starts at RunQueue.tla's Init (0, 0);
//  - operations the spec has no action for: try_put (globrunqget's refill,
//    under sched.lock) and steal_into's publication of the stolen Gs on the
//    thief's own queue (one tail store for n Gs) are logged as owner puts,
//    one per G, tail + 1 each: the same slots and the same final tail, as n
//    puts made back to back by the owner; take_next (an exchange of runnext)
//    is logged as a runnext get, whose load and CAS it does in one step; an
//    empty get is "getempty" (RunQueueTrace.tla: the runtime's global queue
//    is shared, RunQueue.tla's is the owner's).
//  - identical consecutive read-only entries (an empty get, a steal that
//    found nothing with the same head and tail) are one line: each leaves the
//    spec's state as it found it, so k of them match wherever one does.
#include "sim/trace_log.hpp"

// Only the sim build has a controller (sim/controller.cpp) and calls the
// hooks; other builds compile nothing here.
#ifdef GORO_SIM

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sched/runtime.hpp"
#include "sim/controller.hpp"

namespace goro::detail::simulator {

namespace {

// One run-queue operation; the fields an op does not use stay 0.
struct rq_entry {
  std::string proc;  // "o" or "m<id>"
  const char* op = "";
  int g = 0, old = 0;
  std::uint32_t tail = 0, from = 0, to = 0;
  std::vector<int> gs;
  bool next = false;
  unsigned reps = 1;
};

struct rq_segment {
  unsigned session = 0;
  std::uint64_t seed = 0;
  int pid = 0, seq = 0;
  std::uint32_t base = 0;
  std::vector<rq_entry> log;
  std::unordered_map<const g*, int> token;  // the token of each G's last put here
  int ntokens = 0;
  const g* displaced = nullptr;  // put_next's old runnext, on its way to the tail
  std::map<std::string, int> thieves;
};

// One P-protocol event (tla/PHandoffTrace.tla). Ids are the spec's: P and M
// ids plus one (0 is NoP / NoM).
struct p_entry {
  const char* op = "";
  int m = 0, p = 0;
  unsigned long long g = 0;     // the G events' goid (0: none)
  int v = 0;                    // the spinning events' nmspinning read
  std::vector<int> spin;        // stw_end: the spinning Ms (the log's view)
  int nm = 0;                   // stw_end: sched.nmspinning
  bool need = false;            // stw_end: sched.needspinning
  std::vector<const char*> ps;  // stw_end: every P's status
  std::vector<int> pms;         // stw_end: every P's M
  std::vector<int> idle;        // stw_end: the Ps on the idle list
};

struct p_session {
  unsigned session = 0;
  std::uint64_t seed = 0;
  int nprocs = 0;
  std::vector<p_entry> log;
};

struct trace_state {
  bool on = false;  // GORO_SIM_TRACE set for this session
  std::string dir;
  unsigned session = 0;              // sessions in this process
  std::uint64_t seed = 0;            // this session's
  std::map<int, rq_segment> cur;     // by P id: its open segment
  std::vector<p_session> psessions;  // the P-protocol log, a session each
  bool world_stopped = false;        // between stw_begin and stw_end
  // The spinning Ms as the log's events left them, kept up through the
  // stopped world too (whose events are not logged): stw_end reports it,
  // for an M may be between its flag's clearing and its drop_spinning then.
  std::set<int> spinning;
  std::set<int> ms;                 // every M id (+ 1) the P log names
  std::set<unsigned long long> gs;  // every goid the P log names
  std::vector<rq_segment> closed;
  const runtime* rt = nullptr;  // the session's (trace_log_runtime)
  std::uint64_t skipped = 0;    // hook calls on a queue of no P (none expected)
  bool written = false;
};

trace_state& st() {
  static trace_state* s = new trace_state;  // never destroyed (see controller.cpp)
  return *s;
}

// The P whose queue q is, and the acting M. std::atomic's own load, not
// detail::atomic's: no scheduling point may fall inside a hook.
const p* owner_p(const void* q) {
  const runtime* rt = st().rt;
  if (!rt) return nullptr;
  for (std::uint32_t i = 0; i < max_procs; i++) {
    const p* pp = static_cast<const std::atomic<p*>&>(rt->allp[i]).load(std::memory_order_relaxed);
    if (!pp) break;
    if (static_cast<const void*>(&pp->runq) == q) return pp;
  }
  return nullptr;
}

rq_segment* segment(const void* q, const m** mpo) {
  trace_state& s = st();
  if (!s.on || !participant()) return nullptr;
  const m* mp = getm_unchecked();  // null only for run's thread (the main G's put)
  const p* pp = owner_p(q);
  if (!pp) {
    s.skipped++;
    return nullptr;
  }
  *mpo = mp;
  auto [it, fresh] = s.cur.try_emplace(pp->id);
  if (fresh) {
    it->second.pid = pp->id;
    it->second.session = s.session;
    it->second.seed = s.seed;
  }
  return &it->second;
}

std::string thief(rq_segment& sg, const m* mp) {
  std::string name = mp ? "m" + std::to_string(mp->id) : "mx";
  sg.thieves.emplace(name, 0);
  return name;
}

int fresh_token(rq_segment& sg, const g* gp) {
  if (gp == sg.displaced && gp != nullptr) {
    sg.displaced = nullptr;
    return sg.token[gp];
  }
  return sg.token[gp] = ++sg.ntokens;
}

int token_of(rq_segment& sg, const g* gp) {
  if (!gp) return 0;
  auto it = sg.token.find(gp);
  return it == sg.token.end() ? -1 : it->second;  // -1: never put here (rejected)
}

void append(rq_segment& sg, rq_entry e) {
  if (!sg.log.empty() && (!std::strcmp(e.op, "stealnone") || !std::strcmp(e.op, "getempty"))) {
    rq_entry& last = sg.log.back();
    if (!std::strcmp(last.op, e.op) && last.proc == e.proc && last.from == e.from &&
        last.tail == e.tail && last.next == e.next) {
      last.reps++;
      return;
    }
  }
  sg.log.push_back(std::move(e));
}

void write_entry(std::FILE* f, const rq_entry& e) {
  std::fprintf(f,
               "  [p |-> \"%s\", op |-> \"%s\", g |-> %d, old |-> %d, tail |-> %u, from |-> %u, "
               "to |-> %u, gs |-> <<",
               e.proc.c_str(), e.op, e.g, e.old, e.tail, e.from, e.to);
  for (std::size_t i = 0; i < e.gs.size(); i++) std::fprintf(f, "%s%d", i ? ", " : "", e.gs[i]);
  std::fprintf(f, ">>, next |-> %s]", e.next ? "TRUE" : "FALSE");
}

// One segment: its Trace (a sequence of records, each line numbered
// "\* seg:n") and its Lines (every process of the module, so that each
// record has every field RunQueueTrace.tla reads).
void write_segment(std::FILE* f, const rq_segment& sg, int k,
                   const std::map<std::string, int>& procs) {
  std::fprintf(f,
               "\\* Segment %d: session %u (seed %llu), P%d's queue, stretch %d (base %u), %zu "
               "entries.\n",
               k, sg.session, static_cast<unsigned long long>(sg.seed), sg.pid, sg.seq, sg.base,
               sg.log.size());
  std::fprintf(f, "Trace%d == <<\n", k);
  std::map<std::string, std::vector<std::size_t>> lines;
  for (std::size_t n = 1; n <= sg.log.size(); n++) {
    const rq_entry& e = sg.log[n - 1];
    write_entry(f, e);
    lines[e.proc].push_back(n);
    std::fprintf(f, "%s  \\* %d:%zu", n < sg.log.size() ? "," : "", k, n);
    if (e.reps > 1) std::fprintf(f, " (%u in a row)", e.reps);
    std::fputc('\n', f);
  }
  std::fprintf(f, ">>\nLines%d == [", k);
  bool first_proc = true;
  for (auto& [name, unused] : procs) {
    std::fprintf(f, "%s%s |-> <<", first_proc ? "" : ", ", name.c_str());
    first_proc = false;
    bool first = true;
    for (std::size_t n : lines[name]) {
      std::fprintf(f, "%s%zu", first ? "" : ", ", n);
      first = false;
    }
    std::fprintf(f, ">>");
  }
  std::fprintf(f, "]\n");
}

// DIR/SUB/MODULE.tla, created and opened with the module's first line
// written; null (after saying why) if it cannot be.
std::FILE* open_module(const std::string& dir, const char* sub, const char* module) {
  std::string d = dir + "/" + sub;
  ::mkdir(d.c_str(), 0777);
  std::string path = d + "/" + module + ".tla";
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::perror(path.c_str());
    return nullptr;
  }
  std::fprintf(f, "---- MODULE %s ----\n", module);
  return f;
}

// The run-queue log: DIR/runq/RunqTraceLog.tla, every segment with entries
// of every session so far, each session's in the order the segments ended.
void write_runq(const trace_state& s, std::FILE* summary) {
  std::vector<const rq_segment*> segs;
  for (const rq_segment& sg : s.closed)
    if (!sg.log.empty()) segs.push_back(&sg);
  if (segs.empty()) return;
  std::map<std::string, int> procs{{"o", 0}};
  int ntokens = 1;
  std::size_t entries = 0;
  for (const rq_segment* sg : segs) {
    for (auto& [t, unused] : sg->thieves) procs.emplace(t, 0);
    ntokens = std::max(ntokens, sg->ntokens);
    entries += sg->log.size();
  }
  std::FILE* f = open_module(s.dir, "runq", "RunqTraceLog");
  if (!f) return;
  std::fprintf(
      f,
      "\\* Written by the sim's trace log (src/sim/trace_log.cpp): %u sessions, mutant %d, "
      "%zu segments,\n",
      s.session + 1, static_cast<int>(mutant), segs.size());
  std::fprintf(f, "\\* %zu entries. Checked by tla/RunQueueTrace.tla.\n", entries);
  // LogExact: each segment's Trace is the session's own order of its entries.
  std::fprintf(f, "LogExact == TRUE\nLogCAP == %u\nLogNG == %d\nLogThieves == {", runq_capacity,
               ntokens);
  bool first = true;
  for (auto& [t, unused] : procs) {
    if (t == "o") continue;
    std::fprintf(f, "%s\"%s\"", first ? "" : ", ", t.c_str());
    first = false;
  }
  std::fprintf(f, "}\n");
  for (std::size_t k = 0; k < segs.size(); k++)
    write_segment(f, *segs[k], static_cast<int>(k + 1), procs);
  std::fprintf(f, "SegTraces == <<");
  for (std::size_t k = 1; k <= segs.size(); k++)
    std::fprintf(f, "%sTrace%zu", k > 1 ? ", " : "", k);
  std::fprintf(f, ">>\nSegLines == <<");
  for (std::size_t k = 1; k <= segs.size(); k++)
    std::fprintf(f, "%sLines%zu", k > 1 ? ", " : "", k);
  std::fprintf(f, ">>\n====\n");
  std::fclose(f);
  std::fprintf(summary, "runq runq %zu segments %zu entries\n", segs.size(), entries);
}

const char* pstatus_tla(pstatus st) {
  switch (st) {
    case pstatus::idle: return "idle";
    case pstatus::running: return "running";
    case pstatus::syscall: return "syscall";
    case pstatus::stopped: return "stopped";
  }
  return "?";
}

// The P-protocol log: DIR/phandoff/PHandoffTraceLog.tla, one segment per
// session (tla/PHandoffTrace.tla starts each from its Init).
void write_phandoff(const trace_state& s, std::FILE* summary) {
  std::size_t entries = 0;
  int np = 1;
  for (const p_session& ps : s.psessions) {
    entries += ps.log.size();
    np = std::max(np, ps.nprocs);
  }
  if (entries == 0) return;
  std::FILE* f = open_module(s.dir, "phandoff", "PHandoffTraceLog");
  if (!f) return;
  std::fprintf(
      f, "\\* Written by the sim's trace log (src/sim/trace_log.cpp): %zu sessions, mutant %d,\n",
      s.psessions.size(), static_cast<int>(mutant));
  std::fprintf(f, "\\* %zu entries. Checked by tla/PHandoffTrace.tla.\n", entries);
  std::fprintf(f, "LogNP == %d\nLogMs == {", np);
  bool first = true;
  for (int m : s.ms) {
    std::fprintf(f, "%s%d", first ? "" : ", ", m);
    first = false;
  }
  std::fprintf(f, "}\nLogGs == {");
  first = true;
  for (unsigned long long g : s.gs) {
    std::fprintf(f, "%s%llu", first ? "" : ", ", g);
    first = false;
  }
  std::fprintf(f, "}\n");
  for (std::size_t k = 1; k <= s.psessions.size(); k++) {
    const p_session& ps = s.psessions[k - 1];
    std::fprintf(f, "\\* Segment %zu: session %u (seed %llu), %d Ps, %zu entries.\n", k, ps.session,
                 static_cast<unsigned long long>(ps.seed), ps.nprocs, ps.log.size());
    std::fprintf(f, "NP%zu == %d\nPTrace%zu == <<\n", k, ps.nprocs, k);
    for (std::size_t n = 1; n <= ps.log.size(); n++) {
      const p_entry& e = ps.log[n - 1];
      std::fprintf(
          f,
          "  [op |-> \"%s\", m |-> %d, p |-> %d, g |-> %llu, v |-> %d, nm |-> %d, need |-> %s, "
          "spin |-> {",
          e.op, e.m, e.p, e.g, e.v, e.nm, e.need ? "TRUE" : "FALSE");
      for (std::size_t i = 0; i < e.spin.size(); i++)
        std::fprintf(f, "%s%d", i ? ", " : "", e.spin[i]);
      std::fprintf(f, "}, ps |-> <<");
      for (std::size_t i = 0; i < e.ps.size(); i++)
        std::fprintf(f, "%s\"%s\"", i ? ", " : "", e.ps[i]);
      std::fprintf(f, ">>, pms |-> <<");
      for (std::size_t i = 0; i < e.pms.size(); i++)
        std::fprintf(f, "%s%d", i ? ", " : "", e.pms[i]);
      std::fprintf(f, ">>, idle |-> {");
      for (std::size_t i = 0; i < e.idle.size(); i++)
        std::fprintf(f, "%s%d", i ? ", " : "", e.idle[i]);
      std::fprintf(f, "}]%s  \\* %zu:%zu\n", n < ps.log.size() ? "," : "", k, n);
    }
    std::fprintf(f, ">>\n");
  }
  std::fprintf(f, "SegPTraces == <<");
  for (std::size_t k = 1; k <= s.psessions.size(); k++)
    std::fprintf(f, "%sPTrace%zu", k > 1 ? ", " : "", k);
  std::fprintf(f, ">>\nSegNP == <<");
  for (std::size_t k = 1; k <= s.psessions.size(); k++)
    std::fprintf(f, "%sNP%zu", k > 1 ? ", " : "", k);
  std::fprintf(f, ">>\n====\n");
  std::fclose(f);
  std::fprintf(summary, "phandoff phandoff %zu segments %zu entries\n", s.psessions.size(),
               entries);
}

void write_all() {
  trace_state& s = st();
  if (!s.on || s.written) return;
  s.written = true;
  // The session's open segments end here.
  for (auto& [pid, sg] : s.cur) s.closed.push_back(std::move(sg));
  s.cur.clear();
  ::mkdir(s.dir.c_str(), 0777);
  std::string sp = s.dir + "/summary.txt";
  std::FILE* summary = std::fopen(sp.c_str(), "w");
  if (!summary) {
    std::perror(sp.c_str());
    return;
  }
  write_runq(s, summary);
  write_phandoff(s, summary);
  if (s.skipped)
    std::fprintf(summary, "skipped %llu\n", static_cast<unsigned long long>(s.skipped));
  std::fclose(summary);
}

}  // namespace

void trace_log_begin() noexcept {
  trace_state& s = st();
  const char* d = std::getenv("GORO_SIM_TRACE");
  if (s.on) s.session++;  // a further session in this process: its log grows
  bool on = d && *d;
  if (!on || s.dir != d) {
    s.closed.clear();
    s.psessions.clear();
    s.ms.clear();
    s.gs.clear();
    s.session = 0;
    s.skipped = 0;
  }
  s.on = on;
  s.dir = s.on ? d : "";
  s.seed = current_seed();
  s.cur.clear();
  s.world_stopped = false;
  s.spinning.clear();
  if (s.on) {
    p_session ps;
    ps.session = s.session;
    ps.seed = s.seed;
    s.psessions.push_back(std::move(ps));
  }
  s.written = false;
  s.rt = nullptr;
}

void trace_log_runtime(const runtime* rt) noexcept {
  trace_state& s = st();
  s.rt = rt;
  if (s.on && !s.psessions.empty())
    s.psessions.back().nprocs = static_cast<int>(rt->gomaxprocs.load(std::memory_order_relaxed));
}

void trace_p(pev e, const p* pp, const m* mp, int v) noexcept {
  trace_state& s = st();
  if (!s.on || s.psessions.empty() || !participant() || !s.rt) return;
  p_session& ps = s.psessions.back();
  const int mid = mp ? static_cast<int>(mp->id) + 1 : 0;
  if (e == pev::spin || e == pev::handspin) s.spinning.insert(mid);
  if (e == pev::dropspin || e == pev::dropidle) s.spinning.erase(mid);
  if (ps.nprocs == 0)
    ps.nprocs = static_cast<int>(static_cast<const std::atomic<std::uint32_t>&>(s.rt->gomaxprocs)
                                     .load(std::memory_order_relaxed));
  // The stopped world's own transitions (P status stopped, procresize) are
  // outside PHandoff.tla: nothing is logged from stw_begin to stw_end, which
  // carries the state the world restarts with.
  if (e == pev::stw_begin) {
    if (s.world_stopped) return;
    s.world_stopped = true;
  } else if (e == pev::stw_end) {
    s.world_stopped = false;
  } else if (s.world_stopped) {
    return;
  }
  static constexpr const char* names[] = {
      "acquire",   "release",  "pidleput", "pidleget", "entersyscall", "retake", "handoff",
      "stw_begin", "stw_end",  "claim",    "unclaim",  "handspin",     "spin",   "spinclear",
      "dropspin",  "needspin", "dropidle", "recheck",  "stopm",        "giveup"};
  p_entry en;
  en.op = names[static_cast<int>(e)];
  en.p = pp ? pp->id + 1 : 0;
  en.m = mid;
  en.v = v;
  if (en.m) s.ms.insert(en.m);
  if (e == pev::stw_end) {
    std::uint32_t n = static_cast<const std::atomic<std::uint32_t>&>(s.rt->gomaxprocs)
                          .load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < max_procs; i++) {
      const p* q =
          static_cast<const std::atomic<p*>&>(s.rt->allp[i]).load(std::memory_order_relaxed);
      if (!q) break;
      ps.nprocs = std::max(ps.nprocs, static_cast<int>(i) + 1);
      pstatus stq = static_cast<const std::atomic<pstatus>&>(q->status).load(
          std::memory_order_relaxed);
      const m* holder = static_cast<const std::atomic<m*>&>(q->m_).load(std::memory_order_relaxed);
      bool listed =
          static_cast<const std::atomic<bool>&>(q->idle_listed).load(std::memory_order_relaxed);
      en.ps.push_back(i < n ? pstatus_tla(stq) : "stopped");
      en.pms.push_back(holder ? static_cast<int>(holder->id) + 1 : 0);
      if (holder) s.ms.insert(static_cast<int>(holder->id) + 1);
      if (listed) en.idle.push_back(static_cast<int>(i) + 1);
    }
    en.spin.assign(s.spinning.begin(), s.spinning.end());
    s.ms.insert(s.spinning.begin(), s.spinning.end());
    en.nm = static_cast<const std::atomic<std::int32_t>&>(s.rt->sched.nmspinning)
                .load(std::memory_order_relaxed);
    en.need = static_cast<const std::atomic<bool>&>(s.rt->sched.needspinning)
                  .load(std::memory_order_relaxed);
  }
  ps.log.push_back(std::move(en));
}

void trace_g(std::uint64_t goid, std::uint32_t from, std::uint32_t to) noexcept {
  trace_state& s = st();
  if (!s.on || s.psessions.empty() || !participant()) return;
  // The op from the transition (sched/gstatus.hpp's list). Logged in the
  // stopped world too: a G's life must be seen whole (PHandoffTrace.tla
  // checks the P side of these steps only outside it).
  using enum gstatus;
  const auto f = static_cast<gstatus>(from), t = static_cast<gstatus>(to);
  const char* op = "gbad";  // a transition Go does not allow (rejected)
  if ((f == dead || f == idle) && t == runnable) op = "newg";
  else if (f == runnable && t == running) op = "execute";
  else if (f == running && t == runnable) op = "yield";
  else if (f == running && t == waiting) op = "park";
  else if (f == waiting && t == runnable) op = "ready";
  else if (f == running && t == syscall) op = "gsyscall";
  else if (f == syscall && t == running) op = "gsysret";
  else if (f == syscall && t == runnable) op = "gsysq";
  else if (f == running && t == dead) op = "goexit";
  const m* mp = getm_unchecked();  // null on run's thread and foreign threads
  p_entry en;
  en.op = op;
  en.m = mp ? static_cast<int>(mp->id) + 1 : 0;
  en.g = goid;
  if (en.m) s.ms.insert(en.m);
  s.gs.insert(goid);
  s.psessions.back().log.push_back(std::move(en));
}

void trace_drop_spinning(const char* where, int old) noexcept {
  // An unused claim (no M took it), or the calling M's own count.
  if (!std::strcmp(where, "wakep") || !std::strcmp(where, "startm"))
    trace_p(pev::unclaim, nullptr, nullptr, old);
  else if (!std::strcmp(where, "findrunnable"))
    trace_p(pev::dropidle, nullptr, getm_unchecked(), old);
  else trace_p(pev::dropspin, nullptr, getm_unchecked(), old);
}

void trace_log_end() noexcept {
  write_all();
  st().rt = nullptr;
}

void trace_log_flush() noexcept { write_all(); }

bool trace_log_on() noexcept { return st().on && participant(); }

}  // namespace goro::detail::simulator

namespace goro::detail {

using namespace simulator;

// The run queue's hooks (local_runq's T interface; see the header comment
// for how each maps to tla/RunQueue.tla).

void runq_sim_hook::put(const void* q, g* gp, std::uint32_t tail) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  rq_entry e;
  e.proc = "o";
  e.op = "put";
  e.g = fresh_token(*sg, gp);
  e.tail = tail - sg->base;
  append(*sg, std::move(e));
}

void runq_sim_hook::put_next(const void* q, g* gp, g* old) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  rq_entry e;
  e.proc = "o";
  e.op = "putnext";
  e.g = fresh_token(*sg, gp);
  e.old = token_of(*sg, old);
  sg->displaced = old;
  append(*sg, std::move(e));
}

void runq_sim_hook::putslow(const void* q, std::uint32_t h, std::uint32_t n, g* const* batch,
                            g* gp) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  rq_entry e;
  e.proc = "o";
  e.op = "putslow";
  e.g = fresh_token(*sg, gp);
  e.from = h - sg->base;
  e.to = h + n - sg->base;
  for (std::uint32_t i = 0; i < n; i++) e.gs.push_back(token_of(*sg, batch[i]));
  append(*sg, std::move(e));
}

void runq_sim_hook::get_next(const void* q, g* gp) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  rq_entry e;
  e.proc = "o";
  e.op = "getnext";
  e.g = token_of(*sg, gp);
  append(*sg, std::move(e));
}

void runq_sim_hook::take_next(const void* q, g* gp) { get_next(q, gp); }

void runq_sim_hook::get(const void* q, std::uint32_t h, std::uint32_t h2, g* gp) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  rq_entry e;
  e.proc = "o";
  e.op = "get";
  e.g = token_of(*sg, gp);
  e.from = h - sg->base;
  e.to = h2 - sg->base;
  append(*sg, std::move(e));
}

void runq_sim_hook::get_empty(const void* q, std::uint32_t h) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  rq_entry e;
  e.proc = "o";
  e.op = "getempty";
  e.from = e.tail = h - sg->base;
  append(*sg, std::move(e));
}

void runq_sim_hook::grab(const void* q, std::uint32_t h, std::uint32_t t, std::uint32_t n,
                         g* const* gs) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  rq_entry e;
  e.proc = thief(*sg, mp);
  e.op = "steal";
  e.tail = t - sg->base;
  e.from = h - sg->base;
  e.to = h + n - sg->base;
  for (std::uint32_t i = 0; i < n; i++) e.gs.push_back(token_of(*sg, gs[i]));
  append(*sg, std::move(e));
}

void runq_sim_hook::grab_next(const void* q, std::uint32_t h, std::uint32_t t, g* gp) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  rq_entry e;
  e.proc = thief(*sg, mp);
  e.op = "stealnext";
  e.g = token_of(*sg, gp);
  e.from = h - sg->base;
  e.tail = t - sg->base;
  append(*sg, std::move(e));
}

void runq_sim_hook::grab_none(const void* q, std::uint32_t h, std::uint32_t t, bool next) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  rq_entry e;
  e.proc = thief(*sg, mp);
  e.op = "stealnone";
  e.next = next;
  e.from = h - sg->base;
  e.tail = t - sg->base;
  append(*sg, std::move(e));
}

void runq_sim_hook::put_batch(const void* q, std::uint32_t t, std::uint32_t n, g* const* gs) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  for (std::uint32_t i = 0; i < n; i++) {
    rq_entry e;
    e.proc = "o";
    e.op = "put";
    e.g = fresh_token(*sg, gs[i]);
    e.tail = t + i + 1 - sg->base;
    append(*sg, std::move(e));
  }
}

void runq_sim_hook::drained(const void* q, std::uint32_t h) {
  const m* mp;
  rq_segment* sg = segment(q, &mp);
  if (!sg) return;
  // The drain is outside RunQueue.tla (a stopped world empties the queue):
  // the segment ends here and the next starts empty at head h.
  rq_segment next;
  next.pid = sg->pid;
  next.seq = sg->seq + 1;
  next.base = h;
  st().closed.push_back(std::move(*sg));
  *sg = std::move(next);
}

}  // namespace goro::detail

#endif  // GORO_SIM
