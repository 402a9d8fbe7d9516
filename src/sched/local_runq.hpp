// The per-P lock-free run queue, as Go's runtime/proc.go builds it, as a type
// (Go: p.runqhead, p.runqtail, p.runq, p.runnext). sched/runq.hpp holds the
// runtime's entry points (runqput, runqget, runqsteal, ...), which call it.
//
// Shape: a ring of N slots (256 in production, runq_capacity; 4 in the c11/
// check) indexed by free-running 32-bit counters head and tail (slot =
// counter % N), plus a one-G runnext slot. Only the owner (the M holding the
// P) writes tail and the slots; the owner and thieves advance head, always
// by CAS.
//
// Invariants (tla/RunQueue.tla: NoGLost, NoGTakenTwice, LenBounds):
//  I1  0 <= tail - head <= N at every instant (modular arithmetic).
//  I2  The Gs in slots [head, tail) are owned by the queue; a G leaves only
//      through a successful CAS of head (or of runnext) by exactly one taker,
//      so no G is taken twice and none is lost.
//  I3  A slot is rewritten by the owner only after head has moved past it,
//      and a taker's CAS fails if head moved since it read the slot, so a
//      taker that read an overwritten slot never keeps that value.
//
// Memory orders (summarized in spec/memory-model.md):
//  - Slots are atomic<G*> accessed relaxed: a thief may read a slot the owner
//    is overwriting (I3 discards such reads), which would be a data race on a
//    plain pointer. Visibility of the slot contents rides on tail.
//  - Owner: slot store (relaxed) then tail store-release. Thief: tail
//    load-acquire then slot loads. So a thief that sees tail t sees every
//    slot below t as written, and every write to the G itself made before
//    the put.
//  - Takers CAS head with release; everyone loads head with acquire. The
//    owner's acquire load of head before reusing a slot therefore
//    happens-after the taker's reads of that slot (they precede its release
//    CAS), so the owner never overwrites a slot a successful taker is still
//    reading (load buffering is excluded).
//  - runnext is exchanged with CAS (acq_rel): the G handed over carries the
//    writes made before it was put.
//
// Who may call what. The slots are private; each member belongs to a view:
//  owner view   put, putslow, get, take_next, try_put, steal_into (on the
//               thief's own queue: it writes the thief's slots and tail).
//               Only the M holding the P.
//  victim view  grab (through steal_into), empty, size: any M, any time.
//  stopped      for_each_stopped, drain_stopped, reset_stopped: nobody else
//               touches the queue (the world is stopped, the P is being
//               destroyed, or a test owns every thread).
//
// The rest of the scheduler enters only as template parameters, so the c11/
// check compiles this very source at capacity 4 under Relacy (issue 13):
//  G       the element; putslow's sink links the batch (G::schedlink in the
//          runtime, whatever the check likes there).
//  Sink    putslow's overflow: sink(batch, n) receives n Gs, oldest first,
//          after they have been claimed (the runtime's takes sched.lock and
//          appends them to the global queue).
//  Pause   grab's courtesy pause before stealing runnext.
//  O       the orders c11/ weakens (runq_orders below).
//  T       the trace hook (runq_untraced below): tests/runq_trace.cpp
//          records real runs through it for trace validation against
//          tla/RunQueue.tla (tla/RunQueueTrace.tla, issue 14).
// Atomics go through base/atomic.hpp: std::atomic here, rl::atomic there.
#pragma once
#include <cstdint>

#include "base/atomic.hpp"
#include "base/build_config.hpp"
#include "base/fatal.hpp"
#include "sched/chaos.hpp"

