// goro::mutex: Go's sync.Mutex (sync/mutex.go) on goro's park/ready core.
//
// state_ = waiters << 3 | starving | woken | locked, changed only by atomic
// RMW. The invariants (spec/channels.md, "Mutex"):
//   M1  waiters counts the lockers that have committed to sleeping on the
//       semaphore (incremented by the CAS that decides to sleep) and not yet
//       been released from it (decremented by the unlock that wakes one, or
//       by a starving hand-off's receiver).
//   M2  every sema_release is paired with one waiter taken off the count, so
//       the semaphore's count plus its queued waiters never exceeds the
//       waiters that went to sleep: no wake-up is invented, and none is lost
//       (a release before its sleeper parks leaves a count the sleeper takes).
//   M3  woken is set by at most one goroutine at a time: the waiter that an
//       unlock woke, or a spinner that claimed it; only that goroutine
//       clears it (in its next CAS). While it is set, unlock wakes nobody.
//   M4  in starvation mode, locked is never set by a newcomer: ownership
//       passes from unlock to the head waiter through the semaphore, and
//       that waiter sets locked itself.
#include "goro/mutex.hpp"

#include <chrono>
#include <thread>

#include "goro/goro.hpp"
#include "sched/proc.hpp"
#include "sync/park.hpp"

