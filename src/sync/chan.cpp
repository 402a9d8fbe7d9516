// Channels: Go's runtime/chan.go on goro's park/ready core.
//
// A channel is a lock, a ring buffer of `cap` elements and two FIFO queues of
// parked operations (sudogs): receivers waiting for a value and senders
// waiting for a receiver or room. All of it is guarded by hchan::lock; there
// is no lock-free path. The invariants kept under the lock (spec/channels.md,
// "Channel invariants"):
//   Q1  sendq is non-empty only when the buffer is full (for cap 0: always
//       "full"), and recvq is non-empty only when the buffer is empty;
//       so sendq and recvq are never both non-empty.
//   Q2  a closed channel has an empty sendq and recvq (close wakes them all
//       and nobody queues on a closed channel).
//   Q3  a sudog is in at most one queue; it leaves it exactly once, through
//       dequeue (a waker that then completes it) or remove (its own select,
//       pass 3).
// A waker completes a sudog (moves the value, sets success and param) while
// holding the lock, releases the lock, then readies the waiter: the waiter
// was published with gopark's unlock-after-commit, so it is parked (its
// context saved) by the time anyone can take it from the queue.
//
// Preemption: every entry point holds a nopreempt for its whole length. The
// element moves (elem_ops) are compiled in the caller's code and run with
// the channel locked; an asynchronous preemption there would leave the lock
// held by a descheduled goroutine, and the Ms spinning on it could be the
// very ones needed to run that goroutine again. (gopark keeps the G's count
// across the park; the count is per G, so it moves with it.)
#include "sync/chan.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>

#include "base/owner_add.hpp"
#include "sched/proc.hpp"

namespace goro::detail {

// ---------------------------------------------------------------------------
// Wait queues: sudog_list (sync/park_core.hpp), with select's claim.

// ---------------------------------------------------------------------------
// Transfers (c->lock held on entry).

namespace {

inline std::size_t ring_next(const hchan* c, std::size_t i) noexcept {
  return i + 1 == c->cap ? 0 : i + 1;
}

// An unlockf: the analysis cannot name the lock behind a void*.
void unlock_chan(void* c) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  static_cast<hchan*>(c)->lock.unlock();
}

// Reports the outcome to the waiter of sg, releases the lock(s), then wakes it.
// unlockf releases lk (a select: every case's lock) through a function
// pointer, which the analysis cannot follow: hence the suppression here.
void complete([[maybe_unused]] futex_lock& lk, sudog* sg, bool success, unlock_fn unlockf,
              void* arg) noexcept GORO_RELEASE(lk) GORO_NO_THREAD_SAFETY_ANALYSIS {
  chan_parker* pk = sg->pk;
  sg->success = success;
  pk->param = sg;
  unlockf(arg);
  // pk stays valid: its owner is parked until this ready.
  ready(&pk->w);
}

[[noreturn]] void park_forever(wait_reason reason) {
  // Go blocks a goroutine forever on a nil channel. Nobody can find this
  // waiter, so nobody readies it; checkdead counts it as asleep (its wait
  // reason is chan_*_nil) and reports the deadlock if nothing else can run.
  waiter w;
  waiter_init(w);
  park_commit(
      w, [](void*, unlock_step) noexcept {}, nullptr, reason);
  fatal("a goroutine blocked on a nil channel was resumed");
}

// The channel behind h; a nil channel blocks the caller forever (Go).
hchan* non_nil_or_park(chan_header* h, wait_reason nil_reason) {
  if (!h) park_forever(nil_reason);
  return as_hchan(h);
}

}  // namespace

void chan_buf_put(hchan* c, void* elem) noexcept {
  c->ops->construct(c->slot(c->sendx), elem);
  c->sendx = ring_next(c, c->sendx);
  // relaxed: qcount is guarded by the lock; size() only peeks.
  owner_add(c->qcount, 1);
}

void chan_buf_take(hchan* c, void* slot) noexcept {
  void* q = c->slot(c->recvx);
  c->ops->deliver(slot, q);
  c->ops->destroy(q);
  c->recvx = ring_next(c, c->recvx);
  // relaxed: as in chan_buf_put.
  owner_add(c->qcount, -1);
}

