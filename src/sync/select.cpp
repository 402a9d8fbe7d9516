// select: Go's runtime/select.go (selectgo) on goro's channel core.
//
// Protocol (spec/channels.md, "Select"):
//   0. Order: a random permutation of the non-nil cases (poll order) and the
//      same cases sorted by channel address (lock order).
//   1. Lock every distinct channel in address order. Pass 1: look at the
//      cases in poll order and run the first that can complete now, exactly
//      as a plain send/receive would. Without one: unlock and return -1 if
//      there is a default.
//   2. Pass 2: enqueue one sudog per case, all sharing one chan_parker, then
//      park; the post-switch step (park_commit) releases every lock in
//      reverse address order, after the park has committed.
//   3. A waker on any of the channels claims the select by CASing
//      select_done 0 -> 1 (sudog_queue::dequeue, sync/park_core.hpp), completes that one case and
//      readies us. Pass 3: lock all channels again and remove our other
//      sudogs; the claimed one was already taken out by its waker.
// Exactly one case completes: a sudog is completed only by whoever dequeues
// it, and a select's sudogs are dequeued for completion only after winning
// the single CAS. Taking all locks in one global (address) order means two
// selects over the same channels never deadlock, and holding all of them
// during passes 1 and 2 makes "nothing ready, so enqueue everywhere" atomic:
// no value can slip past between looking and waiting.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>

#include "base/fastrand.hpp"
#include "goro/select.hpp"
#include "sched/proc.hpp"
#include "sim/controller.hpp"
#include "sync/chan.hpp"

namespace goro::detail {

namespace {

// A random number in [0, n). Uses the M's generator (owned by the thread
// running it: a goroutine and its M's g0 never run at once), or a
// per-thread one on a foreign thread, seeded at its first use. Nothing is
// cached across a park.
std::uint32_t cheaprandn(std::uint32_t n) {
  thread_local std::uint64_t foreign_state = 0;
  m* mp = getm();
  std::uint64_t* st = mp ? &mp->fastrand : &foreign_state;
  if (*st == 0) {
    // sim: not from the (ASLR-dependent) address of the state.
    if constexpr (sim) *st = simulator::fastrand_seed(-1);
    else *st = fastrand_seed(st, 0);
  }
  return fastrandn(*st, n);
}

struct lockset {
  hchan** locks;  // distinct channels, in address order
  std::size_t n;
};

// The lock set is an array known only at run time, which the analysis (it
// names each lock statically) cannot follow: sellock, selunlock and
// selectgo, which touches the channels under them, are not analysed.
// TSan checks them instead (lock order included).
void sellock(const lockset& ls) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  for (std::size_t i = 0; i < ls.n; i++) ls.locks[i]->lock.lock();
}

// Releases in reverse address order. When this is the post-switch step of a
// parked select, the lockset lives on the parked G's stack: a waker may
// ready the G as soon as any lock is released, but the G's first act (pass
// 3) is to lock locks[0], which we release last; so everything here is read
// before that final unlock, and nothing after it.
void selunlock(void* arg) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  auto* ls = static_cast<lockset*>(arg);
  hchan** locks = ls->locks;
  for (std::size_t i = ls->n; i-- > 1;) locks[i]->lock.unlock();
  locks[0]->lock.unlock();
}

// park_commit's form of selunlock: the locks handed across the switch
// (futex_lock's release_before_switch / unlock_after_switch), in the same
// order.
void selunlock_step(void* arg, unlock_step step) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  if (step == unlock_step::now) return selunlock(arg);
  auto* ls = static_cast<lockset*>(arg);
  hchan** locks = ls->locks;
  for (std::size_t i = ls->n; i-- > 0;) {
    if (step == unlock_step::before_switch) locks[i]->lock.release_before_switch();
    else locks[i]->lock.unlock_after_switch();
  }
}

// Scratch space for a select: on the stack for up to 8 cases.
constexpr std::size_t inline_cases = 8;

}  // namespace

