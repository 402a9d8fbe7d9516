// Model-based property of the per-P run queue (RapidCheck rc::state).
//
// One runtime shell, no Ms and no threads: P0 and P1 each have a real run
// queue (runq.cpp), plus the real global queue. RapidCheck generates command
// sequences (up to ~600 commands, with bulk puts so the 256-slot ring
// overflows) and runs each against the real queues and against a sequential
// model written from Go's runtime/proc.go:
//
//   ring    std::deque, head first         (Go: p.runq[runqhead..runqtail))
//   runnext std::optional                  (Go: p.runnext)
//   global  std::deque, head first         (Go: sched.runq)
//
// After every command the observable state of the real queues must equal the
// model exactly: each P's ring contents in order (read from the slots between
// runqhead and runqtail), runnext, runqlen, runqempty, the global queue (walked
// through runqhead/schedlink, plus runqsize and the runqtail pointer), and the
// G (and inherit_time flag) each get or steal returns. Because the model keeps
// every G in exactly one place, equality after every step also checks the TLA+
// invariants NoGLost, NoGTakenTwice and LenBounds (0 <= len <= 256) on every
// prefix. On failure RapidCheck shrinks to the shortest command sequence.
#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <rapidcheck/state.h>

#include "prop_support.hpp"
#include "runq_shell.hpp"
#include "sched/runq.hpp"

namespace goro::detail {
namespace {

using gid = std::uint64_t;
constexpr std::size_t cap = runq_capacity;  // 256
constexpr std::size_t half = cap / 2;       // 128

// ---------------------------------------------------------------------------
// The sequential model.

struct pmodel {
  std::deque<gid> ring;
  std::optional<gid> runnext;
  bool empty() const { return ring.empty() && !runnext; }
};

struct model {
  unsigned procs = 2;  // gomaxprocs, used by globrunqget's fair share
  pmodel p[2];         // P0 and P1
  std::deque<gid> global;
  gid next = 0;  // id of the next new G

  // runqput(pp, g, next) as Go defines it.
  void put(int pi, gid g, bool next) {
    pmodel& q = p[pi];
    if (next) {
      std::optional<gid> old = q.runnext;
      q.runnext = g;
      if (!old) return;
      g = *old;  // the old runnext is kicked out to the tail
    }
    if (q.ring.size() < cap) {
      q.ring.push_back(g);
      return;
    }
    // runqputslow: the oldest half plus g go to the global queue, in order.
    for (std::size_t i = 0; i < half; i++) {
      global.push_back(q.ring.front());
      q.ring.pop_front();
    }
    global.push_back(g);
  }

  struct got {
    gid g;
    bool inherit_time;
    bool operator==(const got&) const = default;
  };
  // runqget: runnext first (inherits the time slice), then the ring's head.
  std::optional<got> get(int pi) {
    pmodel& q = p[pi];
    if (q.runnext) {
      gid g = *q.runnext;
      q.runnext.reset();
      return got{g, true};
    }
    if (q.ring.empty()) return std::nullopt;
    gid g = q.ring.front();
    q.ring.pop_front();
    return got{g, false};
  }

  // runqsteal(to, from): takes n - n/2 of from's ring (the oldest); returns
  // the last of them and queues the rest on `to`, in order. runnext is taken
  // only when asked and from's ring is empty.
  std::optional<gid> steal(int to, int from, bool steal_runnext) {
    pmodel& v = p[from];
    pmodel& t = p[to];
    std::size_t n = v.ring.size() - v.ring.size() / 2;
    if (n == 0) {
      if (steal_runnext && v.runnext) {
        gid g = *v.runnext;
        v.runnext.reset();
        return g;
      }
      return std::nullopt;
    }
    for (std::size_t i = 0; i + 1 < n; i++) {
      t.ring.push_back(v.ring.front());
      v.ring.pop_front();
    }
    gid g = v.ring.front();
    v.ring.pop_front();
    return g;
  }

