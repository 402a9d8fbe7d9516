// goro::mutex: Go's sync.Mutex (sync/mutex.go) on goro's park/ready core.
//
// state_ = waiters << 3 | starving | woken | locked, changed only by atomic
// RMW. The sleepers are not in the mutex: they wait in a process-wide table
// of buckets keyed by the mutex's address (Go's semtable), so that unlock's
// releasing RMW is its last access to *this ([thread.mutex.class]: another
// thread may lock, unlock and destroy the mutex as soon as that RMW is done)
// and the wake that follows uses the address only as a key. The invariants
// (spec/channels.md, "Mutex"):
//   M1  waiters counts the lockers queued in the table under this mutex's
//       address, less the normal-mode wakes in flight (decided, not yet
//       dequeued), plus the starvation hand-off receivers not yet in their
//       final CAS. A locker is counted and queued in one step: its counting
//       CAS runs with the bucket's lock held, and it is queued before that
//       lock is released (and released only after its park committed).
//   M2  a wake is decided only by unlock's releasing RMW, and only when that
//       RMW saw a counted sleeper (normal mode: it takes one off the count and
//       sets woken; starvation mode: the receiver leaves the count itself).
//       By M1 that sleeper is queued by the time the waker gets the bucket
//       lock, so every wake dequeues a waiter that is present: none is lost,
//       none is invented, and no token is ever left behind.
//   M3  woken is set by at most one goroutine at a time: the waiter that an
//       unlock woke, or a spinner that claimed it; only that goroutine
//       clears it (in its next CAS). While it is set, unlock wakes nobody.
//   M4  in starvation mode, locked is never set by a newcomer: ownership
//       passes from unlock to the head waiter through the table, and that
//       waiter sets locked itself.
//   M5  unlock touches *this only up to its releasing RMW. While a wake is in
//       flight, the waiter it will take is still inside lock(), so in a
//       correct program the mutex is alive and its address names it; a wake
//       that found nobody (impossible by M2) would do nothing, so even a
//       stale address could not invent a wake-up for a newer object there.
#include "goro/mutex.hpp"

#include <cstdint>
#include <thread>

#include "base/cpu_relax.hpp"
#include "goro/goro.hpp"
#include "sched/proc.hpp"
#include "sync/park.hpp"
#include "time/timer.hpp"

namespace goro {

namespace {

constexpr std::int64_t starvation_threshold_ns = 1'000'000;  // 1 ms, as Go
constexpr int active_spin = 4;       // spin rounds before sleeping (Go: active_spin)
constexpr int active_spin_cnt = 30;  // pauses per round

// Go's sync_runtime_canSpin: spinning is worth it only on a multicore
// machine, for a goroutine, when some other P is running (and may unlock
// soon) and this P has nothing else to run. All reads are hints.
bool can_spin(int iter) {
  using namespace detail;
  static const unsigned ncpu = std::thread::hardware_concurrency();
  if (iter >= active_spin || ncpu <= 1) return false;
  m* mp = getm();
  if (!mp || !mp->curg.load(std::memory_order_relaxed) || !mp->p_) return false;
  runtime& rt = *mp->rt;
  // relaxed: heuristics (memory-model.md §2); a stale value costs one spin
  // round or one early sleep.
  auto procs = static_cast<std::int32_t>(rt.gomaxprocs.load(std::memory_order_relaxed));
  if (procs <= rt.sched.npidle.load(std::memory_order_relaxed) +
                   rt.sched.nmspinning.load(std::memory_order_relaxed) + 1)
    return false;
  return runqempty(mp->p_);
}

// True for a goroutine that holds a P (not a foreign thread, and not a
// goroutine inside blocking()): only then can it yield to the one it woke.
bool on_p() {
  detail::nopreempt np;
  detail::m* mp = detail::getm();
  return mp && mp->p_ && mp->curg.load(std::memory_order_relaxed);
}

// The semaphore table (Go's semtable): sleepers of every mutex, in buckets
// chosen by the mutex's address. Each waiter's elem holds the address it
// sleeps on; a bucket's list is FIFO per address, except that a waiter going
// back to sleep is pushed at the front (LIFO: it keeps its turn).
constexpr std::size_t sema_buckets = 251;  // prime, as Go's semTabSize

struct alignas(64) sema_bucket {
  detail::futex_lock lock;
  detail::wait_list q GORO_GUARDED_BY(lock);
};

sema_bucket sema_table[sema_buckets];

sema_bucket& bucket_for(const void* addr) {
  return sema_table[(reinterpret_cast<std::uintptr_t>(addr) >> 3) % sema_buckets];
}

// lock_slow locks the bucket only when it will sleep (b non-null); the
// analysis does not follow a lock taken under a condition, so these two are
// not analysed and lock_slow asserts the lock once it knows it sleeps.
void lock_if(sema_bucket* b) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  if (b) b->lock.lock();
}
void unlock_if(sema_bucket* b) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  if (b) b->lock.unlock();
}

