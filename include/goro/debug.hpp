// Seeing the scheduler: goroutine names, goroutine dumps (Go's SIGQUIT
// traceback) and the pprof goroutine profile. spec/dumps.md has the formats
// and how the stacks are taken.
#pragma once
#include <iosfwd>
#include <string>
#include <string_view>

#include "goro/detail/export.hpp"

namespace goro {

// A goroutine's name, given at its start: goro::go(goro::named("reader"), f).
// It shows in dumps (`goroutine 7 "reader" [chan receive]:`) and as the
// label `name` of the goroutine profile's samples.
struct named {
  std::string_view name;
  explicit named(std::string_view n) noexcept : name(n) {}
};

// Names the calling goroutine (an empty name removes it). Outside a
// goroutine it does nothing.
GORO_API void set_label(std::string_view name);

// The calling goroutine's name; empty outside a goroutine or if unnamed.
GORO_API std::string label();

// Writes every goroutine of the running runtime to `out` as Go prints them
// on SIGQUIT: for each one a header `goroutine N [wait reason, M minutes]:`,
// its stack (function, then `\tfile:line`), and `created by F in goroutine
// P` with the go statement's place. The world is stopped while the stacks
// are taken (a few microseconds per goroutine), then symbolized with it
// running again. Call it from a goroutine (the caller shows as running) or
// from a thread outside the runtime while it runs. Returns false (writing
// nothing) when no runtime runs.
//
// The process prints the same to stderr and exits with status 2 on SIGQUIT
// while a runtime runs, unless the program has its own SIGQUIT handler or
// GORO_DEBUG contains sigquit=0.
GORO_API bool dump_goroutines(std::ostream& out);

// Writes Go's `goroutine` profile (profile.proto, uncompressed; `go tool
// pprof` reads it): one sample per distinct stack and name, valued by the
// number of goroutines with it. Same conditions as dump_goroutines.
GORO_API bool write_goroutine_profile(std::ostream& out);

namespace detail {
// For goro::go(named, ...): names the G being created (called between
// newg_begin and newg_commit). Not public API.
struct newg_handle;
GORO_API void newg_set_label(const newg_handle& h, std::string_view name);
}  // namespace detail

}  // namespace goro
