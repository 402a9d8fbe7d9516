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
  // (sync/park_core.hpp: select_claim.)
  atomic<std::uint32_t> select_done{0};
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

// A FIFO of sudogs, guarded by the channel's lock (Go's waitq): the shared
// sudog_list of sync/park_core.hpp, whose dequeue holds select's claim (and
// which c11/park_c11.cpp checks). Contracts in Go's fixed form, as in
// park.hpp ("G in a call": inside blocking()). g0 appears because an
// after() timer fires on g0 and try_sends on its channel.
//
// enqueue(s): appends s (plain operations and select pass 2).
//   Called from: G with P | G in a call | foreign thread
//   Locks: holds the channel's lock
//   May switch: no
// dequeue(): takes the first sudog that can still be woken: a select's
//   sudog whose select has already been claimed through another of its
//   cases is unlinked and skipped. Returns nullptr if none.
//   Called from: G with P | G in a call | g0 (after()'s try_send) | foreign thread
//   Locks: holds the channel's lock
//   May switch: no
// remove(s): unlinks s if it is still queued (select pass 3); no-op otherwise.
//   Called from: G with P | G in a call | foreign thread (the select
//     itself, or teardown's abandon callback on run's thread)
//   Locks: holds the channel's lock
//   May switch: no
using sudog_queue = sudog_list<sudog>;

// The channel (Go's hchan). Every field except the header's atomics is
// guarded by lock. qcount is atomic only so that size() may peek without the
// lock; every access under the lock is relaxed, because the lock already
// orders it. The ring buffer follows the struct in the same allocation, at
// buf.
struct hchan : chan_header {
  hchan(const elem_ops* o, std::size_t cap, unsigned char* b) : chan_header(cap), ops(o), buf(b) {}

  // Lock order (spec/memory-model.md): two channels' locks are taken only by
  // select, in address order; any other lock (sched.lock, through ready) is
  // taken after the channel's is released.
  futex_lock lock;
  bool closed GORO_GUARDED_BY(lock) = false;
  std::size_t sendx GORO_GUARDED_BY(lock) = 0;  // next slot to fill
  std::size_t recvx GORO_GUARDED_BY(lock) = 0;  // next slot to take
  const elem_ops* ops;                          // fixed at creation
  unsigned char* buf;                           // fixed at creation; the slots are guarded by lock
  sudog_queue recvq GORO_GUARDED_BY(lock);      // parked receivers
  sudog_queue sendq GORO_GUARDED_BY(lock);      // parked senders

  void* slot(std::size_t i) const noexcept { return buf + i * ops->size; }
};

inline hchan* as_hchan(chan_header* c) noexcept { return static_cast<hchan*>(c); }

// Transfers, called with c->lock held and only when the operation can
// complete now (select.cpp uses them for its pass 1). Each unlocks through
// unlockf(arg), which releases c->lock (and, for select, every other lock
// held), then readies the waiter it completed, if any.
using unlock_fn = void (*)(void* arg) noexcept;
// A sender meets the parked receiver sg: moves *elem into sg's slot.
// Called from: G with P | G in a call | g0 (after()'s try_send) | foreign thread
// Locks: holds c->lock (a select: every case's lock); releases them all
//   through unlockf, then readies sg's waiter (ready(): may take sched.lock)
// May switch: no
void chan_send_direct(hchan* c, sudog* sg, void* elem, unlock_fn unlockf, void* arg) noexcept
    GORO_RELEASE(c->lock);
// A receiver meets the parked sender sg: takes the value (from the buffer
// head if buffered, the sender's value then going to the buffer tail).
// Called from: G with P | G in a call | foreign thread
// Locks: as chan_send_direct
// May switch: no
void chan_recv_direct(hchan* c, sudog* sg, void* slot, unlock_fn unlockf, void* arg) noexcept
    GORO_RELEASE(c->lock);
// Buffer operations (no waiter involved); the caller unlocks.
// Called from: G with P | G in a call | foreign thread, and g0 for put
//   (after()'s try_send)
// Locks: holds c->lock, and keeps it
// May switch: no
void chan_buf_put(hchan* c, void* elem) noexcept GORO_REQUIRES(c->lock);
void chan_buf_take(hchan* c, void* slot) noexcept GORO_REQUIRES(c->lock);

// Throws closed_channel for a send on a closed channel (Go's panic).
// Called from: G with P | G in a call | g0 (after()'s try_send, which
//   catches it) | foreign thread
// Locks: none held (callers release the channel locks first)
// May switch: no
[[noreturn]] void throw_send_closed();

}  // namespace goro::detail
