// goro::wait_group: Go's sync.WaitGroup.
#pragma once
#include <atomic>
#include <cstdint>

#include "goro/detail/export.hpp"
#include "goro/detail/waitq.hpp"

namespace goro {

// Waits for a collection of goroutines to finish. add(n) before starting them,
// done() as each finishes, wait() parks the calling goroutine (or blocks the
// calling thread, outside a goroutine) until the counter is zero. A counter
// driven below zero throws std::logic_error, as Go panics. Reusable once wait
// has returned. Not copyable or movable: waiters point into it.
//
// Memory ordering: a done() (or add) happens before the wait() it releases
// returns, so everything the finished goroutines wrote before done() is
// visible after wait(). Lifetime: the wait_group may be destroyed as soon
// as every wait() has returned, even while the done() that released them
// has not returned yet (Go's "wg.Wait(); return"): the add that reaches
// zero touches the wait_group no more after it has taken the waiters.
class GORO_API wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  void add(std::int64_t n);
  void done() { add(-1); }
  void wait();

 private:
  std::atomic<std::int64_t> counter_{0};
  detail::futex_lock lock_;
  detail::wait_list waiters_ GORO_GUARDED_BY(lock_);
};

}  // namespace goro