std::ptrdiff_t selectgo(scase* cas, std::size_t n, bool block) GORO_NO_THREAD_SAFETY_ANALYSIS {
  honour_preempt();  // before any lock (park.hpp)
  // Channels are locked throughout, and cheaprandn uses the M: as in
  // chan.cpp ("Preemption").
  nopreempt no_preempt;
  std::uint32_t order_inline[2 * inline_cases];
  hchan* locks_inline[inline_cases];
  sudog sg_inline[inline_cases];
  std::unique_ptr<std::uint32_t[]> order_heap;
  std::unique_ptr<hchan*[]> locks_heap;
  std::unique_ptr<sudog[]> sg_heap;
  std::uint32_t* order = order_inline;
  hchan** locks = locks_inline;
  sudog* sgs = sg_inline;
  if (n > inline_cases) {
    order_heap.reset(new std::uint32_t[2 * n]);
    locks_heap.reset(new hchan*[n]);
    sg_heap.reset(new sudog[n]);
    order = order_heap.get();
    locks = locks_heap.get();
    sgs = sg_heap.get();
  }

  // 0. Poll order: an inside-out Fisher-Yates shuffle of the non-nil cases.
  std::uint32_t* pollorder = order;
  std::size_t np = 0;
  for (std::size_t i = 0; i < n; i++) {
    if (!cas[i].c) continue;
    std::uint32_t j = cheaprandn(static_cast<std::uint32_t>(np + 1));
    pollorder[np] = pollorder[j];
    pollorder[j] = static_cast<std::uint32_t>(i);
    np++;
  }
  if (np == 0) {
    if (!block) return -1;
    // Only nil channels and no default: Go blocks forever.
    waiter w;
    waiter_init(w);
    park_commit(
        w, [](void*, unlock_step) noexcept {}, nullptr, wait_reason::select_no_cases);
    fatal("a select on nil channels only was resumed");
  }
  // Lock order: by channel address; duplicates are locked once.
  std::uint32_t* lockorder = order + np;
  std::copy(pollorder, pollorder + np, lockorder);
  std::sort(lockorder, lockorder + np, [cas](std::uint32_t a, std::uint32_t b) {
    return std::less<chan_header*>()(cas[a].c, cas[b].c);
  });
  lockset ls{locks, 0};
  for (std::size_t k = 0; k < np; k++) {
    hchan* c = as_hchan(cas[lockorder[k]].c);
    if (ls.n == 0 || locks[ls.n - 1] != c) locks[ls.n++] = c;
  }

  sellock(ls);

  // 1. Is some case ready now? The first in poll order runs.
  for (std::size_t k = 0; k < np; k++) {
    std::uint32_t i = pollorder[k];
    hchan* c = as_hchan(cas[i].c);
    if (cas[i].send) {
      if (c->closed) {
        selunlock(&ls);
        throw_send_closed();
      }
      if (sudog* sg = c->recvq.dequeue()) {
        chan_send_direct(c, sg, cas[i].elem, selunlock, &ls);
        return i;
      }
      if (c->qcount.load(std::memory_order_relaxed) < c->cap) {
        chan_buf_put(c, cas[i].elem);
        selunlock(&ls);
        return i;
      }
    } else {
      if (sudog* sg = c->sendq.dequeue()) {
        chan_recv_direct(c, sg, cas[i].elem, selunlock, &ls);
        return i;
      }
      if (c->qcount.load(std::memory_order_relaxed) > 0) {
        chan_buf_take(c, cas[i].elem);
        selunlock(&ls);
        return i;
      }
      if (c->closed) {  // closed and drained: the result stays nullopt
        selunlock(&ls);
        return i;
      }
    }
  }
  if (!block) {
    selunlock(&ls);
    return -1;
  }

  // 2. Enqueue on every channel, then park; the locks are released after
  //    the park commits.
  chan_parker pk;
  waiter_init(pk.w);
  // select_done starts at 0 (unclaimed); claimants see that initial value
  // through the channel locks released after the enqueue.
  pk.is_select = true;
  for (std::size_t k = 0; k < np; k++) {
    std::uint32_t i = lockorder[k];
    hchan* c = as_hchan(cas[i].c);
    sudog& s = sgs[i];
    s.pk = &pk;
    s.c = c;
    s.elem = cas[i].elem;
    s.success = false;
    (cas[i].send ? c->sendq : c->recvq).enqueue(&s);
  }
  // If our runtime abandons us here, teardown claims the select (as a
  // waker would: then no waker can complete a case) and unlinks every
  // sudog, one channel at a time (park.hpp, waiter_on_abandon).
  struct link {
    chan_parker* pk;
    scase* cas;
    sudog* sgs;
    std::uint32_t* lockorder;
    std::size_t np;
    // The heap scratch of a select of more than 8 cases: an abandoned frame
    // is never unwound, so the hook's last call frees it (runtime memory).
    std::unique_ptr<std::uint32_t[]>* order_heap;
    std::unique_ptr<hchan*[]>* locks_heap;
    std::unique_ptr<sudog[]>* sg_heap;
  } ln{&pk, cas, sgs, lockorder, np, &order_heap, &locks_heap, &sg_heap};
  waiter_on_abandon(
      pk.w,
      [](void* arg, bool readied) noexcept {
        auto* l = static_cast<link*>(arg);
        // Readied: one case completed; the other sudogs are still queued
        // (pass 3 would have removed them), so unlink them all the same.
        // The claim a waker makes (sync/park_core.hpp, select_claim).
        bool claimed = select_claim(l->pk);
        for (std::size_t k = 0; k < l->np; k++) {
          std::uint32_t i = l->lockorder[k];
          hchan* c = as_hchan(l->cas[i].c);
          c->lock.lock();
          (l->cas[i].send ? c->sendq : c->recvq).remove(&l->sgs[i]);
          c->lock.unlock();
        }
        // true: the last call for this G (pass 2 calls again only after a
        // false), and nothing above is used again.
        bool last = claimed || readied;
        if (last) {
          l->order_heap->reset();
          l->locks_heap->reset();
          l->sg_heap->reset();
        }
        return last;
      },
      &ln);
  park_commit(pk.w, selunlock_step, &ls, wait_reason::select);

  // 3. Claimed through one case (pk.param, written before our ready). Take
  //    the other sudogs out of their queues.
  sellock(ls);
  sudog* won = pk.param;
  std::ptrdiff_t casi = -1;
  for (std::size_t k = 0; k < np; k++) {
    std::uint32_t i = lockorder[k];
    sudog* s = &sgs[i];
    if (s == won) {
      casi = i;
      continue;
    }
    hchan* c = as_hchan(cas[i].c);
    (cas[i].send ? c->sendq : c->recvq).remove(s);
  }
  selunlock(&ls);
  if (casi < 0) fatal("selectgo: woken, but no case was completed");
  if (cas[casi].send && !won->success) throw_send_closed();
  return casi;
}

}  // namespace goro::detail
