#include "goro/wait_group.hpp"

#include <climits>
#include <stdexcept>
#include <string>

#include "base/build_config.hpp"
#include "sched/chaos.hpp"
#include "sync/park.hpp"

namespace goro {

// counter_ packs Go's WaitGroup state word: the counter in the high 32 bits
// (signed) and the number of registered waiters in the low 32 bits. Keeping
// the waiters in the same atomic lets the add() that brings the counter to
// zero know, in the same RMW, whether anyone waits. If nobody does, it must
// not touch *this again: a waiter that saw zero may already have returned and
// destroyed the wait_group, which Go allows ("wg.Wait(); return").
namespace {
constexpr std::int64_t counter_one = std::int64_t(1) << 32;
std::int32_t count_of(std::int64_t s) { return static_cast<std::int32_t>(s >> 32); }
std::uint32_t waiters_of(std::int64_t s) { return static_cast<std::uint32_t>(s); }
}  // namespace

void wait_group::add(std::int64_t n) {
  detail::honour_preempt();  // before touching *this (park.hpp)
  if (n == 0) return;
  if (n > INT32_MAX || n < INT32_MIN)
    throw std::length_error("goro::wait_group::add(" + std::to_string(n) +
                            "): delta out of the 32-bit range");
  // acq_rel: done() publishes the finished goroutine's writes; the add that
  // reaches zero sees all of them before waking the waiters, who then see
  // them through ready()'s own release/acquire chain.
  std::int64_t s = counter_.fetch_add(n * counter_one, std::memory_order_acq_rel) + n * counter_one;
  std::int32_t v = count_of(s);
  if (v < 0)
    throw std::logic_error("goro::wait_group: negative counter (" + std::to_string(v) +
                           "): done() called more often than add() allowed");
  // MUTANT wg_stale_wake: the old protocol: lock and wake whatever is
  // listed, even with no waiter registered at zero time (a later waiter's
  // list entry is woken too).
  constexpr bool stale_wake = detail::mutant == detail::mutant_id::wg_stale_wake;
  // Nobody registered when the counter reached zero: done, and *this is not
  // touched again. Registered waiters cannot return before we wake them, so
  // with one or more *this stays alive until the ready() calls below.
  if (v > 0 || n > 0 || (!stale_wake && waiters_of(s) == 0)) return;
  detail::wait_list woken;
  GORO_CHAOS_POINT();  // between reaching zero and taking the lock
  lock_.lock();
  if constexpr (!stale_wake) {
    // Re-armed since it reached zero: only possible when add() races with
    // wait(), which Go calls misuse; the listed waiters then wait for the
    // next zero instead of returning early.
    std::int64_t now = counter_.load(std::memory_order_acquire);
    if (count_of(now) != 0) {
      lock_.unlock();
      return;
    }
    // Registration happens under lock_, so the list holds exactly the
    // registered waiters: take them all and clear their count.
    counter_.fetch_sub(static_cast<std::int64_t>(waiters_of(now)), std::memory_order_relaxed);
  }
  woken = waiters_;
  waiters_ = {};
  lock_.unlock();
  while (detail::waiter* w = detail::waitq_pop(woken)) detail::ready(w);
}

void wait_group::wait() {
  detail::honour_preempt();  // park.hpp
  if (count_of(counter_.load(std::memory_order_acquire)) == 0) return;
  detail::waiter w;
  detail::waiter_init(w);
  lock_.lock();
  // Register (waiters + 1) only while the counter is non-zero, in one CAS:
  // the add() that reaches zero then either sees us counted (and takes
  // lock_, which we hold until the park commits, so it finds us listed) or
  // reached zero first (and our CAS fails and we see zero).
  std::int64_t s = counter_.load(std::memory_order_acquire);
  for (;;) {
    if (count_of(s) == 0) {
      lock_.unlock();
      return;
    }
    if (counter_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      break;
  }
  detail::waitq_push(waiters_, &w);
  // Abandoned here (park.hpp, waiter_on_abandon): leave the list and the
  // registered count, as if we had never waited.
  struct link {
    wait_group* wg;
    detail::waiter* w;
  } ln{this, &w};
  detail::waiter_on_abandon(
      w,
      [](void* arg, bool readied) noexcept {
        if (readied) return true;  // the zero that woke it owes nothing back
        auto* l = static_cast<link*>(arg);
        l->wg->lock_.lock();
        bool found = detail::waitq_remove(l->wg->waiters_, l->w);
        // relaxed: registration is guarded by lock_ (see add()).
        if (found) l->wg->counter_.fetch_sub(1, std::memory_order_relaxed);
        l->wg->lock_.unlock();
        return found;
      },
      &ln);
  detail::park_unlock(w, lock_, detail::wait_reason::sync_wait_group_wait);
}

}  // namespace goro