  // globrunqget(pp, max): n = min(size, size/gomaxprocs + 1, max if > 0, 128);
  // the first is returned, the rest go to pp's ring while it has room (the
  // ones that do not fit stay global, at its head).
  std::optional<gid> globget(int pi, int max) {
    std::size_t size = global.size();
    if (size == 0) return std::nullopt;
    std::size_t n = std::min(size, size / procs + 1);
    if (max > 0) n = std::min(n, static_cast<std::size_t>(max));
    n = std::min(n, half);
    gid g = global.front();
    global.pop_front();
    for (std::size_t taken = 1; taken < n; taken++) {
      if (p[pi].ring.size() >= cap) break;
      p[pi].ring.push_back(global.front());
      global.pop_front();
    }
    return g;
  }

  void globput(gid g) { global.push_back(g); }
};

// ---------------------------------------------------------------------------
// The system under test: the runtime shell tests/runq_test.cpp uses too
// (tests/runq_shell.hpp), with Gs made on demand; G number i has goid i.

// P1 exists even when procs is 1 (a thief that is not the owner); idle Ps:
// a runnext steal skips the 3us courtesy nap (no M runs the P).
struct sut : goro_test::runq_shell {
  explicit sut(unsigned procs, std::uint32_t start = 0)
      : runq_shell(std::max(procs, 2u), pstatus::idle, start) {
    rt->gomaxprocs.store(procs);
  }
};

std::optional<gid> id_of(const g* x) {
  if (!x) return std::nullopt;
  return x->goid;
}

// The ring (head first) and runnext, read between operations (one thread).
struct real_queue {
  std::vector<gid> ring;
  std::optional<gid> runnext;
  std::uint32_t len = 0;  // runqtail - runqhead, unchecked (LenBounds)
};

real_queue real_ring(p* pp) {
  real_queue q;
  q.len = pp->runq.for_each_stopped([&](g* x, bool runnext) {
    if (runnext) q.runnext = id_of(x);
    else q.ring.push_back(x ? x->goid : ~gid(0));
  });
  return q;
}

template <class C>
std::string show_seq(const C& c) {
  std::ostringstream os;
  os << "[";
  std::size_t i = 0;
  for (auto x : c) {
    if (i++) os << " ";
    if (i > 300) {
      os << "...";
      break;
    }
    os << "G" << x;
  }
  os << "]";
  return os.str();
}

std::string show_opt(std::optional<gid> x) { return x ? "G" + std::to_string(*x) : "none"; }

// Compares the whole observable state with the model; returns "" when equal,
// else what differs.
std::string state_mismatch(const model& m, sut& s) {
  std::ostringstream os;
  for (int i = 0; i < 2; i++) {
    p* pp = s.P(i);
    const pmodel& q = m.p[i];
    real_queue real = real_ring(pp);
    if (real.len > cap)
      os << "P" << i << ": runqtail - runqhead = " << real.len << " > 256 (LenBounds)\n";
    if (real.ring != std::vector<gid>(q.ring.begin(), q.ring.end()))
      os << "P" << i << " ring: real " << show_seq(real.ring) << ", model " << show_seq(q.ring)
         << "\n";
    if (real.runnext != q.runnext)
      os << "P" << i << " runnext: real " << show_opt(real.runnext) << ", model "
         << show_opt(q.runnext) << "\n";
    if (runqlen(pp) != q.ring.size())
      os << "P" << i << " runqlen: real " << runqlen(pp) << ", model " << q.ring.size() << "\n";
    if (runqempty(pp) != q.empty())
      os << "P" << i << " runqempty: real " << runqempty(pp) << ", model " << q.empty() << "\n";
  }
  std::vector<gid> global;
  g* last = nullptr;
  sched_guard l(s.rt->sched);
  for (g* x = l->runqhead; x && global.size() <= m.global.size(); x = x->schedlink) {
    global.push_back(x->goid);
    last = x;
  }
  if (global != std::vector<gid>(m.global.begin(), m.global.end()))
    os << "global queue: real " << show_seq(global) << ", model " << show_seq(m.global) << "\n";
  if (s.rt->sched.runqsize.load() != static_cast<std::int32_t>(m.global.size()))
    os << "sched.runqsize: real " << s.rt->sched.runqsize.load() << ", model " << m.global.size()
       << "\n";
  if (l->runqtail != last) os << "sched.runqtail does not point at the last global G\n";
  return os.str();
}

void check_state(const model& m, sut& s) {
  std::string d = state_mismatch(m, s);
  if (!d.empty()) RC_FAIL("real queues differ from the model after this command:\n" + d);
}

// ---------------------------------------------------------------------------
// Commands. Each computes the expected result on a copy of the model, runs
// the real operation, compares the result and then the whole state.

using cmd = rc::state::Command<model, sut>;

const char* pname(int i) { return i == 0 ? "P0" : "P1"; }

struct runq_put : cmd {
  int pi;
  bool next;
  runq_put(int pi_, bool next_) : pi(pi_), next(next_) {}
  void apply(model& m) const override { m.put(pi, m.next++, next); }
  void run(const model& m0, sut& s) const override {
    model m = m0;
    apply(m);
    runqput(*s.rt, s.P(pi), s.G(m0.next), next);
    check_state(m, s);
  }
  void show(std::ostream& os) const override {
    os << (next ? "RunqPutNext(" : "RunqPut(") << pname(pi) << ")";
  }
};

// k plain puts in one command, so that short sequences reach the overflow.
struct runq_put_many : cmd {
  int pi;
  int k;
  runq_put_many(int pi_, int k_) : pi(pi_), k(k_) {}
  void apply(model& m) const override {
    for (int i = 0; i < k; i++) m.put(pi, m.next++, false);
  }
  void run(const model& m0, sut& s) const override {
    model m = m0;
    apply(m);
    for (int i = 0; i < k; i++) runqput(*s.rt, s.P(pi), s.G(m0.next + i), false);
    check_state(m, s);
  }
  void show(std::ostream& os) const override {
    os << "RunqPutMany(" << pname(pi) << ", " << k << ")";
  }
};

struct runq_get : cmd {
  int pi;
  explicit runq_get(int pi_) : pi(pi_) {}
  void apply(model& m) const override { m.get(pi); }
  void run(const model& m0, sut& s) const override {
    model m = m0;
    std::optional<model::got> want = m.get(pi);
    runq_result r = runqget(s.P(pi));
    std::optional<model::got> have;
    if (r.gp) have = model::got{r.gp->goid, r.inherit_time};
    auto show_got = [](const std::optional<model::got>& x) {
      return x ? "G" + std::to_string(x->g) + (x->inherit_time ? " (runnext)" : "") : "none";
    };
    if (have != want)
      RC_FAIL("runqget returned " + show_got(have) + ", model says " + show_got(want));
    check_state(m, s);
  }
  void show(std::ostream& os) const override { os << "RunqGet(" << pname(pi) << ")"; }
};

struct runq_steal : cmd {
  int to, from;
  bool steal_runnext;
  runq_steal(int to_, bool steal_runnext_)
      : to(to_), from(1 - to_), steal_runnext(steal_runnext_) {}
  // runqsteal's precondition: the thief's own queue is empty (findrunnable
  // steals only after runqget found nothing).
  void checkPreconditions(const model& m) const override { RC_PRE(m.p[to].empty()); }
  void apply(model& m) const override { m.steal(to, from, steal_runnext); }
  void run(const model& m0, sut& s) const override {
    model m = m0;
    std::optional<gid> want = m.steal(to, from, steal_runnext);
    g* x = runqsteal(s.P(to), s.P(from), steal_runnext);
    if (id_of(x) != want)
      RC_FAIL("runqsteal returned " + show_opt(id_of(x)) + ", model says " + show_opt(want));
    check_state(m, s);
  }
  void show(std::ostream& os) const override {
    os << "RunqSteal(" << pname(to) << " <- " << pname(from) << (steal_runnext ? ", runnext" : "")
       << ")";
  }
};

struct glob_runq_get : cmd {
  int pi;
  int max;
  glob_runq_get(int pi_, int max_) : pi(pi_), max(max_) {}
  void apply(model& m) const override { m.globget(pi, max); }
  void run(const model& m0, sut& s) const override {
    model m = m0;
    std::optional<gid> want = m.globget(pi, max);
    g* x = globrunqget(*s.rt, *s.rt->sched.lock(), s.P(pi), max);
    if (id_of(x) != want)
      RC_FAIL("globrunqget returned " + show_opt(id_of(x)) + ", model says " + show_opt(want));
    check_state(m, s);
  }
  void show(std::ostream& os) const override {
    os << "GlobRunqGet(" << pname(pi) << ", max=" << max << ")";
  }
};

struct glob_runq_put : cmd {
  void apply(model& m) const override { m.globput(m.next++); }
  void run(const model& m0, sut& s) const override {
    model m = m0;
    apply(m);
    globrunqput(*s.rt, *s.rt->sched.lock(), s.G(m0.next));
    check_state(m, s);
  }
  void show(std::ostream& os) const override { os << "GlobRunqPut"; }
};

using cmd_sp = std::shared_ptr<const cmd>;

template <class C, class... A>
rc::Gen<cmd_sp> make(rc::Gen<A>... args) {
  return rc::gen::map(rc::gen::makeShared<C>(std::move(args)...),
                      [](std::shared_ptr<C> c) -> cmd_sp { return c; });
}

// Puts are weighted high so queues fill up; a steal is generated only into a
// P whose queue is empty (its precondition).
rc::Gen<cmd_sp> gen_command(const model& m) {
  auto p01 = rc::gen::weightedElement<int>({{4, 0}, {1, 1}});  // mostly P0
  std::vector<int> empty_ps;
  for (int i = 0; i < 2; i++)
    if (m.p[i].empty()) empty_ps.push_back(i);
  auto steal = empty_ps.empty()
                   ? make<runq_get>(p01)
                   : make<runq_steal>(rc::gen::elementOf(empty_ps), rc::gen::arbitrary<bool>());
  return rc::gen::weightedOneOf<cmd_sp>({
      {10, make<runq_put>(p01, rc::gen::weightedElement<bool>({{3, false}, {1, true}}))},
      {2, make<runq_put_many>(p01, rc::gen::inRange(1, 300))},
      {6, make<runq_get>(p01)},
      {4, steal},
      {2,
       make<glob_runq_get>(p01, rc::gen::weightedElement<int>({{3, 0}, {1, 1}, {1, 7}, {1, 200}}))},
      {1, rc::gen::just(cmd_sp(std::make_shared<glob_runq_put>()))},
  });
}

GORO_PROP(RunqModel, MatchesSequentialModel, 200, ()) {
  const unsigned procs = *rc::gen::inRange(1u, 9u).as("gomaxprocs");
  model initial;
  initial.procs = procs;
  // Sequences of up to ~600 commands: size scaled by 6 (RapidCheck sizes go
  // up to 100 by default).
  const auto cmds = *rc::gen::scale(6.0, rc::state::gen::commands(initial, &gen_command));
  const std::uint32_t start =
      *rc::gen::element<std::uint32_t>(0u, 0xFFFFFF00u, 0xFFFFFFFFu).as("initial runqhead");
  sut s(procs, start);
  rc::state::runAll(cmds, initial, s);
  // Classify, so a passing run shows the interesting paths were reached.
  model end = initial;
  rc::state::applyAll(cmds, end);
  RC_TAG(end.next > cap ? "over 256 Gs" : "under 256 Gs");
  RC_CLASSIFY(!end.global.empty(), "global queue used");
  RC_CLASSIFY(start != 0, "counters wrap around 2^32");
}

// A directed case of the overflow path, so a regression names itself even
// without the random search: 256 puts fill the ring; the 257th (a runnext put
// kicking out the old runnext) moves the oldest 128 plus the kicked-out G.
TEST(RunqModel, OverflowThroughRunnextKickOut) {
  model m;
  sut s(2);
  for (int i = 0; i < 256; i++) {
    m.put(0, m.next, false);
    runqput(*s.rt, s.P(0), s.G(m.next++), false);
  }
  for (int i = 0; i < 2; i++) {
    m.put(0, m.next, true);
    runqput(*s.rt, s.P(0), s.G(m.next++), true);
  }
  ASSERT_EQ(m.global.size(), half + 1);
  EXPECT_EQ(m.global.back(), 256u) << "the kicked-out runnext ends the batch";
  EXPECT_EQ(state_mismatch(m, s), "");
}

}  // namespace
}  // namespace goro::detail
