// goro::mutex: Go's sync.Mutex.
#pragma once
#include <atomic>
#include <cstdint>


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
//
// Memory ordering: for any mutex, the n-th unlock happens before the
// (n+1)-th lock (or successful try_lock) returns, so what one owner wrote
// in its critical section is visible to every later owner.
//
// Lifetime: as [thread.mutex.class] requires, a mutex may be destroyed as
// soon as it is unlocked and nobody will lock it again, even while another
// goroutine's or thread's unlock() has not returned yet: unlock touches the
// mutex only up to the atomic that releases it. Sleepers wait in a
// process-wide table keyed by the mutex's address, not in the mutex, and
// the wake that follows the release uses the address only as a key.
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
  [[nodiscard]] bool try_lock() noexcept;

  void unlock() {
    std::int32_t old = locked_bit;
    // release: publishes the critical section to the next owner (who
    // acquires through its CAS). Nobody waits: this RMW was the last
    // access to *this.
    if (state_.compare_exchange_strong(old, 0, std::memory_order_release,
                                       std::memory_order_relaxed))
      return;
    unlock_slow(old);
  }

 private:
  // state_: locked, woken (a waiter is awake and competing: unlock need not
  // wake another), starving, and the number of waiters above them.
  static constexpr std::int32_t locked_bit = 1;
  static constexpr std::int32_t woken_bit = 2;
  static constexpr std::int32_t starving_bit = 4;
  static constexpr int waiter_shift = 3;

  // Cold: reached only under contention (the inline CAS failed), so the
  // compiler lays the calls out off the uncontended path.
  [[gnu::cold]] void lock_slow();
  [[gnu::cold]] void unlock_slow(std::int32_t old);

  // The only member: the sleepers wait in a process-wide table keyed by
  // this mutex's address (src/sync/mutex.cpp), not in the mutex, so that
  // unlock touches *this only up to its releasing atomic.
  std::atomic<std::int32_t> state_{0};
};

}  // namespace goro