void waitq_push_front(detail::wait_list& q, detail::waiter* w) {
  w->next = q.head;
  q.head = w;
  if (!q.tail) q.tail = w;
}

// Takes the first waiter queued under addr out of q, or returns null.
detail::waiter* waitq_take(detail::wait_list& q, const void* addr) {
  return detail::waitq_remove_first_if(q, [addr](detail::waiter* w) { return w->elem == addr; });
}

// Go's semrelease, without the count: wakes the first sleeper queued under
// addr (M2 says there is one). Uses addr only as a key (M5).
bool sema_wake(const void* addr) {
  detail::nopreempt np;  // the bucket lock must not be held by a preempted G
  sema_bucket& b = bucket_for(addr);
  b.lock.lock();
  detail::waiter* w = waitq_take(b.q, addr);
  b.lock.unlock();
  if (w) detail::ready(w);
  return w != nullptr;
}

}  // namespace

// Keeps M4: never takes a lock that starvation mode has promised to the head
// waiter, and never counts itself as a waiter (it does not sleep).
bool mutex::try_lock() noexcept {
  // relaxed load: only a hint for the CAS, which decides.
  std::int32_t old = state_.load(std::memory_order_relaxed);
  if (old & (locked_bit | starving_bit)) return false;
  // acquire on success: as in lock().
  return state_.compare_exchange_strong(old, old | locked_bit, std::memory_order_acquire,
                                        std::memory_order_relaxed);
}

