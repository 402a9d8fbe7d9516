// Fatal runtime errors and the invariant checks built on them. Split from
// sched/runtime.hpp so code compiled outside the runtime (the c11/ checks of
// sched/local_runq.hpp) can report through the same function.
#pragma once
#include "base/build_config.hpp"

namespace goro::detail {

// Fatal runtime error: prints "goro: fatal error: ..." and exits with 2.
// (The c11/ check build defines it as a failed Relacy assertion instead.)
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Checked only in checked builds (base/build_config.hpp), but compiled in
// every build, so a check cannot rot where it does not run. The condition
// must be free of side effects and of synchronization: it may read shared
// state only relaxed (a check never orders anything the shipped program
// does not).
#define GORO_INVARIANT(cond, ...)                                             \
  do {                                                                        \
    if constexpr (::goro::detail::checked) {                                  \
      if (!(cond)) ::goro::detail::fatal("invariant violated: " __VA_ARGS__); \
    }                                                                         \
  } while (0)

}  // namespace goro::detail
