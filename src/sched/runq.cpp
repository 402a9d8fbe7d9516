// The per-P lock-free run queue, as Go's runtime/proc.go builds it.
//
// Shape: a ring of runq_capacity (256) slots indexed by free-running 32-bit
// counters runqhead and runqtail (slot = counter % 256), plus a one-G runnext
// slot. Only the owner (the M holding the P) writes runqtail and the slots;
// the owner and thieves advance runqhead, always by CAS.
//
// Invariants (tla/RunQueue.tla: NoGLost, NoGTakenTwice, LenBounds):
//  I1  0 <= runqtail - runqhead <= 256 at every instant (modular arithmetic).
//  I2  The Gs in slots [runqhead, runqtail) are owned by the queue; a G leaves
//      only through a successful CAS of runqhead (or of runnext) by exactly one
//      taker, so no G is taken twice and none is lost.
//  I3  A slot is rewritten by the owner only after runqhead has moved past it,
//      and a taker's CAS fails if runqhead moved since it read the slot, so a
//      taker that read an overwritten slot never keeps that value.
//
// Memory orders (summarized in spec/memory-model.md):
//  - Slots are std::atomic<g*> accessed relaxed: a thief may read a slot the
//    owner is overwriting (I3 discards such reads), which would be a data race
//    on a plain pointer. Visibility of the slot contents rides on runqtail.
//  - Owner: slot store (relaxed) then runqtail store-release. Thief: runqtail
//    load-acquire then slot loads. So a thief that sees tail t sees every slot
//    below t as written, and every write to the G itself made before the put.
//  - Takers CAS runqhead with release; everyone loads runqhead with acquire.
//    The owner's acquire load of head before reusing a slot therefore
//    happens-after the taker's reads of that slot (they precede its release
//    CAS), so the owner never overwrites a slot a successful taker is still
//    reading (load buffering is excluded).
//  - runnext is exchanged with CAS (acq_rel): the G handed over carries the
//    writes made before it was put.
#include "sched/runq.hpp"

#include <sched.h>
#include <time.h>

#include "sched/chaos.hpp"

