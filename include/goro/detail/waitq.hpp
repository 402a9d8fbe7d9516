// goro internals: the lock and waiter list behind every parking primitive.
// Not public API; public types embed these so they need no allocation.
#pragma once
#include <atomic>
#include <cstdint>

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

class futex_lock {
 public:
  void lock() noexcept {
    lock_depth_add(1);  // before taking it: no preemption between the two
    std::uint32_t c = 0;
    // acquire: everything the previous holder wrote before unlock is visible.
    if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed))
      return;
    lock_slow();
  }
  void unlock() noexcept {
    // release: publishes the critical section to the next acquirer.
    if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
    lock_depth_add(-1);
  }

 private:
  void lock_slow() noexcept;
  void wake_one() noexcept;
  std::atomic<std::uint32_t> state_{0};
};

struct waiter;  // defined in src/sync/park.hpp; lives on the waiter's stack

// FIFO list of parked waiters, protected by a futex_lock held by the owner.
struct wait_list {
  waiter* head = nullptr;
  waiter* tail = nullptr;
};

}  // namespace goro::detail