namespace goro {

namespace {

constexpr std::int64_t starvation_threshold_ns = 1'000'000;  // 1 ms, as Go
constexpr int active_spin = 4;       // spin rounds before sleeping (Go: active_spin)
constexpr int active_spin_cnt = 30;  // pauses per round

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Go's sync_runtime_canSpin: spinning is worth it only on a multicore
// machine, for a goroutine, when some other P is running (and may unlock
// soon) and this P has nothing else to run. All reads are hints.
bool can_spin(int iter) {
  using namespace detail;
  static const unsigned ncpu = std::thread::hardware_concurrency();
  if (iter >= active_spin || ncpu <= 1) return false;
  m* mp = getm();
  if (!mp || !mp->curg || !mp->p_) return false;
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
  return mp && mp->p_ && mp->curg;
}

void waitq_push_front(detail::wait_list& q, detail::waiter* w) {
  w->next = q.head;
  q.head = w;
  if (!q.tail) q.tail = w;
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
      for (int i = 0; i < active_spin_cnt; i++) cpu_relax();
      iter++;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t want = old;
    // Normal mode: try to take it. Starvation mode: never (M4).
    if (!(old & starving_bit)) want |= locked_bit;
    // Held or promised: we will sleep, so count ourselves (M1).
    if (old & (locked_bit | starving_bit)) want += 1 << waiter_shift;
    // We have starved: switch to starvation mode, but only while it is held
    // (if it is free, the unlock that would honour it may never come).
    if (starving && (old & locked_bit)) want |= starving_bit;
    if (awoke) {
      if (!(want & woken_bit)) detail::fatal("goro::mutex: inconsistent state (woken flag lost)");
      want &= ~woken_bit;
    }
    // acq_rel on success: acquire when this CAS takes the lock; release
    // orders nothing we need but costs nothing extra on x86.
    if (!state_.compare_exchange_weak(old, want, std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
      continue;
    if (!(old & (locked_bit | starving_bit))) return;  // taken by our CAS
    // Sleep. A waiter that has slept before goes back to the front of the
    // queue (LIFO), so that it keeps its turn.
    bool requeue = wait_start != 0;
    if (!requeue) wait_start = now_ns();
    sema_acquire(requeue);
    starving = starving || now_ns() - wait_start > starvation_threshold_ns;
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

// Keeps M1-M3: wakes a sleeper only if there is one and nobody is awake to
// take the lock already.
void mutex::unlock_slow(std::int32_t now) {
  if (((now + locked_bit) & locked_bit) == 0)
    detail::fatal("goro::mutex: unlock of unlocked mutex");
  if (now & starving_bit) {
    // Hand ownership to the head waiter (M4) and let it run at once: it is
    // in our runnext, so yielding runs it next (Go's goyield).
    if (sema_release() && on_p()) yield();
    return;
  }
  std::int32_t old = now;
  for (;;) {
    // No sleeper, or someone already locked it, is awake, or the mode
    // switched to starvation (then the new owner is the head waiter).
    if ((old >> waiter_shift) == 0 || (old & (locked_bit | woken_bit | starving_bit))) return;
    // Take one sleeper off the count and mark it woken, then wake it (M2).
    // relaxed: the critical section was already released by unlock's
    // fetch_sub, and the woken waiter gets it again through the semaphore.
    if (state_.compare_exchange_weak(old, (old - (1 << waiter_shift)) | woken_bit,
                                     std::memory_order_relaxed, std::memory_order_relaxed)) {
      sema_release();
      return;
    }
  }
}

void mutex::sema_acquire(bool lifo) {
  sema_lock_.lock();
  if (sema_count_ > 0) {
    sema_count_--;
    sema_lock_.unlock();
    return;
  }
  detail::waiter w;
  detail::waiter_init(w);
  if (lifo) waitq_push_front(sema_q_, &w);
  else detail::waitq_push(sema_q_, &w);
  // Abandoned here (park.hpp, waiter_on_abandon): leave the queue, and the
  // waiter count if we are still in it (M1). If the count is already zero,
  // an unlock has taken a sleeper off it and its sema_release is still to
  // come; finding nobody, that release leaves a unit that the next sleeper
  // takes, with the woken flag the unlock set (M2, M3 hold as for a release
  // that beats its sleeper). Readied but never run: the unlock that woke us
  // handed us the woken flag (normal mode, M3) or the mutex itself
  // (starvation mode, M4); give it back as we would have on resuming.
  struct link {
    mutex* mu;
    detail::waiter* w;
  } ln{this, &w};
  detail::waiter_on_abandon(
      w,
      [](void* arg, bool readied) noexcept {
        auto* l = static_cast<link*>(arg);
        mutex* mu = l->mu;
        if (readied) {
          std::int32_t old = mu->state_.load(std::memory_order_relaxed);
          if (old & starving_bit) {
            // Take it as lock_slow's hand-off does, ending starvation mode
            // (we never ran, so we did not starve), then unlock: the next
            // sleeper, if any (only live threads' waiters are left), gets it.
            // acq_rel: as lock_slow's hand-off.
            mu->state_.fetch_add(locked_bit - (1 << waiter_shift) - starving_bit,
                                 std::memory_order_acq_rel);
            mu->unlock();
          } else {
            // Only the owner of woken clears it (M3): we own it. Then do what
            // our competing would have led to: if it is free, an unlock wakes
            // a sleeper the flag held back. relaxed: publishes nothing.
            mu->state_.fetch_and(~woken_bit, std::memory_order_relaxed);
            if (mu->try_lock()) mu->unlock();
          }
          return true;
        }
        mu->sema_lock_.lock();
        bool found = detail::waitq_remove(mu->sema_q_, l->w);
        if (found) {
          // relaxed: a count change publishes nothing (as unlock_slow's CAS).
          std::int32_t old = mu->state_.load(std::memory_order_relaxed);
          while ((old >> waiter_shift) > 0 &&
                 !mu->state_.compare_exchange_weak(old, old - (1 << waiter_shift),
                                                   std::memory_order_relaxed,
                                                   std::memory_order_relaxed)) {
          }
        }
        mu->sema_lock_.unlock();
        return found;
      },
      &ln);
  detail::park_unlock(w, sema_lock_, detail::wait_reason::sync_mutex_lock);
  // sema_release handed its unit to us directly.
}

bool mutex::sema_release() {
  detail::nopreempt np;  // as in lock_slow
  sema_lock_.lock();
  detail::waiter* w = detail::waitq_pop(sema_q_);
  if (!w) sema_count_++;  // its sleeper has not parked yet (M2)
  sema_lock_.unlock();
  if (w) detail::ready(w);
  return w != nullptr;
}

}  // namespace goro