namespace goro::detail {

namespace {
constexpr std::uint32_t mask = runq_capacity - 1;
static_assert((runq_capacity & mask) == 0, "runq capacity must be a power of two");
}  // namespace

void runqput(runtime& rt, p* pp, g* gp, bool next) {
  if (next) {
    // Swap gp into runnext; the G it displaces goes to the tail. acq_rel: the
    // new G's state is published to a thief that CASes it out, and we see the
    // state of the G we displace.
    g* old = pp->runnext.load(std::memory_order_relaxed);
    while (!pp->runnext.compare_exchange_weak(old, gp, std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
    }
    GORO_CHAOS_POINT();
    if (old == nullptr) return;
    gp = old;
  }
  for (;;) {
    // acquire: synchronizes with takers' release CAS, so the slot we are about
    // to overwrite has been fully read by whoever took it (I3).
    std::uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    std::uint32_t t = pp->runqtail.load(std::memory_order_relaxed);  // ours alone
    if (t - h < runq_capacity) {
#ifdef GORO_MUTANT_PUBLISH_TAIL_FIRST
      // MUTANT: publish the tail before the slot holds gp; a thief can take a
      // stale slot.
      pp->runqtail.store(t + 1, std::memory_order_release);
      GORO_CHAOS_POINT();
      pp->runq[t & mask].store(gp, std::memory_order_relaxed);
#else
      pp->runq[t & mask].store(gp, std::memory_order_relaxed);
      GORO_CHAOS_POINT();
      // release: the slot (and gp's contents) before the new tail (I2).
      pp->runqtail.store(t + 1, std::memory_order_release);
#endif
      GORO_CHAOS_POINT();
      return;
    }
    if (runqputslow(rt, pp, gp, h, t)) return;
    // A thief took some Gs meanwhile: the queue is no longer full; retry.
  }
}

bool runqputslow(runtime& rt, p* pp, g* gp, std::uint32_t h, std::uint32_t t) {
  constexpr std::uint32_t half = runq_capacity / 2;
  g* batch[half + 1];
  std::uint32_t n = (t - h) / 2;
  GORO_INVARIANT(n == half, "runqputslow: queue not full (len %u)", t - h);
  for (std::uint32_t i = 0; i < n; i++)
    batch[i] = pp->runq[(h + i) & mask].load(std::memory_order_relaxed);
  GORO_CHAOS_POINT();
  // release: the reads above come before the claim (I3). On failure a thief
  // won some of these Gs; our copies are stale and discarded.
  if (!pp->runqhead.compare_exchange_strong(h, h + n, std::memory_order_release,
                                            std::memory_order_relaxed))
    return false;
  batch[n] = gp;
  for (std::uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
  batch[n]->schedlink = nullptr;
  rt.sched.lock.lock();
  globrunqputbatch(rt, batch[0], batch[n], static_cast<std::int32_t>(n + 1));
  rt.sched.lock.unlock();
  return true;
}

runq_result runqget(p* pp) {
  // runnext first: it inherits the current time slice. Only the owner and
  // thieves (which take runnext only when the ring is empty) clear it.
  g* next = pp->runnext.load(std::memory_order_relaxed);
  if (next != nullptr) GORO_CHAOS_POINT();
  if (next != nullptr &&
      pp->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel,
                                          std::memory_order_relaxed))
    return {next, true};
  for (;;) {
    // acquire: synchronize with other takers (see header comment).
    std::uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    std::uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    if (t == h) return {};
    g* gp = pp->runq[h & mask].load(std::memory_order_relaxed);
    GORO_CHAOS_POINT();
#ifdef GORO_MUTANT_GET_PLAIN_STORE
    // MUTANT: the owner claims with a plain store, as if it were the only
    // taker; a thief that claimed the same slot meanwhile also keeps it.
    pp->runqhead.store(h + 1, std::memory_order_release);
    return {gp, false};
#else
    // release: our read of the slot precedes the claim (I3).
    if (pp->runqhead.compare_exchange_strong(h, h + 1, std::memory_order_release,
                                             std::memory_order_relaxed))
      return {gp, false};
#endif
  }
}

std::uint32_t runqgrab(p* from, std::atomic<g*>* batch, std::uint32_t batch_head,
                       bool steal_runnext) {
  for (;;) {
    std::uint32_t h = from->runqhead.load(std::memory_order_acquire);
    GORO_CHAOS_POINT();
    // acquire: pairs with the owner's release store of tail, so every slot
    // below t is visible (I2).
    std::uint32_t t = from->runqtail.load(std::memory_order_acquire);
    std::uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_runnext) {
        g* next = from->runnext.load(std::memory_order_relaxed);
        if (next != nullptr) {
          // The owner is probably about to run its runnext itself (a G it
          // just readied); give it a moment before taking it, as Go does, so
          // a ping-pong pair is not torn apart on every exchange.
          if (from->status.load(std::memory_order_relaxed) == pstatus::running) {
            timespec ts{0, 3000};
            nanosleep(&ts, nullptr);
          }
          GORO_CHAOS_POINT();
          if (!from->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel,
                                                     std::memory_order_relaxed))
            continue;
          batch[batch_head & mask].store(next, std::memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    // h and t were read at different times; a length above half the capacity
    // can only be such a torn read (I1 bounds a real one at 256, and we take
    // half). Read again.
    if (n > runq_capacity / 2) continue;
    for (std::uint32_t i = 0; i < n; i++) {
      g* gp = from->runq[(h + i) & mask].load(std::memory_order_relaxed);
      batch[(batch_head + i) & mask].store(gp, std::memory_order_relaxed);
    }
    GORO_CHAOS_POINT();
#ifdef GORO_MUTANT_STEAL_PLAIN_STORE
    // MUTANT: claim with a plain store; two takers can both "win" the same Gs.
    from->runqhead.store(h + n, std::memory_order_release);
    return n;
#else
    // release: the slot reads precede the claim (I3); a failed CAS means the
    // owner or another thief moved head, and our copies are discarded.
    if (from->runqhead.compare_exchange_strong(h, h + n, std::memory_order_release,
                                               std::memory_order_relaxed))
      return n;
#endif
  }
}

g* runqsteal(p* to, p* from, bool steal_runnext) {
  std::uint32_t t = to->runqtail.load(std::memory_order_relaxed);  // ours alone
  std::uint32_t n = runqgrab(from, to->runq, t, steal_runnext);
  if (n == 0) return nullptr;
  n--;
  g* gp = to->runq[(t + n) & mask].load(std::memory_order_relaxed);
  if (n == 0) return gp;
  std::uint32_t h = to->runqhead.load(std::memory_order_acquire);
  if (t - h + n >= runq_capacity) fatal("runqsteal: runq overflow");
  GORO_CHAOS_POINT();
  // release: the copied slots before the new tail, as in runqput.
  to->runqtail.store(t + n, std::memory_order_release);
  return gp;
}

bool runqempty(const p* pp) {
  // Reading head, tail and runnext is not atomic as a whole. A G can move from
  // runnext into the ring (runqput kicking it out) between the reads, so retry
  // until tail is unchanged across them: then head==tail && runnext==nullptr
  // was true at the moment of the second tail read.
  for (;;) {
    std::uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    std::uint32_t t = pp->runqtail.load(std::memory_order_acquire);
    g* next = pp->runnext.load(std::memory_order_acquire);
    if (t == pp->runqtail.load(std::memory_order_acquire)) return h == t && next == nullptr;
  }
}

std::uint32_t runqlen(const p* pp) {
  std::uint32_t h = pp->runqhead.load(std::memory_order_acquire);
  std::uint32_t t = pp->runqtail.load(std::memory_order_acquire);
  std::uint32_t n = t - h;
  return n > runq_capacity ? 0 : n;
}

void globrunqput(runtime& rt, g* gp) {
  gp->schedlink = nullptr;
  if (rt.sched.runqtail) rt.sched.runqtail->schedlink = gp;
  else rt.sched.runqhead = gp;
  rt.sched.runqtail = gp;
  rt.sched.runqsize.store(rt.sched.runqsize.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
}

void globrunqputhead(runtime& rt, g* gp) {
  gp->schedlink = rt.sched.runqhead;
  rt.sched.runqhead = gp;
  if (!rt.sched.runqtail) rt.sched.runqtail = gp;
  rt.sched.runqsize.store(rt.sched.runqsize.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
}

void globrunqputbatch(runtime& rt, g* head, g* tail, std::int32_t n) {
  tail->schedlink = nullptr;
  if (rt.sched.runqtail) rt.sched.runqtail->schedlink = head;
  else rt.sched.runqhead = head;
  rt.sched.runqtail = tail;
  rt.sched.runqsize.store(rt.sched.runqsize.load(std::memory_order_relaxed) + n,
                          std::memory_order_relaxed);
}

g* globrunqget(runtime& rt, p* pp, std::int32_t max) {
  std::int32_t size = rt.sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  std::int32_t procs = static_cast<std::int32_t>(rt.gomaxprocs.load(std::memory_order_relaxed));
  std::int32_t n = size / procs + 1;  // a fair share, leaving some for other Ps
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<std::int32_t>(runq_capacity / 2)) n = runq_capacity / 2;
  g* gp = rt.sched.runqhead;
  rt.sched.runqhead = gp->schedlink;
  std::int32_t taken = 1;
  for (; taken < n; taken++) {
    // Not runqput: its overflow path takes sched.lock, which we hold. Callers
    // take from the global queue when the local one is empty, so at most 128
    // Gs fit; should the queue be full, the rest simply stay global.
    std::uint32_t h = pp->runqhead.load(std::memory_order_acquire);
    std::uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    if (t - h >= runq_capacity) break;
    g* g1 = rt.sched.runqhead;
    rt.sched.runqhead = g1->schedlink;
    pp->runq[t & mask].store(g1, std::memory_order_relaxed);
    pp->runqtail.store(t + 1, std::memory_order_release);
  }
  if (!rt.sched.runqhead) rt.sched.runqtail = nullptr;
  rt.sched.runqsize.store(size - taken, std::memory_order_relaxed);
  gp->schedlink = nullptr;
  return gp;
}

}  // namespace goro::detail
