// goro internals: the lock and waiter list behind every parking primitive.
// Not public API; public types embed these so they need no allocation.
#pragma once
#include <atomic>
#include <cstdint>
#include <type_traits>

#include "goro/detail/sanitizer.hpp"
#include "goro/detail/thread_annotations.hpp"

namespace goro::detail {

// A small futex lock (0 free, 1 locked, 2 locked with sleepers) that spins
// briefly first. It protects wait queues, which are held for a few dozen
// instructions, so the spin usually wins; the futex keeps a descheduled holder
// from burning the other core (there are more Ps than cores in tests).
// Runtime locks held by the calling thread (Go's m.locks): while it is not
// zero the thread's goroutine is never preempted asynchronously, so a lock
// holder cannot be parked behind the goroutines spinning for its lock.
// Counted per thread, not per goroutine: a lock taken by a goroutine is
// released on the same thread (gopark releases it from the next context,
// before that thread runs anything else). Out of line on purpose: inlined,
// the compiler could keep the thread-local's address across a switch that
// moved the goroutine to another thread.
void lock_depth_add(int delta) noexcept;

// A capability for clang's thread-safety analysis (-Wthread-safety): fields
// it guards are GORO_GUARDED_BY(lock) and functions that need it held are
// GORO_REQUIRES(lock), so clang rejects an access without it. It also tells
// TSan it is a mutex (goro/detail/sanitizer.hpp), so TSan checks lock order.
//
// Handed across a context switch: gopark's post-switch step releases a lock
// the parking goroutine took, on the next context (g0) of the same thread.
// Neither the analysis (one function at a time) nor TSan (one owner per
// fiber) can follow that, so such a lock is released in two halves:
// release_before_switch on the goroutine's stack, which tells both that
// this context no longer holds it, and unlock_after_switch on g0, which
// frees it (park.cpp, timer.cpp's sleep, select's selunlock_step).
class GORO_CAPABILITY("mutex") futex_lock {
 public:
  // Constant-initialized when static (no TSan creation event then: TSan
  // meets such a lock at its first use, as a lock linked into the program).
  constexpr futex_lock() noexcept {
    if (!std::is_constant_evaluated()) tsan_mutex_create(this);
  }
  // Trivially destructible, TSan or not: a static lock may still be taken by
  // an abandoned M after static destruction begins (a destructor calling
  // __tsan_mutex_destroy raced with it). TSan forgets a lock whose heap
  // memory is freed; the locks on goroutine stacks, which are reused without
  // being freed, are leaves (a wait_group's), so a lock later placed at the
  // same address inherits no lock-order edge from them.
  futex_lock(const futex_lock&) = delete;
  futex_lock& operator=(const futex_lock&) = delete;

  void lock() noexcept GORO_ACQUIRE() {
    lock_depth_add(1);  // before taking it: no preemption between the two
    tsan_mutex_pre_lock(this);
    std::uint32_t c = 0;
    // acquire: everything the previous holder wrote before unlock is visible.
    if (!state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed))
      lock_slow();
    tsan_mutex_post_lock(this);
  }
  // Takes the lock if it is free, without waiting.
  [[nodiscard]] bool try_lock() noexcept GORO_TRY_ACQUIRE(true) {
    lock_depth_add(1);
    tsan_mutex_pre_try_lock(this);
    std::uint32_t c = 0;
    // acquire: as in lock().
    bool ok = state_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                             std::memory_order_relaxed);
    tsan_mutex_post_try_lock(this, ok);
    if (!ok) lock_depth_add(-1);
    return ok;
  }
  void unlock() noexcept GORO_RELEASE() {
    tsan_mutex_pre_unlock(this);
    release_state();
    tsan_mutex_post_unlock(this);
    lock_depth_add(-1);
  }

  // The first half of a hand-off across a switch (see above): from here on
  // the calling context no longer holds the lock for the analysis and for
  // TSan, although the lock stays taken until unlock_after_switch. The
  // analysis cannot see a release that happens on another stack, hence the
  // suppression on this one function.
  void release_before_switch() noexcept GORO_RELEASE() GORO_NO_THREAD_SAFETY_ANALYSIS {
    tsan_mutex_pre_unlock(this);
    tsan_mutex_post_unlock(this);
  }
  // The second half, on the context switched to: frees the lock. Carries no
  // annotation: the analysis saw the release in release_before_switch.
  void unlock_after_switch() noexcept {
    release_state();
    lock_depth_add(-1);
  }

  // Fatal unless the lock is taken. futex_lock records no owner, so this
  // catches a lock nobody holds, not one another thread holds; the analysis
  // then treats the lock as held by the caller (a function that cannot
  // state GORO_REQUIRES, such as a callback through a void*).
  void assert_held() const noexcept GORO_ASSERT_CAPABILITY(this) {
    if (state_.load(std::memory_order_relaxed) == 0) not_held();
  }

 private:
  void release_state() noexcept {
    // release: publishes the critical section to the next acquirer.
    if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
  }
  void lock_slow() noexcept;
  void wake_one() noexcept;
  [[noreturn]] static void not_held() noexcept;
  std::atomic<std::uint32_t> state_{0};
};

// Holds a futex_lock for its scope: std::lock_guard carries no annotation,
// so the analysis would not know the lock is held inside it.
class GORO_SCOPED_CAPABILITY [[nodiscard]] futex_guard {
 public:
  explicit futex_guard(futex_lock& l) noexcept GORO_ACQUIRE(l) : l_(l) { l.lock(); }
  ~futex_guard() GORO_RELEASE() { l_.unlock(); }
  futex_guard(const futex_guard&) = delete;
  futex_guard& operator=(const futex_guard&) = delete;

 private:
  futex_lock& l_;
};

struct waiter;  // defined in src/sync/park.hpp; lives on the waiter's stack

// FIFO list of parked waiters, protected by a futex_lock held by the owner.
struct wait_list {
  waiter* head = nullptr;
  waiter* tail = nullptr;
};

}  // namespace goro::detail
