// Trace validation of real runs of the run queue (issue 14): an owner and
// 1-3 thieves run the real local_runq (sched/local_runq.hpp, the source the
// runtime ships) at capacity 4 on real threads, each thread records every
// operation it completed on the owner's queue through the queue's trace hook
// (local_runq's T parameter) with the counter values its atomics read or
// wrote, and the logs are written as a TLA+ module, RunqTraceLog.tla, that
// tla/RunQueueTrace.tla checks against tla/RunQueue.tla with TLC: the run is
// accepted when some behaviour of the spec consumes the whole log
// (ci/tla_trace.sh runs both; tla/README.md, "Trace validation").
//
//   runq_trace --out DIR [--seed S] [--thieves K] [--ops N]
//
// Recording adds no synchronization: each thread appends to its own buffer
// (reached through a thread_local pointer), and the buffers are read after
// every thread has been joined. The hook is called after the atomic that
// decided the operation, so nothing is recorded between a queue access and
// the next one except the thread's own bookkeeping.
//
// The run: a prologue that makes the three trace mutants' bugs happen on
// every run (6 puts: the 5th finds the ring full and overflows through
// putslow, the 6th leaves 3 in the ring; one get from the ring; one steal
// by thief 1, on its own thread, joined, from a ring of 2), then
// the owner's seeded random script (put, put-next, get, bursts of puts)
// against K thieves stealing (half of them allowed to take runnext) until
// the owner is done, then the owner drains its ring and the overflow queue.
// The same source compiled with -DGORO_MUTANT_<NAME> (tests/CMakeLists.txt:
// runq_trace_<name>) must have its trace rejected.
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness_fatal.hpp"
#include "sched/local_runq.hpp"

GORO_HARNESS_FATAL("runq_trace")

