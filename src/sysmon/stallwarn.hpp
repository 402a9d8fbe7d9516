// GORO_DEBUG: the runtime's debugging settings from the environment, and the
// stall warning (GORO_DEBUG=stallwarn=MS): a goroutine that runs MS or
// longer without a scheduling point, while asynchronous preemption is off or
// keeps being refused, is reported to stderr with its stack, once per stall
// (as Seastar reports reactor stalls). spec/dumps.md, "Stall warnings".
#pragma once
#include <cstdint>
#include <string_view>

#include "sched/runtime.hpp"

namespace goro::detail {

struct debug_settings {
  std::int64_t stallwarn_ns = 0;  // 0: off
  bool sigquit = true;            // dump goroutines on SIGQUIT (sched/dump.cpp)
};

// One GORO_DEBUG key=value pair of the keys this file owns (stallwarn,
// sigquit). Returns false for a key it does not know; throws
// std::invalid_argument naming the key and value for a bad value.
// Called from: foreign thread (run's, parse_goro_debug)
// Locks: none held
// May switch: no
bool parse_stallwarn_key(std::string_view key, std::string_view value, debug_settings& out);

// GORO_DEBUG (comma-separated key=value pairs, as Go's GODEBUG). Throws
// std::invalid_argument for an unknown key or a bad value, naming both.
// Called from: foreign thread (run's, before the runtime starts)
// Locks: none held
// May switch: no
debug_settings parse_goro_debug(const char* env);

// Reports stalled goroutines (see above); sysmon calls it every tick.
// Called from: sysmon
// Locks: none held
// May switch: no (blocks sysmon while it captures and prints a stack)
void stallwarn_check(runtime& rt, std::int64_t now);

// Stall reports printed so far (for tests).
std::uint64_t stall_reports() noexcept;

}  // namespace goro::detail
