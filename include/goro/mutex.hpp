// goro::mutex: Go's sync.Mutex.
#pragma once
#include <atomic>
#include <cstdint>

#include "goro/detail/waitq.hpp"

namespace goro {

// A mutual exclusion lock with Go's sync.Mutex semantics; meets the C++
// Lockable requirements (std::lock_guard, std::unique_lock, std::scoped_lock).
//
// Normal mode: waiters queue FIFO, but a woken waiter competes with
// goroutines that are just arriving (and may spin briefly), which usually
// win since they are already running: good throughput. Starvation mode: a
// waiter that has waited more than 1 ms switches the mutex into it; then
// unlock hands ownership directly to the waiter at the head of the queue and
// arriving goroutines queue at the tail without trying. The mode ends when
// the last waiter takes the lock or a waiter got it in under 1 ms.
//
// lock() parks a goroutine, or blocks a thread outside the runtime on a
// futex. Not recursive; unlocking a mutex that is not locked ends the
// process (as Go's fatal error). Any goroutine or thread may unlock it.
class mutex {
 public:
  mutex() = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  void lock() {
    std::int32_t unlocked = 0;
    // acquire: everything the previous owner wrote before unlock is visible.
    if (state_.compare_exchange_strong(unlocked, locked_bit, std::memory_order_acquire,
                                       std::memory_order_relaxed))
      return;
    lock_slow();
  }

  // Takes the lock if it is free and not promised to a starving waiter.
  bool try_lock() noexcept;

  void unlock() {
    // release: publishes the critical section to the next owner (who
    // acquires through its CAS or, after a hand-off, through the wake-up).
    std::int32_t now = state_.fetch_sub(locked_bit, std::memory_order_release) - locked_bit;
    if (now != 0) unlock_slow(now);
  }

 private:
  // state_: locked, woken (a waiter is awake and competing: unlock need not
  // wake another), starving, and the number of waiters above them.
  static constexpr std::int32_t locked_bit = 1;
  static constexpr std::int32_t woken_bit = 2;
  static constexpr std::int32_t starving_bit = 4;
  static constexpr int waiter_shift = 3;

  void lock_slow();
  void unlock_slow(std::int32_t now);
  // The semaphore waiters sleep on (Go: runtime_SemacquireMutex /
  // runtime_Semrelease): a count and a queue under sema_lock_.
  void sema_acquire(bool lifo);
  // Returns true if it woke a waiter (false: it left a count for one that
  // has not parked yet).
  bool sema_release();

  std::atomic<std::int32_t> state_{0};
  detail::futex_lock sema_lock_;
  detail::wait_list sema_q_;
  std::uint32_t sema_count_ = 0;
};

}  // namespace goro