namespace {

struct tg {
  int id = 0;  // 1..NG, tla/RunQueue.tla's G ids (0 is Nil)
};

int id(const tg* gp) { return gp ? gp->id : 0; }

// One completed operation on the owner's queue; the fields an op does not
// use stay 0 (every record of the module has every field, so the trace
// spec never reads a missing one).
struct entry {
  const char* op = "";
  int g = 0;               // the G put or taken (runnext ops too)
  int old = 0;             // putnext: the runnext it displaced
  std::uint32_t tail = 0;  // put: tail published; steal*: tail read
  std::uint32_t from = 0;  // get, putslow, steal: head the claim moved from;
                           // stealnext, stealnone, getglobal: head read
  std::uint32_t to = 0;    // ... and to
  std::vector<int> gs;     // putslow, steal: the Gs claimed, oldest first
  bool next = false;       // stealnone: the steal looked at runnext
  unsigned reps = 1;       // stealnone: identical empty steals in a row (record)
  std::uint64_t key = 0;   // merge order (write_module)
};

struct hook;
constexpr std::uint32_t cap = 4;  // tla/RunQueue.cfg's CAP
using queue = goro::detail::local_runq<tg, cap, goro::detail::runq_orders, hook>;

const queue* traced = nullptr;  // the owner's queue; set before any thread starts
thread_local std::vector<entry>* mylog = nullptr;  // this thread's buffer

// Appends e to this thread's log. A stealnone identical to the thread's
// previous entry (same head and tail read, same runnext choice) is counted
// on that entry instead (reps): such a steal writes nothing, so wherever one
// of the run of them fits into a behaviour of the spec all of them fit (at
// the same point), and one line says as much as k. Without this, runs of
// empty steals by two thieves while the ring stays empty could each fall
// anywhere in that stretch, and TLC would visit every combination.
void record(const void* q, entry e) {
  if (q != traced || mylog == nullptr) return;  // a thief's own queue: not traced
  if (!std::strcmp(e.op, "stealnone") && !mylog->empty()) {
    entry& last = mylog->back();
    if (!std::strcmp(last.op, "stealnone") && last.from == e.from && last.tail == e.tail &&
        last.next == e.next) {
      last.reps++;
      return;
    }
  }
  mylog->push_back(std::move(e));
}

struct hook {
  static constexpr bool on = true;
  static void put(const void* q, tg* gp, std::uint32_t tail) {
    entry e;
    e.op = "put";
    e.g = id(gp);
    e.tail = tail;
    record(q, std::move(e));
  }
  static void put_next(const void* q, tg* gp, tg* old) {
    entry e;
    e.op = "putnext";
    e.g = id(gp);
    e.old = id(old);
    record(q, std::move(e));
  }
  static void putslow(const void* q, std::uint32_t h, std::uint32_t n, tg* const* batch, tg* gp) {
    entry e;
    e.op = "putslow";
    e.g = id(gp);
    e.from = h;
    e.to = h + n;
    for (std::uint32_t i = 0; i < n; i++) e.gs.push_back(id(batch[i]));
    record(q, std::move(e));
  }
  static void get_next(const void* q, tg* gp) {
    entry e;
    e.op = "getnext";
    e.g = id(gp);
    record(q, std::move(e));
  }
  static void get(const void* q, std::uint32_t h, std::uint32_t h2, tg* gp) {
    entry e;
    e.op = "get";
    e.g = id(gp);
    e.from = h;
    e.to = h2;
    record(q, std::move(e));
  }
  static void grab(const void* q, std::uint32_t h, std::uint32_t t, std::uint32_t n,
                   tg* const* gs) {
    entry e;
    e.op = "steal";
    e.tail = t;
    e.from = h;
    e.to = h + n;
    for (std::uint32_t i = 0; i < n; i++) e.gs.push_back(id(gs[i]));
    record(q, std::move(e));
  }
  static void get_empty(const void* q, std::uint32_t h) {
    if (q == traced) empty_head = h;  // for run::get's getglobal entry
  }
  static void grab_next(const void* q, std::uint32_t h, std::uint32_t t, tg* gp) {
    entry e;
    e.op = "stealnext";
    e.g = id(gp);
    e.from = h;
    e.tail = t;
    record(q, std::move(e));
  }
  static void grab_none(const void* q, std::uint32_t h, std::uint32_t t, bool next) {
    entry e;
    e.op = "stealnone";
    e.next = next;
    e.from = h;
    e.tail = t;
    record(q, std::move(e));
  }
  // Not traced here: steal_into's publication on a thief's own queue (only
  // the owner's queue is), take_next and drain_stopped on the owner's queue
  // (the harness uses neither there). The sim's log (sim/trace_log.cpp)
  // records all three.
  static void put_batch(const void*, std::uint32_t, std::uint32_t, tg* const*) {}
  static void take_next(const void*, tg*) {}
  static void drained(const void*, std::uint32_t) {}
  // The head (= tail) at which the owner's last get found its ring empty.
  static inline std::uint32_t empty_head = 0;
};

struct options {
  std::string out;
  unsigned seed = 1;
  unsigned thieves = 2;
  unsigned ops = 60;
};

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: runq_trace --out DIR [--seed S] [--thieves 1..3] [--ops N]\n");
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; i++) {
    auto arg = [&]() -> const char* {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--out")) o.out = arg();
    else if (!std::strcmp(argv[i], "--seed"))
      o.seed = static_cast<unsigned>(std::strtoul(arg(), nullptr, 10));
    else if (!std::strcmp(argv[i], "--thieves"))
      o.thieves = static_cast<unsigned>(std::strtoul(arg(), nullptr, 10));
    else if (!std::strcmp(argv[i], "--ops"))
      o.ops = static_cast<unsigned>(std::strtoul(arg(), nullptr, 10));
    else usage();
  }
  if (o.out.empty() || o.thieves < 1 || o.thieves > 3) usage();
  return o;
}

// The run's state: the owner's queue, each thief's own queue (the
// destination of its steals, which steal_into requires empty), the
// overflow queue putslow's sink feeds (the owner's alone: in RunQueue.tla
// only the owner takes from globrunq), and the Gs.
struct run {
  queue q;
  queue own[3];
  std::deque<tg*> global;
  std::vector<tg> gs;
  int next_g = 1;
  std::vector<entry> logs[4];  // [0] owner, [1..3] thieves

  explicit run(std::size_t ngs) : gs(ngs + 1) {
    for (std::size_t i = 0; i < gs.size(); i++) gs[i].id = static_cast<int>(i);
    traced = &q;
  }

  void put(bool next) {
    if (next_g >= static_cast<int>(gs.size())) return;  // out of Gs: a no-op
    q.put(&gs[static_cast<std::size_t>(next_g++)], next,
          [this](tg** batch, std::uint32_t n) { global.insert(global.end(), batch, batch + n); });
  }

  // runqget, then the overflow queue as findrunnable's globrunqget would
  // (RunQueue.tla's GlobRunqGet); logged as getglobal with g = 0 when empty.
  bool get() {
    if (q.get().gp != nullptr) return true;
    entry e;
    e.op = "getglobal";
    e.from = e.tail = hook::empty_head;
    if (!global.empty()) {
      e.g = global.front()->id;
      global.pop_front();
    }
    bool got = e.g != 0;
    logs[0].push_back(std::move(e));
    return got;
  }

