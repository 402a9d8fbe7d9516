// goro::semaphore: golang.org/x/sync/semaphore's Weighted.
#pragma once
#include <cstdint>
#include <memory>
#include <system_error>

#include "goro/context.hpp"
#include "goro/detail/export.hpp"
#include "goro/detail/waitq.hpp"

namespace goro {

namespace detail {
struct sem_queue;
}  // namespace detail

// A weighted semaphore of `n` tokens (x/sync's semaphore.Weighted):
// acquire(k) takes k tokens, parking (a goroutine) or blocking (a foreign
// thread) until they are free; release(k) gives them back. Waiters are
// served strictly first come, first served: a large request at the head of
// the queue holds back smaller ones behind it until it fits, so it is never
// starved (as x/sync). Usable from goroutines and foreign threads, before,
// during and after goro::run. Not copyable or movable.
//
// Errors: a negative n or k throws std::invalid_argument (Go does not check;
// a negative weight would silently grow the semaphore). release of more
// tokens than are held throws std::logic_error (x/sync panics "semaphore:
// released more than held"), leaving the count unchanged. The plain
// acquire(k) with k > n throws std::invalid_argument: it could never
// succeed (x/sync's Acquire with context.Background() blocks forever); the
// context form waits for ctx instead, as x/sync, without holding others up.
//
// Lifetime: destroy the semaphore only once nobody waits in acquire. A
// goroutine abandoned while waiting (goro::run returned) keeps its place
// in the queue (its record is on the heap, so nothing dangles): tokens later
// granted to it are never given back.
//
// Memory ordering: a release happens before every acquire (and successful
// try_acquire) that it satisfies, so what a goroutine wrote before
// release() is visible to the one whose acquire takes those tokens. A
// failed acquire (ctx done first) orders nothing beyond ctx's own guarantee.
class GORO_API semaphore {
 public:
  explicit semaphore(std::int64_t n);
  ~semaphore();
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  // Takes k tokens, waiting as long as it takes (x/sync's Acquire with a
  // context that is never done).
  void acquire(std::int64_t n = 1);
  // x/sync's Acquire: takes k tokens, or returns ctx.err() if ctx is done
  // first (also if it is already done on entry, even when the tokens are
  // free); {} on success. On failure no token is taken.
  std::error_code acquire(context ctx, std::int64_t n = 1);
  // x/sync's TryAcquire: takes k tokens if they are free and nobody waits.
  [[nodiscard]] bool try_acquire(std::int64_t n = 1);
  // x/sync's Release: gives back k tokens and wakes the waiters at the head
  // of the queue that now fit.
  void release(std::int64_t n = 1);

 private:
  std::error_code acquire_slow(const context* ctx, std::int64_t n);
  detail::futex_lock lk_;
  const std::int64_t size_;
  std::int64_t cur_ GORO_GUARDED_BY(lk_) = 0;
  std::unique_ptr<detail::sem_queue> q_;  // the waiters (never null)
};

}  // namespace goro
