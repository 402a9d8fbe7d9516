// owner_add: the update of an atomic counter that has one writer at a time.
#pragma once
#include <atomic>

namespace goro::detail {

// Adds n to an atomic that one writer at a time updates (the P's holder,
// the G's own thread, or whoever holds the lock guarding the writes) and
// others read racily. A relaxed load and store, no read-modify-write: no
// other write can come between them, and readers need only an untorn value.
template <class Atomic, class N>
inline void owner_add(Atomic& x, N n) {
  using T = decltype(x.load(std::memory_order_relaxed));
  x.store(static_cast<T>(x.load(std::memory_order_relaxed) + n), std::memory_order_relaxed);
}

}  // namespace goro::detail