void chan_send_direct(hchan* c, sudog* sg, void* elem, unlock_fn unlockf, void* arg) noexcept {
  // A receiver is parked, so the buffer is empty (Q1): the value goes
  // straight into the receiver's result, moved once.
  c->ops->deliver(sg->elem, elem);
  complete(c->lock, sg, true, unlockf, arg);
}

void chan_recv_direct(hchan* c, sudog* sg, void* slot, unlock_fn unlockf, void* arg) noexcept {
  if (c->cap == 0) {
    // Unbuffered: take the sender's value itself.
    c->ops->deliver(slot, sg->elem);
  } else {
    // A sender is parked, so the buffer is full (Q1). FIFO order: we take
    // the head; the sender's value goes to the slot just freed, which is the
    // new tail. The count stays at cap.
    void* q = c->slot(c->recvx);
    c->ops->deliver(slot, q);
    c->ops->destroy(q);
    c->ops->construct(q, sg->elem);
    c->recvx = ring_next(c, c->recvx);
    c->sendx = c->recvx;
  }
  complete(c->lock, sg, true, unlockf, arg);
}

[[noreturn]] void throw_send_closed() { throw closed_channel("goro: send on closed channel"); }

// ---------------------------------------------------------------------------
// Creation and destruction.

namespace {
std::size_t header_bytes(const elem_ops* ops) {
  return (sizeof(hchan) + ops->align - 1) / ops->align * ops->align;
}
std::align_val_t chan_align(const elem_ops* ops) {
  return std::align_val_t(std::max(alignof(hchan), ops->align));
}
}  // namespace

chan_header* chan_make(const elem_ops* ops, std::size_t cap) {
  std::size_t head = header_bytes(ops);
  if (cap > (std::numeric_limits<std::size_t>::max() - head) / ops->size)
    throw std::length_error("goro::chan: capacity too large");
  void* mem = ::operator new(head + cap * ops->size, chan_align(ops));
  return ::new (mem) hchan(ops, cap, static_cast<unsigned char*>(mem) + head);
}

// Not analysed: the last owner reads the guarded ring without the lock,
// which the analysis cannot know is safe.
void chan_free(chan_header* h) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  hchan* c = as_hchan(h);
  const elem_ops* ops = c->ops;
  // We are the last owner (acq_rel decrement), so no lock is needed.
  std::size_t n = c->qcount.load(std::memory_order_relaxed);
  for (std::size_t i = 0, x = c->recvx; i < n; i++, x = ring_next(c, x)) ops->destroy(c->slot(x));
  c->~hchan();
  ::operator delete(static_cast<void*>(c), chan_align(ops));
}

// ---------------------------------------------------------------------------
// Operations (Go's chansend, chanrecv, closechan).

namespace {

// With c->lock held: hand elem to a parked receiver or put it in the buffer
// if either can take it now, releasing the lock (true); otherwise keep the
// lock and return false. A closed channel throws, the lock released.
// The analysis has no conditional release: it is told the lock is released,
// and callers assert_held on the false path.
bool send_now_locked(hchan* c, void* elem) GORO_RELEASE(c->lock) GORO_NO_THREAD_SAFETY_ANALYSIS {
  if (c->closed) {
    c->lock.unlock();
    throw_send_closed();
  }
  if (sudog* sg = c->recvq.dequeue()) {
    chan_send_direct(c, sg, elem, unlock_chan, c);
    return true;
  }
  if (c->qcount.load(std::memory_order_relaxed) < c->cap) {
    chan_buf_put(c, elem);
    c->lock.unlock();
    return true;
  }
  return false;
}

// With c->lock held: take a value from a parked sender or the buffer if
// there is one, releasing the lock (true); otherwise keep the lock (false).
// As send_now_locked for the analysis.
bool recv_now_locked(hchan* c, void* slot) GORO_RELEASE(c->lock) GORO_NO_THREAD_SAFETY_ANALYSIS {
  if (sudog* sg = c->sendq.dequeue()) {
    chan_recv_direct(c, sg, slot, unlock_chan, c);
    return true;
  }
  if (c->qcount.load(std::memory_order_relaxed) > 0) {
    chan_buf_take(c, slot);
    c->lock.unlock();
    return true;
  }
  return false;
}

// With c->lock held: wait in q with elem as this waiter's value slot.
// Publishes the sudog, then lets gopark release the lock only once we are
// off our stack (park_unlock), so a partner that dequeues us next may ready
// us at once. Returns the sudog's success once readied (false: closed).
bool park_locked(hchan* c, sudog_queue& q, void* elem, wait_reason reason) GORO_RELEASE(c->lock) {
  chan_parker pk;
  waiter_init(pk.w);
  sudog sg;
  sg.pk = &pk;
  sg.c = c;
  sg.elem = elem;
  q.enqueue(&sg);
  // If our runtime abandons us here, teardown unlinks sg (park.hpp,
  // waiter_on_abandon): the channel may outlive the runtime.
  struct link {
    sudog* sg;
    sudog_queue* q;
  } ln{&sg, &q};
  waiter_on_abandon(
      pk.w,
      [](void* arg, bool readied) noexcept {
        if (readied) return true;  // completed: the value (or close) reached the frame
        auto* l = static_cast<link*>(arg);
        hchan* ch = l->sg->c;
        ch->lock.lock();
        // Still queued iff linked (dequeue clears both links of what it takes).
        bool queued = l->sg->prev != nullptr || l->q->first == l->sg;
        if (queued) l->q->remove(l->sg);
        ch->lock.unlock();
        return queued;
      },
      &ln);
  park_unlock(pk.w, c->lock, reason);
  return sg.success;
}

}  // namespace

