// Options shared by the unit tests.
#pragma once
#include "goro/options.hpp"

namespace goro_test {

// For tests where foreign threads wake goroutines. Default detection no
// longer reports while such threads exist (spec/netpoll.md); these tests
// keep detection off, as before.
inline goro::options threads_wake_goroutines(goro::options o) {
  o.detect_deadlock = false;
  return o;
}

}  // namespace goro_test
