// The runtime's clock, on its own so that light headers (sched/gstatus.hpp,
// which the c11/ checks compile too) can read it without time/timer.hpp.
#pragma once
#include <cstdint>

namespace goro::detail {

// Monotonic nanoseconds (CLOCK_MONOTONIC, the clock of steady_clock). Never
// 0 on a running system (it counts from boot). Defined in time/timer.cpp.
// Called from: any (a vDSO clock read)
// Locks: any
// May switch: no
std::int64_t nanotime() noexcept;

}  // namespace goro::detail