void chan_send(chan_header* h, void* elem) {
  honour_preempt();  // before any lock (park.hpp)
  nopreempt np;      // see "Preemption" at the top
  hchan* c = non_nil_or_park(h, wait_reason::chan_send_nil);
  c->lock.lock();
  if (send_now_locked(c, elem)) return;
  c->lock.assert_held();  // false: still held (send_now_locked)
  // Readied by a receiver that took *elem, or by close (false).
  if (!park_locked(c, c->sendq, elem, wait_reason::chan_send)) throw_send_closed();
}

bool chan_recv(chan_header* h, void* slot) {
  honour_preempt();  // before any lock (park.hpp)
  nopreempt np;      // see "Preemption" at the top
  hchan* c = non_nil_or_park(h, wait_reason::chan_receive_nil);
  c->lock.lock();
  if (c->closed && c->qcount.load(std::memory_order_relaxed) == 0) {
    c->lock.unlock();
    return false;
  }
  if (recv_now_locked(c, slot)) return true;
  c->lock.assert_held();  // false: still held (recv_now_locked)
  // Readied by a sender that filled *slot, or by close (false).
  return park_locked(c, c->recvq, slot, wait_reason::chan_receive);
}

bool chan_try_send(chan_header* h, void* elem) {
  honour_preempt();  // before any lock (park.hpp)
  nopreempt np;      // see "Preemption" at the top
  if (!h) return false;
  hchan* c = as_hchan(h);
  c->lock.lock();
  if (send_now_locked(c, elem)) return true;
  c->lock.assert_held();  // false: still held (send_now_locked)
  c->lock.unlock();
  return false;
}

bool chan_try_recv(chan_header* h, void* slot) {
  honour_preempt();  // before any lock (park.hpp)
  nopreempt np;      // see "Preemption" at the top
  if (!h) return false;
  hchan* c = as_hchan(h);
  c->lock.lock();
  if (recv_now_locked(c, slot)) return true;
  c->lock.assert_held();  // false: still held (recv_now_locked)
  c->lock.unlock();
  return false;
}

void chan_close(chan_header* h) {
  honour_preempt();  // before any lock (park.hpp)
  nopreempt np;      // see "Preemption" at the top
  if (!h) throw std::logic_error("goro: close of nil channel");
  hchan* c = as_hchan(h);
  c->lock.lock();
  if (c->closed) {
    c->lock.unlock();
    throw closed_channel("goro: close of closed channel");
  }
  c->closed = true;
  // Take every waiter (Q2) under the lock, report failure to each, and wake
  // them only after unlocking. Receivers keep an empty result (nullopt);
  // senders throw. The list is linked through the dequeued sudogs' next.
  sudog* head = nullptr;
  sudog** tail = &head;
  for (sudog_queue* q : {&c->recvq, &c->sendq}) {
    while (sudog* sg = q->dequeue()) {
      sg->success = false;
      sg->pk->param = sg;
      *tail = sg;
      tail = &sg->next;
    }
  }
  c->lock.unlock();
  while (head) {
    sudog* sg = head;
    head = sg->next;  // read before ready: sg's frame may vanish after it
    ready(&sg->pk->w);
  }
}

}  // namespace goro::detail
