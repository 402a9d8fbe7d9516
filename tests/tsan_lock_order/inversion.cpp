// Takes two futex_locks in both orders, on two threads, one after the other:
// the run never deadlocks, but the orders invert. Built only under TSan, and
// run by check.sh, which expects TSan's lock-order-inversion report: it
// shows futex_lock reaches TSan's deadlock detector as a mutex
// (goro/detail/sanitizer.hpp). Without the hooks TSan sees only atomics and
// reports nothing, and the check fails.
#include <thread>

#include "goro/detail/waitq.hpp"

using goro::detail::futex_guard;
using goro::detail::futex_lock;

namespace {
futex_lock a, b;
}  // namespace

int main() {
  std::thread([] {
    futex_guard la(a);
    futex_guard lb(b);
  }).join();
  std::thread([] {
    futex_guard lb(b);
    futex_guard la(a);
  }).join();
  return 0;
}
