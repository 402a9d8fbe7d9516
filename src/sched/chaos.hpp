// Chaos mode (build option GORO_CHAOS): seeded random delays and yields at the
// scheduler's decision points, to widen race windows under stress.
//
// Where: before and after the atomics of runqput / runqputslow / runqget /
// runqgrab / runqsteal, around the spinning protocol (wakep's check-then-claim,
// ready_wake's StoreLoad fence, the spinning M's give-up and re-check,
// resetspinning), in startm's handoff and before each steal attempt.
//
// Seed: GORO_CHAOS_SEED (decimal or 0x hex) if set, else a fresh random one;
// either way it is printed to stderr once per process ("goro: chaos mode,
// GORO_CHAOS_SEED=N"). Each thread draws from its own stream, derived from
// the seed and the order in which threads first reach a chaos point, so a
// replay repeats the same decision streams (the OS schedule itself is not
// replayable, so a replay raises the odds of a failure rather than
// guaranteeing it).
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
