// A coarse monotonic clock for stamping parks (g::waitsince), so that a
// goroutine dump can say "chan receive, 2 minutes" as Go does, without a
// clock_gettime on the park path. sysmon stores nanotime() here at every
// tick (at most 10 ms apart while a runtime runs); gopark reads it with one
// relaxed load. Go stamps waitsince lazily at traceback time instead; a
// tick-old stamp is as good for a value only shown past one minute.
#pragma once
#include <cstdint>

#include "base/atomic.hpp"

namespace goro::detail {

// Written by sysmon (and by sysmon_start), read by any G in gopark.
// relaxed: a timestamp, ordering nothing; a stale value is at most a tick
// old.
inline constinit detail::atomic<std::int64_t> coarse_now{0};

inline std::int64_t coarse_nanotime() noexcept {
  return coarse_now.load(std::memory_order_relaxed);
}

}  // namespace goro::detail
