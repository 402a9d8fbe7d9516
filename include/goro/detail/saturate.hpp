// Saturating conversions of durations and time points to the runtime's
// nanoseconds (Go's time package saturates the same way: a duration too
// long to add to now means "never", not a wrapped time in the past).
#pragma once
#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>

namespace goro::detail {

// d in nanoseconds, clamped to [nanoseconds::min(), nanoseconds::max()]
// instead of overflowing (seconds::max() has no nanosecond value; a plain
// duration_cast wraps it to a negative one). A floating-point NaN is 0.
template <class Rep, class Period>
constexpr std::chrono::nanoseconds saturating_ns(std::chrono::duration<Rep, Period> d) noexcept {
  using ns = std::chrono::nanoseconds;
  using r = std::ratio_divide<Period, std::nano>;  // ns per tick
  // long double holds every int64 exactly (64-bit mantissa on x86-64) and
  // far beyond, so the bound check itself cannot overflow.
  long double v = static_cast<long double>(d.count()) * r::num / r::den;
  if (v != v) return ns::zero();
  if (v >= static_cast<long double>(std::numeric_limits<std::int64_t>::max())) return ns::max();
  if (v <= static_cast<long double>(std::numeric_limits<std::int64_t>::min())) return ns::min();
  if constexpr (std::is_floating_point_v<Rep>) return ns(static_cast<std::int64_t>(v));
  else return std::chrono::duration_cast<ns>(d);
}

// t's time since its clock's epoch in nanoseconds, saturated as above.
template <class Clock, class Dur>
constexpr std::chrono::time_point<Clock, std::chrono::nanoseconds> saturating_time_point(
    std::chrono::time_point<Clock, Dur> t) noexcept {
  return std::chrono::time_point<Clock, std::chrono::nanoseconds>(
      saturating_ns(t.time_since_epoch()));
}

}  // namespace goro::detail
