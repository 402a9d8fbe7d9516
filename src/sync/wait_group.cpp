#include "goro/wait_group.hpp"

#include <stdexcept>
#include <string>

#include "sync/park.hpp"

namespace goro {

void wait_group::add(std::int64_t n) {
  // acq_rel: done() publishes the finished goroutine's writes; the add that
  // reaches zero sees all of them before waking the waiters, who then see
  // them through ready()'s own release/acquire chain.
  std::int64_t v = counter_.fetch_add(n, std::memory_order_acq_rel) + n;
  if (v < 0)
    throw std::logic_error("goro::wait_group: negative counter (" + std::to_string(v) +
                           "): done() called more often than add() allowed");
  if (v > 0 || n > 0) return;
  // v == 0 after a decrement: wake every waiter. A waiter checks the counter
  // under lock_ before it parks, so it either saw v == 0 or is on the list.
  detail::wait_list woken;
  lock_.lock();
  woken = waiters_;
  waiters_ = {};
  lock_.unlock();
  while (detail::waiter* w = detail::waitq_pop(woken)) detail::ready(w);
}

void wait_group::wait() {
  if (counter_.load(std::memory_order_acquire) == 0) return;
  detail::waiter w;
  detail::waiter_init(w);
  lock_.lock();
  if (counter_.load(std::memory_order_acquire) == 0) {
    lock_.unlock();
    return;
  }
  detail::waitq_push(waiters_, &w);
  detail::park_unlock(w, lock_);
}

}  // namespace goro