  // Thief i (1-based) steals from the owner into its own queue, then runs
  // what it got: empties its own queue (untraced) so the next steal_into
  // finds it empty, as it requires. drain_stopped, not get: no other thread
  // ever touches a thief's own queue here, and a get mutant must not keep
  // the thief from emptying it.
  void steal(unsigned i, bool next) {
    queue& mine = own[i - 1];
    mine.steal_into(q, next, [] { std::this_thread::yield(); });
    mine.drain_stopped([](tg*, bool) {});
  }
};

// The harness's own flags (not the queue's), all relaxed so they order
// nothing the queue does: the owner starts its script once every thief is
// running, bumps progress after each operation, and sets done after its
// drain. A thief makes one steal attempt per step of the owner's progress it
// sees, acknowledging the step first (seen[i]); the owner waits (boundedly:
// a mutant's steal may spin until the owner moves) for every
// acknowledgement before its next operation, so each steal races the
// owner's next operation however the threads are scheduled (on the 2-core
// CI machine an unpaced owner finishes before a thief first runs).
struct flags {
  std::atomic<unsigned> ready{0};
  std::atomic<unsigned> progress{0};
  std::atomic<unsigned> seen[4] = {};
  std::atomic<bool> done{false};

  void step(unsigned n, unsigned thieves) {
    progress.store(n, std::memory_order_relaxed);
    for (unsigned i = 1; i <= thieves; i++)
      for (int k = 0; k < 2000 && seen[i].load(std::memory_order_relaxed) != n; k++)
        std::this_thread::yield();
  }
};

void thief_body(run& r, unsigned i, flags& fl, unsigned seed) {
  mylog = &r.logs[i];
  fl.ready.fetch_add(1, std::memory_order_relaxed);
  std::mt19937 rng(seed * 7919u + i);
  // Thief 1 and 3 may take runnext, thief 2 never (so a run with 2 thieves
  // has both kinds of steal).
  const bool may_next = i != 2;
  unsigned seen = 0;
  while (!fl.done.load(std::memory_order_relaxed)) {
    unsigned now = fl.progress.load(std::memory_order_relaxed);
    if (now == seen) {
      std::this_thread::yield();
      continue;
    }
    seen = now;
    fl.seen[i].store(now, std::memory_order_relaxed);
    for (unsigned s = rng() % 2000; s > 0; s--) std::atomic_signal_fence(std::memory_order_seq_cst);
    r.steal(i, may_next && rng() % 2 == 0);
  }
  mylog = nullptr;
}

void entry_tla(std::FILE* f, const entry& e, const char* proc) {
  std::fprintf(f,
               "  [p |-> \"%s\", op |-> \"%s\", g |-> %d, old |-> %d, tail |-> %u, from |-> %u, "
               "to |-> %u, gs |-> <<",
               proc, e.op, e.g, e.old, e.tail, e.from, e.to);
  for (std::size_t i = 0; i < e.gs.size(); i++) std::fprintf(f, "%s%d", i ? ", " : "", e.gs[i]);
  std::fprintf(f, ">>, next |-> %s]", e.next ? "TRUE" : "FALSE");
}

// Merge key: slot index n of the ring is put (tail n -> n+1) before it is
// taken, and an empty ring seen at head h comes after the take of index
// h-1 and before the put of index h: keys 4n+2 (put of index n), 4n+3 (a
// claim whose last index is n, or a steal that read tail n+1), 4h (empty at
// h). Other entries (runnext ops) keep their predecessor's key. The merge
// only orders the module's lines for a reader (and numbers them); TLC does
// not rely on it: each thread's entries keep program order, and the trace
// spec searches the interleaving of the threads itself.
void assign_keys(std::vector<entry>& log) {
  std::uint64_t last = 0;
  for (entry& e : log) {
    std::string op = e.op;
    if (op == "put") last = 4 * std::uint64_t(e.tail - 1) + 2;
    else if (op == "steal") last = 4 * std::uint64_t((e.tail > e.to ? e.tail : e.to) - 1) + 3;
    else if (op == "putslow" || op == "get")
      last = 4 * std::uint64_t(e.to > e.from ? e.to - 1 : e.from) + 3;
    else if (op == "stealnone" || op == "stealnext" || op == "getglobal")
      last = 4 * std::uint64_t(e.from);
    e.key = last;
  }
}

