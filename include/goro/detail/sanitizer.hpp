// goro internals: which sanitizer this translation unit is built with, and
// the ThreadSanitizer hooks that tell TSan a futex_lock is a mutex. Not
// public API. The one place that detects the sanitizers (context.hpp's
// fiber hooks use it too), so call sites carry no #if.
#pragma once

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define GORO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(GORO_TSAN)
#define GORO_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(GORO_ASAN)
#define GORO_ASAN 1
#endif

#ifdef GORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace goro::detail {

// A lock described to TSan (Abseil's tsan_mutex_interface.h does the same):
// TSan then orders critical sections through the lock itself rather than
// through the atomics inside it (which it ignores between pre and post),
// reports an unlock by a context that does not hold the lock, and records
// which locks each context holds when it takes another, so it reports a
// lock-order inversion (a potential deadlock) even when the run did not
// deadlock. Empty without TSan. `addr` identifies the lock.
#ifdef GORO_TSAN
inline void tsan_mutex_create(void* addr) noexcept {
  __tsan_mutex_create(addr, __tsan_mutex_not_static);
}
inline void tsan_mutex_pre_lock(void* addr) noexcept { __tsan_mutex_pre_lock(addr, 0); }
inline void tsan_mutex_post_lock(void* addr) noexcept { __tsan_mutex_post_lock(addr, 0, 0); }
inline void tsan_mutex_pre_try_lock(void* addr) noexcept {
  __tsan_mutex_pre_lock(addr, __tsan_mutex_try_lock);
}
inline void tsan_mutex_post_try_lock(void* addr, bool ok) noexcept {
  unsigned flags = __tsan_mutex_try_lock;
  if (!ok) flags |= __tsan_mutex_try_lock_failed;
  __tsan_mutex_post_lock(addr, flags, 0);
}
inline void tsan_mutex_pre_unlock(void* addr) noexcept { __tsan_mutex_pre_unlock(addr, 0); }
inline void tsan_mutex_post_unlock(void* addr) noexcept { __tsan_mutex_post_unlock(addr, 0); }
#else
inline void tsan_mutex_create(void*) noexcept {}
inline void tsan_mutex_pre_lock(void*) noexcept {}
inline void tsan_mutex_post_lock(void*) noexcept {}
inline void tsan_mutex_pre_try_lock(void*) noexcept {}
inline void tsan_mutex_post_try_lock(void*, bool) noexcept {}
inline void tsan_mutex_pre_unlock(void*) noexcept {}
inline void tsan_mutex_post_unlock(void*) noexcept {}
#endif

}  // namespace goro::detail