namespace goro::detail {

template <class G>
struct runq_take {
  G* gp = nullptr;
  bool inherit_time = false;  // came from runnext: keeps the current slice
};

// The orders c11/ weakens one step to show the check catches each (issue 13's
// weakening table); production uses exactly these. A c11 scenario derives a
// struct that overrides one of them and instantiates local_runq with it, so
// the weakened queue is this same source, compiled in the same check binary.
struct runq_orders {
  // put's store of tail: publishes the slot and the G's contents (I2).
  static constexpr std::memory_order put_tail = std::memory_order_release;
  // put-next's CAS of runnext: publishes the new G to a thief that takes it.
  // Release only: the G it displaces was put by this queue's owner, whose
  // writes to it happen-before ours already (spec/memory-model.md §12).
  static constexpr std::memory_order put_next = std::memory_order_release;
};

// The trace hook: production's records nothing. Every call site is under
// `if constexpr (T::on)`, so with this one the calls and their arguments
// vanish at compile time: no instruction, no extra access to the queue, no
// synchronization exists only in the traced build. A tracing T (the
// harness's) sets on = true and defines, all static, called by the thread
// that did the operation right after the atomic that decided it, with the
// counter values that atomic read or wrote (q is the queue operated on):
//   put(q, gp, tail)            put published tail (the new value)
//   put_next(q, gp, old)        put-next's CAS swapped gp in for old
//   putslow(q, h, n, batch, gp) putslow's CAS moved head h -> h+n
//   get_next(q, gp)             get's CAS took gp from runnext
//   get(q, h, h2, gp)           get's claim moved head h -> h2, taking gp
//   get_empty(q, h)             get found the ring empty at head = tail = h
//   grab(q, h, t, n, gs)        grab read head h, tail t and its CAS moved
//                               head h -> h+n, taking gs[0..n)
//   grab_next(q, h, t, gp)      grab read the ring empty (head h, tail t)
//                               and its CAS took gp from runnext
//   grab_none(q, h, t, next)    grab read the ring empty and found nothing
//                               (next: it looked at runnext)
struct runq_untraced {
  static constexpr bool on = false;
};

template <class G, std::uint32_t N, class O = runq_orders, class T = runq_untraced>
class local_runq {
  static_assert(N >= 2 && (N & (N - 1)) == 0, "runq capacity must be a power of two");
  static constexpr std::uint32_t mask = N - 1;

 public:
  static constexpr std::uint32_t capacity = N;

  local_runq() {
    // Production: zeroed, as before. Check build: left uninitialised, so
    // Relacy reports a read of a slot that was never written.
    if constexpr (!relacy_build)
      for (auto& s : slots_) s.store(nullptr, std::memory_order_relaxed);
  }
  local_runq(const local_runq&) = delete;
  local_runq& operator=(const local_runq&) = delete;

  // ---- owner view ----

  // Go's runqput. next: into runnext, kicking the old runnext to the tail.
  // A full ring moves half of it plus gp to sink (putslow).
  template <class Sink>
  void put(G* gp, bool next, Sink&& sink) {
    if (next) {
      // Swap gp into runnext; the G it displaces goes to the tail. release:
      // the new G's state is published to a thief that CASes it out. Only
      // the owner stores a G into runnext, so the displaced G's state is
      // ours already; a thief only ever stores nullptr, which carries
      // nothing we need (no acquire).
      G* old = runnext_.load(std::memory_order_relaxed);
      while (!runnext_.compare_exchange_weak(old, gp, O::put_next /* release */,
                                             std::memory_order_relaxed)) {
      }
      if constexpr (T::on) T::put_next(this, gp, old);
      GORO_CHAOS_POINT();
      if (old == nullptr) return;
      gp = old;
    }
    for (;;) {
      // acquire: synchronizes with takers' release CAS, so the slot we are
      // about to overwrite has been fully read by whoever took it (I3).
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);  // ours alone
      // MUTANT put_overwrites_full: a full ring (t - h == N) counts as having
      // room, so the put overwrites the oldest unconsumed slot.
      const std::uint32_t room = mutant_on(mutant_id::put_overwrites_full) ? N + 1 : N;
      if (t - h < room) {
        if (mutant_on(mutant_id::publish_tail_first)) {
          // MUTANT: publish the tail before the slot holds gp; a thief can
          // take a stale slot.
          tail_.store(t + 1, std::memory_order_release);
          GORO_CHAOS_POINT();
          slots_[t & mask].store(gp, std::memory_order_relaxed);
        } else {
          slots_[t & mask].store(gp, std::memory_order_relaxed);
          GORO_CHAOS_POINT();
          // release: the slot (and gp's contents) before the new tail (I2).
          tail_.store(t + 1, O::put_tail /* release */);
        }
        if constexpr (T::on) T::put(this, gp, t + 1);
        GORO_CHAOS_POINT();
        return;
      }
      if (putslow(gp, h, t, sink)) return;
      // A thief took some Gs meanwhile: the ring is no longer full; retry.
    }
  }

