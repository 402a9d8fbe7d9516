// Execution traces in Go's own format: `go tool trace` opens a goro program.
//
//   GORO_TRACE=out.trace ./prog     # the whole of every goro::run
//   go tool trace out.trace
//
// or, around a part of a program, from any thread while a runtime runs:
//
//   goro::trace_start("part.trace");
//   ...
//   goro::trace_stop();
//
// The file is a Go 1.23 execution trace (one generation): goroutine
// creation, start, stop, block (with Go's wait reasons: "chan receive",
// "sync.Mutex.Lock", ...), unblock and exit; procs (Ps) starting, stopping
// and being taken from a blocking call; blocking calls (goro::blocking);
// GOMAXPROCS changes. spec/observability.md has the mapping and the costs.
#pragma once
#include <string>

#include "goro/detail/export.hpp"

namespace goro {

// Starts writing an execution trace to `path` (created or truncated).
// Throws std::logic_error if a trace is already being written, and
// std::system_error (naming the path) if the file cannot be opened. Events
// are buffered per thread and written out as buffers fill and at
// trace_stop. A trace still running when goro::run returns is stopped
// there: a trace covers at most one runtime.
GORO_API void trace_start(const std::string& path);

// Stops the trace and completes the file (its string and stack tables).
// Returns once the file is written and closed. Does nothing if no trace is
// being written. Throws std::system_error if writing the file failed.
GORO_API void trace_stop();

// True while a trace is being written.
GORO_API bool trace_running() noexcept;

}  // namespace goro
