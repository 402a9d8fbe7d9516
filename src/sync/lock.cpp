// futex_lock slow paths, notes and the futex wrappers.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

#include "goro/detail/waitq.hpp"
#include "sched/note.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GORO_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define GORO_CPU_RELAX() asm volatile("yield")
#else
#define GORO_CPU_RELAX() \
  do {                   \
  } while (0)
#endif

namespace goro::detail {

void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t val) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_PRIVATE, val, nullptr,
          nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr,
          nullptr, 0);
}

// Drepper's futex mutex ("Futexes are tricky", mutex #3), with a short spin.
// State 2 means "there may be sleepers", so unlock wakes only then.
void futex_lock::lock_slow() noexcept {
  for (int i = 0; i < 100; i++) {
    std::uint32_t c = state_.load(std::memory_order_relaxed);
    if (c == 0 && state_.compare_exchange_weak(c, 1, std::memory_order_acquire,
                                               std::memory_order_relaxed))
      return;
    GORO_CPU_RELAX();
  }
  // acquire on success: as in lock().
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2);
}

void futex_lock::wake_one() noexcept { futex_wake(&state_, 1); }

void note::sleep() noexcept {
  // acquire: everything the waker wrote before wakeup() is visible.
  while (key.load(std::memory_order_acquire) == 0) futex_wait(&key, 0);
}

void note::wakeup() noexcept {
  key.store(1, std::memory_order_release);
  futex_wake(&key, INT_MAX);
}

}  // namespace goro::detail