int write_module(run& r, const options& o) {
  std::string path = o.out + "/RunqTraceLog.tla";
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::perror(path.c_str());
    return 2;
  }
  const char* procs[] = {"o", "t1", "t2", "t3"};
  unsigned nproc = o.thieves + 1;
  for (unsigned i = 0; i < nproc; i++) assign_keys(r.logs[i]);
  std::vector<std::size_t> at(nproc, 0);
  std::vector<std::vector<unsigned>> lines(nproc);
  std::size_t total = 0;
  for (unsigned i = 0; i < nproc; i++) total += r.logs[i].size();

  std::fprintf(f, "---- MODULE RunqTraceLog ----\n");
  std::fprintf(f,
               "\\* Written by runq_trace (tests/runq_trace.cpp): seed %u, %u thieves, %u ops,\n",
               o.seed, o.thieves, o.ops);
  std::fprintf(f, "\\* mutant %d, %zu entries. Checked by tla/RunQueueTrace.tla.\n",
               static_cast<int>(goro::detail::mutant), total);
  // LogExact: the merge order of Trace is not the run's order (real threads).
  std::fprintf(f, "LogExact == FALSE\nLogCAP == %u\nLogNG == %d\nLogThieves == {", cap,
               r.next_g - 1);
  for (unsigned i = 1; i < nproc; i++) std::fprintf(f, "%s\"%s\"", i > 1 ? ", " : "", procs[i]);
  std::fprintf(f, "}\nLogTrace == <<\n");
  for (std::size_t n = 1; n <= total; n++) {
    unsigned best = nproc;
    for (unsigned i = 0; i < nproc; i++)
      if (at[i] < r.logs[i].size() &&
          (best == nproc || r.logs[i][at[i]].key < r.logs[best][at[best]].key))
        best = i;
    const entry& e = r.logs[best][at[best]++];
    entry_tla(f, e, procs[best]);
    lines[best].push_back(static_cast<unsigned>(n));
    std::fprintf(f, "%s  \\* %zu", n < total ? "," : "", n);
    if (e.reps > 1) std::fprintf(f, " (%u in a row)", e.reps);
    std::fputc('\n', f);
  }
  std::fprintf(
      f, ">>\n\\* LogLines[p]: the numbers of p's entries in LogTrace, in p's program order.\n");
  std::fprintf(f, "LogLines == [");
  for (unsigned i = 0; i < nproc; i++) {
    std::fprintf(f, "%s%s |-> <<", i ? ", " : "", procs[i]);
    for (std::size_t k = 0; k < lines[i].size(); k++)
      std::fprintf(f, "%s%u", k ? ", " : "", lines[i][k]);
    std::fprintf(f, ">>");
  }
  // One segment (tla/RunQueueTrace.tla: a simulated run's log has several).
  std::fprintf(f, "]\nSegTraces == <<LogTrace>>\nSegLines == <<LogLines>>\n====\n");
  std::fclose(f);
  std::printf("runq_trace: seed %u, %u thieves: %zu entries (owner %zu", o.seed, o.thieves, total,
              r.logs[0].size());
  for (unsigned i = 1; i < nproc; i++) std::printf(", %s %zu", procs[i], r.logs[i].size());
  std::printf(") in %s\n", path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);
  std::mt19937 rng(o.seed);
  // Gs: the prologue's 6, then at most 5 per script op (a burst).
  run r(6 + 5 * std::size_t(o.ops));

  // Prologue (see the header): the owner thread is this one.
  mylog = &r.logs[0];
  for (int i = 0; i < 6; i++) r.put(false);  // 1-4 fill the ring, 5 overflows
  r.get();                                   // from the ring: 2 left
  std::thread([&] {
    mylog = &r.logs[1];
    r.steal(1, false);  // the ring holds 2: takes 1
    mylog = nullptr;
  }).join();

  flags fl;
  std::vector<std::thread> ts;
  for (unsigned i = 1; i <= o.thieves; i++)
    ts.emplace_back(thief_body, std::ref(r), i, std::ref(fl), o.seed);
  while (fl.ready.load(std::memory_order_relaxed) < o.thieves) std::this_thread::yield();
  unsigned step = 0;
  for (unsigned k = 0; k < o.ops; k++) {
    unsigned dice = rng() % 100;
    if (dice < 35) r.put(false);
    else if (dice < 50) r.put(true);
    else if (dice < 90) r.get();
    else
      for (unsigned b = 2 + rng() % 4; b > 0; b--) r.put(false);
    fl.step(++step, o.thieves);
    for (unsigned s = rng() % 1000; s > 0; s--) std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  // Drain: bounded, for a mutant whose get never empties the queue.
  for (std::size_t k = 0; k < r.gs.size() + 8 && r.get(); k++) fl.step(++step, o.thieves);
  fl.done.store(true, std::memory_order_relaxed);
  for (auto& t : ts) t.join();
  mylog = nullptr;
  return write_module(r, o);
}
