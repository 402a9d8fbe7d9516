// GORO_DEBUG: the runtime's debug settings (Go's GODEBUG for its runtime
// keys), read from the environment when goro::run starts.
//
// The variable is a comma-separated list of key=value pairs, as GODEBUG:
//   GORO_DEBUG=schedtrace=1000,scheddetail=1
// Each key is one row of the table in godebug.cpp (its name, the range of
// its value and the field of debug_settings it sets); a new key is a new row
// and a new field. Policy (spec/metrics.md, "GORO_DEBUG"):
//  - a known key with a value that is not a whole number in its range is an
//    error: goro::run throws std::invalid_argument naming the variable, the
//    key, the value and the range;
//  - an unknown key is ignored with a warning on stderr naming it and the
//    keys known, as Go ignores GODEBUG keys it does not know (a program
//    built against an older goro must still start when the environment
//    carries a newer key), but a typo does not pass silently;
//  - an empty list, and empty items (",,"), are allowed.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace goro::detail {

struct debug_settings {
  // Go's schedtrace: sysmon prints a SCHED line to stderr every this many
  // milliseconds (0: off).
  std::int64_t schedtrace = 0;
  // Go's scheddetail: with schedtrace, each line is followed by one line
  // per P, M and G (0: off, 1: on).
  std::int64_t scheddetail = 0;
  // Warn when a goroutine keeps its P this many milliseconds without a
  // scheduling point (0: off). Parsed and stored here; acted on by the
  // stall warning (sysmon/stallwarn.cpp).
  std::int64_t stallwarn = 0;
  // Go prints every goroutine and exits 2 on SIGQUIT; so does goro while a
  // runtime runs and the program has no SIGQUIT handler of its own (1), or
  // SIGQUIT keeps its default action (0). sched/dump.cpp.
  std::int64_t sigquit = 1;
};

// Parses a GORO_DEBUG value. Unknown keys go to *warnings (one line each,
// newline-terminated) if it is given.
// Throws std::invalid_argument for a malformed item or a bad value.
debug_settings parse_godebug(std::string_view s, std::string* warnings = nullptr);

// parse_godebug(getenv("GORO_DEBUG")), warnings printed to stderr.
debug_settings godebug_from_env();

}  // namespace goro::detail