  // Go's runqputslow: moves the oldest half of a full ring (h, t as put read
  // them) plus gp to sink in one batch. Returns false if a thief moved head
  // first (the caller retries). Cold: once per N/2 puts at most, when a P
  // makes Gs faster than it and the thieves run them.
  template <class Sink>
  [[gnu::cold]] [[gnu::noinline]] bool putslow(G* gp, std::uint32_t h, std::uint32_t t,
                                               Sink&& sink) {
    constexpr std::uint32_t half = N / 2;
    G* batch[half + 1];
    std::uint32_t n = (t - h) / 2;
    GORO_INVARIANT(n == half, "runqputslow: queue not full (len %u)", t - h);
    for (std::uint32_t i = 0; i < n; i++)
      batch[i] = slots_[(h + i) & mask].load(std::memory_order_relaxed);
    GORO_CHAOS_POINT();
    // release: the reads above come before the claim (I3). On failure a
    // thief won some of these Gs; our copies are stale and discarded.
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                       std::memory_order_relaxed))
      return false;
    if constexpr (T::on) T::putslow(this, h, n, batch, gp);
    batch[n] = gp;
    sink(batch, n + 1);
    return true;
  }

  // Go's runqget: runnext first, then the head of the ring.
  runq_take<G> get() {
    // runnext first: it inherits the current time slice. Only the owner and
    // thieves (which take runnext only when the ring is empty) clear it.
    // relaxed: only the owner stores a G into runnext, so the G's state
    // happens-before this already (our own put, or the P's hand-over to us
    // after it); the CAS only decides between us and a thief, and the
    // nullptr we leave publishes nothing (spec/memory-model.md §12).
    G* next = runnext_.load(std::memory_order_relaxed);
    if (next != nullptr) GORO_CHAOS_POINT();
    if (next != nullptr &&
        runnext_.compare_exchange_strong(next, nullptr, std::memory_order_relaxed,
                                         std::memory_order_relaxed)) {
      if constexpr (T::on) T::get_next(this, next);
      return {next, true};
    }
    for (;;) {
      // acquire: synchronize with other takers (see the header comment).
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);  // ours alone
      if (t == h) {
        if constexpr (T::on) T::get_empty(this, h);
        return {};
      }
      G* gp = slots_[h & mask].load(std::memory_order_relaxed);
      GORO_CHAOS_POINT();
      if (mutant_on(mutant_id::get_plain_store)) {
        // MUTANT: the owner claims with a plain store, as if it were the
        // only taker; a thief that claimed the same slot meanwhile also
        // keeps it.
        head_.store(h + 1, std::memory_order_release);
        if constexpr (T::on) T::get(this, h, h + 1, gp);
        return {gp, false};
      }
      // MUTANT get_keeps_head: the claim "succeeds" without moving head, so
      // the same G is handed out again.
      const std::uint32_t step = mutant_on(mutant_id::get_keeps_head) ? 0 : 1;
      // release: our read of the slot precedes the claim (I3).
      if (head_.compare_exchange_strong(h, h + step, std::memory_order_release,
                                        std::memory_order_relaxed)) {
        if constexpr (T::on) T::get(this, h, h + step, gp);
        return {gp, false};
      }
    }
  }

  // Empties runnext (a G that must not inherit the slice goes to the tail
  // instead: gopark under a preemption request). relaxed: as get's CAS of
  // runnext, which thieves race: atomicity decides the race, and the G's
  // state is the owner's already.
  G* take_next() { return runnext_.exchange(nullptr, std::memory_order_relaxed); }

  // Appends gp if the ring has room, without ever overflowing (globrunqget
  // refills under sched.lock, where putslow's sink could not take it again).
  bool try_put(G* gp) {
    // acquire, relaxed: as in put.
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);  // ours alone
    if (t - h >= N) return false;
    slots_[t & mask].store(gp, std::memory_order_relaxed);
    // release: the slot before the new tail, as in put.
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // Go's runqsteal, on the thief's own queue, which must be empty (findrunnable
  // steals only after get found nothing): grabs half of victim's queue into
  // our ring and returns one of them to run; *stolen counts what was taken.
  template <class Pause>
  G* steal_into(local_runq& victim, bool steal_runnext, Pause&& pause,
                std::uint32_t* stolen = nullptr) {
    std::uint32_t t = tail_.load(std::memory_order_relaxed);  // ours alone
    std::uint32_t n = victim.grab(*this, t, steal_runnext, pause);
    if (stolen) *stolen = n;
    if (n == 0) return nullptr;
    n--;
    G* gp = slots_[(t + n) & mask].load(std::memory_order_relaxed);
    if (n == 0) return gp;
    // relaxed: this head read only checks for overflow. Our slot writes in
    // grab are already ordered after every earlier taker's reads of those
    // slots, by the acquire head load of the get or empty() that found our
    // ring empty before we stole (spec/memory-model.md §12).
    std::uint32_t h = head_.load(std::memory_order_relaxed);
    if (t - h + n >= N) fatal("runqsteal: runq overflow");
    GORO_CHAOS_POINT();
    // release: the copied slots before the new tail, as in put.
    tail_.store(t + n, std::memory_order_release);
    return gp;
  }

  // ---- victim view: any M ----

  // Go's runqgrab: copies half of our queue into into's slots from
  // into_tail on (mod N) and claims them with a CAS on head. With
  // steal_runnext and an empty ring, takes runnext instead, after pause().
  // Returns how many Gs it copied; into's tail is the caller's to publish.
  template <class Pause>
  std::uint32_t grab(local_runq& into, std::uint32_t into_tail, bool steal_runnext, Pause&& pause) {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      GORO_CHAOS_POINT();
      // acquire: pairs with the owner's release store of tail, so every slot
      // below t is visible (I2).
      std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      if (mutant_on(mutant_id::steal_half_plus_one))
        n = n == 0 ? 0 : n / 2 + 1;  // MUTANT: one more than half when even
      else n = n - n / 2;
      if (n == 0) {
        if (steal_runnext) {
          G* next = runnext_.load(std::memory_order_relaxed);
          if (next != nullptr) {
            // The owner is probably about to run its runnext itself (a G it
            // just readied); pause() gives it a moment first, as Go does, so
            // a ping-pong pair is not torn apart on every exchange.
            pause();
            GORO_CHAOS_POINT();
            // acquire: pairs with put-next's release, so the G's state is
            // visible to us. No release: the nullptr we leave carries
            // nothing the owner needs (spec/memory-model.md §12).
            if (!runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acquire,
                                                  std::memory_order_relaxed))
              continue;
            into.slots_[into_tail & mask].store(next, std::memory_order_relaxed);
            if constexpr (T::on) T::grab_next(this, h, t, next);
            return 1;
          }
        }
        if constexpr (T::on) T::grab_none(this, h, t, steal_runnext);
        return 0;
      }
      // h and t were read at different times; a length above half the
      // capacity can only be such a torn read (I1 bounds a real one at N,
      // and we take half). Read again.
      if (n > N / 2) continue;
      for (std::uint32_t i = 0; i < n; i++) {
        G* gp = slots_[(h + i) & mask].load(std::memory_order_relaxed);
        into.slots_[(into_tail + i) & mask].store(gp, std::memory_order_relaxed);
      }
      GORO_CHAOS_POINT();
      if (mutant_on(mutant_id::steal_plain_store)) {
        // MUTANT: claim with a plain store; two takers can both "win" the
        // same Gs.
        head_.store(h + n, std::memory_order_release);
        if constexpr (T::on) trace_grab(into, into_tail, h, t, n);
        return n;
      }
      // release: the slot reads precede the claim (I3); a failed CAS means the
      // owner or another thief moved head, and our copies are discarded.
      if (head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                        std::memory_order_relaxed)) {
        if constexpr (T::on) trace_grab(into, into_tail, h, t, n);
        return n;
      }
    }
  }

  // Go's runqempty: true if nothing is queued (a consistent snapshot).
  // relaxed: the answer is only ever a question's answer, never a licence to
  // read a G. The spinning re-check reads it after a seq_cst fence, which
  // (not these loads) makes the submitter's tail store visible (§3); every
  // other caller either holds a happens-before edge to the puts it must see
  // (handoffp, through the P's hand-over) or acts on a hint (sysmon, the
  // mutex spin). Whoever then takes a G does so through get or grab, whose
  // own acquire loads carry its state (spec/memory-model.md §12).
  bool empty(std::memory_order mo = std::memory_order_relaxed) const {
    // Reading head, tail and runnext is not atomic as a whole. A G can move
    // from runnext into the ring (put kicking it out) between the reads, so
    // retry until tail is unchanged across them: then head==tail &&
    // runnext==nullptr was true at the moment of the second tail read.
    for (;;) {
      std::uint32_t h = head_.load(mo);
      std::uint32_t t = tail_.load(mo);
      G* next = runnext_.load(mo);
      if (t == tail_.load(mo)) return h == t && next == nullptr;
    }
  }

  // Go's runqlen: the ring's length (runnext not counted); racy, so a torn
  // read above N reads as 0.
  // relaxed: a length is a hint (sysmon, schedtrace), as empty()'s answer.
  std::uint32_t size() const {
    std::uint32_t h = head_.load(std::memory_order_relaxed);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    std::uint32_t n = t - h;
    return n > N ? 0 : n;
  }

  // ---- stopped world: nobody else touches the queue ----

  // Calls f(gp, is_runnext) for every queued G, ring head first, then
  // runnext. Returns tail - head; if that breaks I1 (LenBounds), visits no
  // ring slot, so the caller can report the length instead of walking 2^32
  // slots. Relaxed, as drain_stopped: the stop of the world orders it after
  // the owner's last access, and its caller (the auditor) must add no
  // synchronization the shipped program lacks.
  template <class F>
  std::uint32_t for_each_stopped(F&& f) const {
    std::uint32_t h = head_.load(std::memory_order_relaxed);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h <= N)
      for (std::uint32_t i = h; i != t; i++)
        f(slots_[i & mask].load(std::memory_order_relaxed), false);
    if (G* nx = runnext_.load(std::memory_order_relaxed)) f(nx, true);
    return t - h;
  }

  // Empties the queue, calling f(gp, is_runnext) for each G in reverse order,
  // tail first and runnext last, so pushing each on the head of another queue
  // keeps their order (destroy_p_locked). Relaxed: the caller's stop of the
  // world (sched.lock) orders it after the owner's last access.
  template <class F>
  void drain_stopped(F&& f) {
    std::uint32_t h = head_.load(std::memory_order_relaxed);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    while (t != h) {
      t--;
      f(slots_[t & mask].load(std::memory_order_relaxed), false);
    }
    tail_.store(t, std::memory_order_relaxed);
    if (G* next = runnext_.exchange(nullptr, std::memory_order_relaxed)) f(next, true);
  }

  // Starts an empty queue with both counters at start (tests start them
  // near the 2^32 wrap-around). Before any other thread sees the queue.
  void reset_stopped(std::uint32_t start) {
    head_.store(start, std::memory_order_relaxed);
    tail_.store(start, std::memory_order_relaxed);
  }

 private:
  // T::grab with the Gs this grab copied, read back from into's slots: this
  // thread wrote them, so reading them adds no ordering. Traced builds only.
  void trace_grab(local_runq& into, std::uint32_t into_tail, std::uint32_t h, std::uint32_t t,
                  std::uint32_t n) {
    G* gs[N];
    for (std::uint32_t i = 0; i < n; i++)
      gs[i] = into.slots_[(into_tail + i) & mask].load(std::memory_order_relaxed);
    T::grab(this, h, t, n, gs);
  }

  atomic<std::uint32_t> head_{0};
  atomic<std::uint32_t> tail_{0};
  atomic<G*> runnext_{nullptr};
  atomic<G*> slots_[N];
};

}  // namespace goro::detail
