// Options shared by the unit tests.
#pragma once
#include "goro/options.hpp"
#include "sysmon/sysmon.hpp"

namespace goro_test {

// For tests where foreign threads wake goroutines. Default detection no
// longer reports while such threads exist (spec/netpoll.md); these tests
// keep detection off, as before.
inline goro::options threads_wake_goroutines(goro::options o) {
  o.detect_deadlock = false;
  return o;
}

// Whether asynchronous (signal) preemption works in this build and on this
// machine: never under ThreadSanitizer, which defers signals; under ASan
// only with GORO_ASAN_ASYNC_PREEMPT=1 (spec/preemption.md).
inline bool async_available() {
#if defined(__SANITIZE_THREAD__)
  return false;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  return false;
#endif
#endif
  return goro::detail::async_preempt_init();
}

}  // namespace goro_test
