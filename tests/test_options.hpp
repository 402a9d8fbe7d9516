// Options shared by the unit tests.
#pragma once
#include "goro/options.hpp"

namespace goro_test {

// For tests where foreign threads wake goroutines, which deadlock detection
// cannot see (a goroutine waiting for such a thread would look deadlocked).
inline goro::options threads_wake_goroutines(goro::options o) {
  o.detect_deadlock = false;
  return o;
}

}  // namespace goro_test
