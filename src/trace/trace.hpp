// Execution tracing in Go's own format (spec/observability.md): the event
// sites the scheduler calls, one line each.
//
// Every site is an inline function that tests one global flag with a relaxed
// load and calls out of line only when a trace is being written:
//
//   if (on.load(relaxed)) [[unlikely]] slow(...);
//
// so a runtime with tracing compiled in but off pays one predictable,
// never-taken branch per event (the cost figures are in
// spec/observability.md). Built with GORO_TRACE_SITES=OFF (a CMake option
// for measuring exactly that cost), `sites` is false and every site compiles
// to nothing.
//
// The relaxed load decides only whether to look further: the out-of-line
// writer re-reads the flag inside its per-buffer protocol (trace.cpp,
// "Buffers and the stop protocol"), which is what keeps trace_stop from
// reading a buffer while its thread writes to it. An event whose site read
// a stale `false` is simply not in the trace, as if it had happened just
// before trace_start.
//
// Sites take the G and P they concern; the thread's M (and so the buffer) is
// the writer's business. They are called inside the runtime's nopreempt
// regions, or on g0, sysmon and foreign threads, so the thread does not
// change under the writer.
#pragma once
#include <cstdint>
#include <string_view>

#include "base/atomic.hpp"
#include "sync/park.hpp"
#include "trace/state.hpp"

namespace goro::detail {

struct g;
struct p;
struct m;

namespace trace {

#ifdef GORO_TRACE_SITES_OFF
inline constexpr bool sites = false;
#else
inline constexpr bool sites = true;
#endif

// True while a trace is being written (trace_start .. trace_stop). Written
// only by trace_start/trace_stop under their control lock (seq_cst there:
// the stop protocol's Dekker pair, trace.cpp).
extern detail::atomic<bool> on;

inline bool enabled() noexcept {
  if constexpr (!sites) return false;
  return on.load(std::memory_order_relaxed);
}

// Why a running G stops while staying runnable (Go's traceGoStopReason).
enum class stop_reason : std::uint8_t { gosched, preempted };

// --- out of line (trace.cpp) ---
void go_create_slow(g* newg);
void go_create_foreign_slow(g* newg);
void go_start_slow(g* gp);
void go_stop_slow(stop_reason r);
void go_block_slow(wait_reason r);
void go_unblock_slow(g* gp);
void go_destroy_slow();
void go_syscall_begin_slow(p* pp);
void go_syscall_end_slow(g* gp, bool lost_p);
void go_syscall_end_blocked_slow(g* gp);
void proc_start_slow(p* pp);
void proc_stop_slow(p* pp);
void proc_steal_slow(p* pp);
void procs_change_slow(std::uint32_t n);

// --- the sites ---
// GoCreate: newg (its goid and task set) made runnable by the calling M,
// which holds a P (newg_commit).
inline void go_create(g* newg) {
  if (enabled()) [[unlikely]]
    go_create_slow(newg);
}
// A goroutine made by a thread without a P (a foreign thread, a goroutine
// inside blocking(), run's own thread for main): spec/observability.md,
// "Goroutines from threads without a P".
inline void go_create_foreign(g* newg) {
  if (enabled()) [[unlikely]]
    go_create_foreign_slow(newg);
}
// GoStart: gp (now running) starts on this M's P.
inline void go_start(g* gp) {
  if (enabled()) [[unlikely]]
    go_start_slow(gp);
}
// GoStop: the running G yields or is preempted, and is about to switch away.
inline void go_stop(stop_reason r) {
  if (enabled()) [[unlikely]]
    go_stop_slow(r);
}
// GoBlock: the running G parks for reason r (before its switch).
inline void go_block(wait_reason r) {
  if (enabled()) [[unlikely]]
    go_block_slow(r);
}
// GoUnblock: gp (waiting) is readied, by any thread.
inline void go_unblock(g* gp) {
  if (enabled()) [[unlikely]]
    go_unblock_slow(gp);
}
// GoDestroy: the running G exits.
inline void go_destroy() {
  if (enabled()) [[unlikely]]
    go_destroy_slow();
}
// GoSyscallBegin: the running G enters a blocking call on P pp.
inline void go_syscall_begin(p* pp) {
  if (enabled()) [[unlikely]]
    go_syscall_begin_slow(pp);
}
// gp leaves its blocking call holding a P again: on the P it entered with
// (lost_p false: GoSyscallEnd) or on another one, or the same one after it
// was taken (lost_p true: GoSyscallEndBlocked, then GoStart).
inline void go_syscall_end(g* gp, bool lost_p) {
  if (enabled()) [[unlikely]]
    go_syscall_end_slow(gp, lost_p);
}
// gp leaves its blocking call with no P: it goes to the global queue
// (GoSyscallEndBlocked).
inline void go_syscall_end_blocked(g* gp) {
  if (enabled()) [[unlikely]]
    go_syscall_end_blocked_slow(gp);
}
// ProcStart: this M acquires pp (acquirep), except when it takes back the P
// of its own blocking call (that is go_syscall_end's).
inline void proc_start(p* pp) {
  if (enabled()) [[unlikely]]
    proc_start_slow(pp);
}
// ProcStop: this M lets go of pp (releasep and the other ways a P leaves
// its M: entersyscall's stop-the-world path, procresize).
inline void proc_stop(p* pp) {
  if (enabled()) [[unlikely]]
    proc_stop_slow(pp);
}
// ProcSteal: pp, in a blocking call, is claimed by someone other than the M
// in the call (sysmon's retake, stop-the-world).
inline void proc_steal(p* pp) {
  if (enabled()) [[unlikely]]
    proc_steal_slow(pp);
}
// ProcsChange: GOMAXPROCS is now n (called by the G that changed it).
inline void procs_change(std::uint32_t n) {
  if (enabled()) [[unlikely]]
    procs_change_slow(n);
}

// Starts or stops the trace the GORO_TRACE environment variable asks for
// (run_main, around a runtime's life). A trace started by trace_start that
// is still running when its runtime stops is stopped there too.
void env_start_at_run();
void stop_at_run_end();

}  // namespace trace

// GoLabel: names the current goroutine `label` in the trace (Go's
// goroutine labels, shown by `go tool trace`). goro::set_label calls it
// from the goroutine itself (a G with a P), after the name is set; a
// goroutine named by go(goro::named(...)) gets its GoLabel with its first
// GoStart in a trace. A no-op unless a trace is being written, or if gp is
// not the caller's running goroutine. Labels longer than 1 KiB are cut to
// that (Go's limit for a string in a trace).
void trace_go_label(g* gp, std::string_view label);

}  // namespace goro::detail
