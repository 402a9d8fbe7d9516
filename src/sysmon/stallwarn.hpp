// The stall warning (GORO_DEBUG=stallwarn=MS): a goroutine that runs MS or
// longer without a scheduling point, while asynchronous preemption is off or
// keeps being refused, is reported to stderr with its stack, once per stall
// (as Seastar reports reactor stalls). spec/dumps.md, "Stall warnings".
#pragma once
#include <cstdint>

#include "sched/runtime.hpp"

namespace goro::detail {

// Reports stalled goroutines (see above); sysmon calls it every tick.
// Called from: sysmon
// Locks: none held
// May switch: no (blocks sysmon while it captures and prints a stack)
void stallwarn_check(runtime& rt, std::int64_t now);

// Stall reports printed so far (for tests).
std::uint64_t stall_reports() noexcept;

}  // namespace goro::detail
