// Options and build facts shared by the unit tests, the properties (props/)
// and the stress suite (stress/).
#pragma once
#include "base/build_config.hpp"  // the runtime's own build modes
#include "goro/options.hpp"
#include "sysmon/sysmon.hpp"

namespace goro_test {

// Which sanitizer this build runs under, as the runtime itself decides it
// (src/base/build_config.hpp), so a test skips or scales exactly where the
// runtime changes its behaviour.
inline constexpr bool under_tsan = goro::detail::tsan;
inline constexpr bool under_asan = goro::detail::asan;
inline constexpr bool under_sanitizer = under_tsan || under_asan;

// Default options with `n` Ps (0: goro::options' default) and, unless
// `stack_guard` is false, guard pages under the stacks.
inline goro::options procs(unsigned n, bool stack_guard = true) {
  goro::options o;
  o.procs = n;
  o.stack_guard = stack_guard;
  return o;
}

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
  if (under_tsan) return false;
  return goro::detail::async_preempt_init();
}

}  // namespace goro_test
