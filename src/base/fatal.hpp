// Fatal runtime errors and the invariant checks built on them. Split from
// sched/runtime.hpp so code compiled outside the runtime (the c11/ checks of
// sched/local_runq.hpp) can report through the same function.
#pragma once

namespace goro::detail {

// Fatal runtime error: prints "goro: fatal error: ..." and exits with 2.
// (The c11/ check build defines it as a failed Relacy assertion instead.)
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef GORO_CHECK_INVARIANTS
#define GORO_INVARIANT(cond, ...) \
  do {                            \
    if (!(cond)) ::goro::detail::fatal("invariant violated: " __VA_ARGS__); \
  } while (0)
#else
#define GORO_INVARIANT(cond, ...) \
  do {                            \
  } while (0)
#endif

}  // namespace goro::detail
