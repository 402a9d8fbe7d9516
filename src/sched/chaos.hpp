// Chaos mode (build option GORO_CHAOS): seeded random delays and yields at the
// scheduler's decision points, to widen race windows under stress. The seed
// comes from GORO_CHAOS_SEED (printed at start) so a failing run replays the
// same per-thread decision streams.
#pragma once

namespace goro::detail {
#ifdef GORO_CHAOS
void chaos_point() noexcept;
#define GORO_CHAOS_POINT() ::goro::detail::chaos_point()
#else
#define GORO_CHAOS_POINT() \
  do {                     \
  } while (0)
#endif
}  // namespace goro::detail
