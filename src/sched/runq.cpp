// The runtime's entry points into the per-P run queue (sched/local_runq.hpp
// holds the algorithm and its memory orders) and the global run queue.
#include "sched/runq.hpp"

#include <sched.h>
#include <time.h>

#include "base/owner_add.hpp"

namespace goro::detail {

namespace {

// runqputslow's destination: the batch, linked through schedlink, goes to
// the tail of the global queue under sched.lock.
struct globrunq_sink {
  runtime& rt;
  void operator()(g** batch, std::uint32_t n) const {
    for (std::uint32_t i = 0; i + 1 < n; i++) batch[i]->schedlink = batch[i + 1];
    batch[n - 1]->schedlink = nullptr;
    sched_guard l(rt.sched);
    globrunqputbatch(rt, *l, batch[0], batch[n - 1], static_cast<std::int32_t>(n));
  }
};

// runqgrab's courtesy pause before it takes a running P's runnext: the owner
// has probably just readied that G and is about to run it itself, so give it
// a moment, as Go does, so a ping-pong pair is not torn apart on every
// exchange. Cost figure: a chan send/recv handoff takes ~80 ns here
// (bench/ chan_pingpong: ~165 ns per round trip of two handoffs, procs 1 and
// 2, bench/RESULTS.md), so 3 us is ~35x overshoot (Go: ~50 ns, ~50x): ample
// for the owner to get there first, and still short beside what a torn-apart
// pair costs. Go also skips the pause when the victim's G is in a syscall;
// here entersyscall moves the P to pstatus::syscall, so the status test
// covers that case.
struct runnext_pause {
  const p* victim;
  void operator()() const {
    if (victim->status.load(std::memory_order_relaxed) == pstatus::running) {
      timespec ts{0, 3000};
      nanosleep(&ts, nullptr);
    }
  }
};

}  // namespace

void runqput(runtime& rt, p* pp, g* gp, bool next) { pp->runq.put(gp, next, globrunq_sink{rt}); }

bool runqputslow(runtime& rt, p* pp, g* gp, std::uint32_t h, std::uint32_t t) {
  return pp->runq.putslow(gp, h, t, globrunq_sink{rt});
}

runq_result runqget(p* pp) { return pp->runq.get(); }

std::uint32_t runqgrab(p* from, p* to, std::uint32_t batch_head, bool steal_runnext) {
  return from->runq.grab(to->runq, batch_head, steal_runnext, runnext_pause{from});
}

g* runqsteal(p* to, p* from, bool steal_runnext, std::uint32_t* stolen) {
  return to->runq.steal_into(from->runq, steal_runnext, runnext_pause{from}, stolen);
}

bool runqempty(const p* pp) { return pp->runq.empty(); }

std::uint32_t runqlen(const p* pp) { return pp->runq.size(); }

void globrunqput(runtime& rt, sched_locked& l, g* gp) {
  gp->schedlink = nullptr;
  if (l.runqtail) l.runqtail->schedlink = gp;
  else l.runqhead = gp;
  l.runqtail = gp;
  owner_add(rt.sched.runqsize, 1);
}

void globrunqputhead(runtime& rt, sched_locked& l, g* gp) {
  gp->schedlink = l.runqhead;
  l.runqhead = gp;
  if (!l.runqtail) l.runqtail = gp;
  owner_add(rt.sched.runqsize, 1);
}

void globrunqputbatch(runtime& rt, sched_locked& l, g* head, g* tail, std::int32_t n) {
  tail->schedlink = nullptr;
  if (l.runqtail) l.runqtail->schedlink = head;
  else l.runqhead = head;
  l.runqtail = tail;
  owner_add(rt.sched.runqsize, n);
}

g* globrunqget(runtime& rt, sched_locked& l, p* pp, std::int32_t max) {
  std::int32_t size = rt.sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  std::int32_t procs = static_cast<std::int32_t>(rt.gomaxprocs.load(std::memory_order_relaxed));
  std::int32_t n = size / procs + 1;  // a fair share, leaving some for other Ps
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<std::int32_t>(runq_capacity / 2)) n = runq_capacity / 2;
  g* gp = l.runqhead;
  l.runqhead = gp->schedlink;
  std::int32_t taken = 1;
  for (; taken < n; taken++) {
    // Not runqput: its overflow path takes sched.lock, which we hold. Callers
    // take from the global queue when the local one is empty, so at most 128
    // Gs fit; should the queue be full, the rest simply stay global.
    //
    // Read g1's link before try_put publishes g1: from then on a thief may
    // steal it, run it to completion, and gfput reuses schedlink for the
    // free list, so a read after the put could splice the free list into
    // the global queue (dead Gs executed, runqsize off by the list's
    // length). Stress.ForeignThreadsInjectAndWait hit that window about one
    // run in seven under ASan.
    g* g1 = l.runqhead;
    g* next = g1->schedlink;
    if (!pp->runq.try_put(g1)) break;
    l.runqhead = next;
  }
  if (!l.runqhead) l.runqtail = nullptr;
  rt.sched.runqsize.store(size - taken, std::memory_order_relaxed);
  gp->schedlink = nullptr;
  return gp;
}

}  // namespace goro::detail