// Keeps M1-M4. Each trip round the loop computes the state we want from the
// state we saw and installs it with one CAS; a failed CAS reloads and retries.
void mutex::lock_slow() {
  detail::honour_preempt();  // before the nopreempt region (park.hpp)
  // can_spin reads the M and P, and the semaphore's lock must not be held
  // by a preempted goroutine (chan.cpp, "Preemption").
  detail::nopreempt np;
  std::int64_t wait_start = 0;  // when we first went to sleep; 0: not yet
  bool starving = false;        // we have waited longer than the threshold
  bool awoke = false;           // we own the woken flag (M3)
  int iter = 0;
  // relaxed loads and failure orders: the CAS below decides; only a CAS
  // that takes the lock needs acquire.
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Held in normal mode: spin a little if it may be released soon.
    if ((old & (locked_bit | starving_bit)) == locked_bit && can_spin(iter)) {
      // Claim woken so that unlock does not wake a sleeper who would only
      // lose to us (M3). relaxed: claiming the flag takes no lock and
      // publishes nothing; only its atomicity matters (one owner).
      if (!awoke && !(old & woken_bit) && (old >> waiter_shift) != 0 &&
          state_.compare_exchange_strong(old, old | woken_bit, std::memory_order_relaxed,
                                         std::memory_order_relaxed))
        awoke = true;
      for (int i = 0; i < active_spin_cnt; i++) detail::cpu_relax();
      iter++;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t want = old;
    // Normal mode: try to take it. Starvation mode: never (M4).
    if (!(old & starving_bit)) want |= locked_bit;
    // Held or promised: we will sleep, so count ourselves (M1, below).
    if (old & (locked_bit | starving_bit)) want += 1 << waiter_shift;
    // We have starved: switch to starvation mode, but only while it is held
    // (if it is free, the unlock that would honour it may never come).
    if (starving && (old & locked_bit)) want |= starving_bit;
    if (awoke) {
      if (!(want & woken_bit)) detail::fatal("goro::mutex: inconsistent state (woken flag lost)");
      want &= ~woken_bit;
    }
    // Held or promised: we will sleep. Count ourselves and queue ourselves
    // in one step (M1): the CAS runs with the bucket locked, and the lock is
    // released only after the park has committed, so the unlock that counts
    // on us finds us queued.
    bool sleep = (old & (locked_bit | starving_bit)) != 0;
    sema_bucket* b = sleep ? &bucket_for(this) : nullptr;
    lock_if(b);
    // acq_rel on success: acquire when this CAS takes the lock (pairs with
    // unlock's release RMW); release orders nothing we need but costs
    // nothing extra on x86.
    if (!state_.compare_exchange_weak(old, want, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
      unlock_if(b);
      continue;
    }
    if (!sleep) return;     // taken by our CAS
    b->lock.assert_held();  // sleep: locked by lock_if above
    // Sleep. A waiter that has slept before goes back to the front of the
    // queue (LIFO), so that it keeps its turn.
    bool requeue = wait_start != 0;
    if (!requeue) wait_start = detail::nanotime();
    detail::waiter w;
    detail::waiter_init(w);
    w.elem = this;  // the key sema_wake looks for
    if (requeue) waitq_push_front(b->q, &w);
    else detail::waitq_push(b->q, &w);
    // Abandoned here (park.hpp, waiter_on_abandon): leave the bucket, and
    // the waiter count if we are still queued (M1: queued and counted go
    // together, both changed under the bucket lock). Readied but never run:
    // the unlock that woke us handed us the woken flag (normal mode, M3) or
    // the mutex itself (starvation mode, M4); give it back as we would have
    // on resuming.
    struct link {
      mutex* mu;
      detail::waiter* w;
      sema_bucket* b;
    } ln{this, &w, b};
    detail::waiter_on_abandon(
        w,
        [](void* arg, bool readied) noexcept {
          auto* l = static_cast<link*>(arg);
          mutex* mu = l->mu;
          if (readied) {
            std::int32_t cur = mu->state_.load(std::memory_order_relaxed);
            if (cur & starving_bit) {
              // Take it as the hand-off below does, ending starvation mode
              // (we never ran, so we did not starve), then unlock: the next
              // sleeper, if any (only live threads' waiters are left), gets
              // it. acq_rel: as the hand-off's RMW.
              mu->state_.fetch_add(locked_bit - (1 << waiter_shift) - starving_bit,
                                   std::memory_order_acq_rel);
              mu->unlock();
            } else {
              // Only the owner of woken clears it (M3): we own it. Then do
              // what our competing would have led to: if it is free, an
              // unlock wakes a sleeper the flag held back. relaxed: the flag
              // publishes nothing.
              mu->state_.fetch_and(~woken_bit, std::memory_order_relaxed);
              if (mu->try_lock()) mu->unlock();
            }
            return true;
          }
          l->b->lock.lock();
          bool found = detail::waitq_remove(l->b->q, l->w);
          if (found) {
            // relaxed: a count change publishes nothing (as unlock_slow's CAS).
            std::int32_t cur = mu->state_.load(std::memory_order_relaxed);
            while ((cur >> waiter_shift) > 0 &&
                   !mu->state_.compare_exchange_weak(cur, cur - (1 << waiter_shift),
                                                     std::memory_order_relaxed,
                                                     std::memory_order_relaxed)) {
            }
          }
          l->b->lock.unlock();
          return found;
        },
        &ln);
    detail::park_unlock(w, b->lock, detail::wait_reason::sync_mutex_lock);
    // Dequeued by an unlock's sema_wake; what the previous owner wrote
    // reached us through its release RMW and ready()'s own ordering.
    starving = starving || detail::nanotime() - wait_start > starvation_threshold_ns;
    old = state_.load(std::memory_order_relaxed);
    if (old & starving_bit) {
      // Handed to us (M4): locked is clear and we are still counted. Take
      // it, leave the count, and end starvation mode if we are the last
      // waiter or did not starve ourselves.
      if ((old & (locked_bit | woken_bit)) || (old >> waiter_shift) == 0)
        detail::fatal("goro::mutex: inconsistent state in starvation hand-off");
      std::int32_t delta = locked_bit - (1 << waiter_shift);
      if (!starving || (old >> waiter_shift) == 1) delta -= starving_bit;
      // acq_rel: as the CAS above; the previous owner's writes also reached
      // us through the semaphore's wake-up.
      state_.fetch_add(delta, std::memory_order_acq_rel);
      return;
    }
    // Woken in normal mode: compete again, owning woken (the unlocker set it).
    awoke = true;
    iter = 0;
  }
}

// Keeps M1-M5. One CAS both releases the lock and decides whether to wake
// (M2), so nothing of *this is touched after the release (M5); a failed CAS
// only reloads. Wakes a sleeper only if there is one and nobody is awake to
// take the lock already (M3); in starvation mode hands it to the head waiter.
void mutex::unlock_slow(std::int32_t old) {
  for (;;) {
    if (!(old & locked_bit)) detail::fatal("goro::mutex: unlock of unlocked mutex");
    std::int32_t want = old - locked_bit;
    bool handoff = (old & starving_bit) != 0;
    // Normal mode: wake one if someone sleeps and nobody is awake (M3);
    // take it off the count and mark it woken in the same RMW.
    bool wake = !handoff && (old >> waiter_shift) != 0 && !(old & woken_bit);
    if (wake) want = (want - (1 << waiter_shift)) | woken_bit;
    // release: publishes the critical section to the next owner, who
    // acquires through its own CAS (or, after a hand-off, through its
    // final RMW, which reads this value). relaxed on failure: we only retry.
    if (!state_.compare_exchange_weak(old, want, std::memory_order_release,
                                      std::memory_order_relaxed))
      continue;
    // From here on only the address: the mutex may be gone (M5).
    const void* addr = this;
    if (handoff) {
      // Hand ownership to the head waiter (M4) and let it run at once: it
      // is in our runnext, so yielding runs it next (Go's goyield).
      if (sema_wake(addr) && on_p()) yield();
    } else if (wake) {
      sema_wake(addr);
    }
    detail::honour_preempt();  // uses nothing of *this (park.hpp)
    return;
  }
}

}  // namespace goro
