// futex_lock slow paths, notes and the futex wrappers.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <time.h>

#include <cerrno>
#include <climits>
#include <cstdint>

#include "base/cpu_relax.hpp"
#include "base/fatal.hpp"
#include "goro/detail/export.hpp"
#include "goro/detail/waitq.hpp"
#include "sched/note.hpp"
#include "sim/controller.hpp"
#include "sync/futex_state.hpp"

namespace goro::detail {

void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t val) noexcept {
  // sim: the wait is the controller's (the thread is not runnable until the
  // word changes or a wake targets it), never the kernel's.
  if constexpr (sim) {
    if (simulator::participant()) {
      simulator::futex_wait(addr, val, 0);
      return;
    }
  }
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_PRIVATE, val, nullptr,
          nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept {
  // sim: wakes the controller's waiters on addr, and then the kernel's too:
  // a thread outside the simulation (a foreign thread parked on a note) may
  // wait there.
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr,
          nullptr, 0);
  if constexpr (sim) {
    if (simulator::participant()) simulator::futex_wake(addr, n);
  }
}

namespace {
// The kernel's side of sync/futex_state.hpp's Env (c11/futex_c11.cpp checks
// the same protocols over a fake futex).
struct futex_env {
  static constexpr int spin_tries = 100;
  static void pause() noexcept { cpu_relax(); }
  // A: std::atomic<std::uint32_t> (note's key), or the sim build's view of
  // futex_lock's word (sim_view).
  template <class A>
  static void futex_wait(A* addr, std::uint32_t val) noexcept {
    detail::futex_wait(raw_atomic(addr), val);
  }
  template <class A>
  static void futex_wake(A* addr, int n) noexcept {
    detail::futex_wake(raw_atomic(addr), n);
  }
};
}  // namespace

// Drepper's futex mutex ("Futexes are tricky", mutex #3), with a short spin.
// State 2 means "there may be sleepers", so unlock wakes only then.
void futex_lock::lock_slow() noexcept {
  futex_env env;
  // sim_view: each operation of the slow path a scheduling point in the sim
  // build (base/atomic.hpp); the word itself in every other build.
  auto&& state = sim_view(state_);
  futex_lock_slow(state, env);
}

void futex_lock::wake_one() noexcept { futex_wake(&state_, 1); }

void futex_lock::not_held() noexcept { fatal("futex_lock: assert_held on a lock nobody holds"); }

namespace {
// initial-exec: the SIGURG handler reads it (a static TLS model needs no
// allocation, so the access is async-signal-safe).
__attribute__((tls_model("initial-exec"))) thread_local unsigned lock_depth = 0;
}  // namespace

__attribute__((noinline)) void lock_depth_add(int delta) noexcept {
  asm volatile("" ::: "memory");
  lock_depth += static_cast<unsigned>(delta);
  // Ordered before the lock's own atomic as the signal handler sees it.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // sim: every runtime lock's acquire (called before the state CAS) and
  // release (after the exchange) is a scheduling point.
  if constexpr (sim)
    simulator::point(delta > 0 ? simulator::site::lock_acquire : simulator::site::lock_release);
}

__attribute__((noinline)) unsigned lock_depth_racy() noexcept { return lock_depth; }

}  // namespace goro::detail

#ifdef GORO_DETAIL_APP_TSAN
// This libgoro was built with ThreadSanitizer: a TSan application may link
// it (goro/detail/export.hpp refers to this from every TSan user).
extern "C" const int goro_app_uses_tsan_but_goro_built_without_it = 1;
#endif

namespace goro::detail {

void note::sleep() noexcept {
  futex_env env;
  note_sleep(key, env);
}

bool note::sleep_until(std::int64_t deadline) noexcept {
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so spurious
  // returns and EINTR need no recomputation of a relative timeout.
  timespec ts{static_cast<time_t>(deadline / 1'000'000'000),
              static_cast<long>(deadline % 1'000'000'000)};
  for (;;) {
    // acquire: as in sleep().
    if (key.load(std::memory_order_acquire) != 0) return true;
    if constexpr (sim) {
      // The deadline is virtual (nanotime is the controller's clock).
      if (simulator::participant()) {
        if (simulator::futex_wait(&key, 0, deadline))
          return key.load(std::memory_order_acquire) != 0;
        continue;
      }
    }
    long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&key), FUTEX_WAIT_BITSET_PRIVATE,
                     0u, &ts, nullptr, FUTEX_BITSET_MATCH_ANY);
    if (r != 0 && errno == ETIMEDOUT) return key.load(std::memory_order_acquire) != 0;
  }
}

void note::wakeup() noexcept {
  futex_env env;
  note_wakeup(key, env);
}

}  // namespace goro::detail
