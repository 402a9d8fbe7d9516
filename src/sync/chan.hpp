// The channel core shared by chan.cpp and select.cpp (Go's hchan, sudog and
// waitq from runtime/chan.go and runtime/runtime2.go). spec/channels.md has
// the protocol; this header has the data and the rules for touching it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "goro/chan.hpp"
#include "goro/detail/waitq.hpp"
#include "sync/park.hpp"

namespace goro::detail {

struct hchan;
struct sudog;

// One blocked channel operation or select: who is parked, and how the waker
// reports back. Lives on the parked goroutine's stack (or the blocked
// thread's), like everything else a waiter owns.
struct chan_parker {
  waiter w;
  // Select only (Go: g.selectDone): 0 while the select is parked and no
  // case has been claimed. A waker takes a select's sudog only by CASing
  // this 0 -> 1, so exactly one case wins even though the sudogs sit in the
  // queues of different channels, under different locks.
  std::atomic<std::uint32_t> select_done{0};
  // The sudog whose operation completed (Go: g.param); written by the one
  // waker that claimed us, before ready().
  sudog* param = nullptr;
  bool is_select = false;
};

// One parked operation on one channel (Go's sudog). A plain operation has
// one; a select has one per case, all sharing one chan_parker.
struct sudog {
  chan_parker* pk = nullptr;
  sudog* next = nullptr;  // in the channel's recvq or sendq
  sudog* prev = nullptr;
  hchan* c = nullptr;
  // Sender: the T to move from. Receiver: the std::optional<T> to fill.
  void* elem = nullptr;
  // Set by the waker: true if the value was transferred, false if the
  // channel was closed (a receiver then gets nullopt, a sender throws).
  bool success = false;
};

// A FIFO of sudogs, guarded by the channel's lock (Go's waitq).
struct sudog_queue {
  sudog* first = nullptr;
  sudog* last = nullptr;

  void enqueue(sudog* s) noexcept;
  // Takes the first sudog that can still be woken: a select's sudog whose
  // select has already been claimed through another case is unlinked and
  // skipped. Returns nullptr if none.
  sudog* dequeue() noexcept;
  // Unlinks s if it is still queued (select pass 3); no-op otherwise.
  void remove(sudog* s) noexcept;
};

// The channel (Go's hchan). Every field except the header's atomics is
// guarded by lock. qcount is atomic only so that size() may peek without the
// lock; every access under the lock is relaxed, because the lock already
// orders it. The ring buffer follows the struct in the same allocation, at
// buf.
struct hchan : chan_header {
  hchan(const elem_ops* o, std::size_t cap, unsigned char* b) : chan_header(cap), ops(o), buf(b) {}

  futex_lock lock;
  bool closed = false;
  std::size_t sendx = 0;  // next slot to fill
  std::size_t recvx = 0;  // next slot to take
  const elem_ops* ops;
  unsigned char* buf;
  sudog_queue recvq;  // parked receivers
  sudog_queue sendq;  // parked senders

  void* slot(std::size_t i) const noexcept { return buf + i * ops->size; }
};

inline hchan* as_hchan(chan_header* c) noexcept { return static_cast<hchan*>(c); }

// Transfers, called with c->lock held and only when the operation can
// complete now (select.cpp uses them for its pass 1). Each unlocks through
// unlockf(arg), which releases c->lock (and, for select, every other lock
// held), then readies the waiter it completed, if any.
using unlock_fn = void (*)(void* arg) noexcept;
// A sender meets the parked receiver sg: moves *elem into sg's slot.
void chan_send_direct(hchan* c, sudog* sg, void* elem, unlock_fn unlockf, void* arg) noexcept;
// A receiver meets the parked sender sg: takes the value (from the buffer
// head if buffered, the sender's value then going to the buffer tail).
void chan_recv_direct(hchan* c, sudog* sg, void* slot, unlock_fn unlockf, void* arg) noexcept;
// Buffer operations (no waiter involved); the caller unlocks.
void chan_buf_put(hchan* c, void* elem) noexcept;
void chan_buf_take(hchan* c, void* slot) noexcept;

[[noreturn]] void throw_send_closed();

}  // namespace goro::detail
