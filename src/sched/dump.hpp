// Goroutine dumps, the goroutine profile and the stack capture they share
// (sched/dump.cpp; formats and reasoning in spec/dumps.md).
#pragma once
#include <cstdint>
#include <string>

#include "sched/runtime.hpp"

namespace goro::detail {

// Frees gp's name (goexit1, newg_abort): a recycled G starts unnamed.
// Called from: G with P (goexit1, on the dying G) | any thread (newg_abort,
//   the G not yet published)
// Locks: takes allg_mu when gp has a name
// May switch: no
void free_label(g* gp) noexcept;

// A captured stack: call-site PCs, innermost first (a return address less
// one, except an interrupted PC taken from a signal frame, kept as is).
constexpr int max_stack_frames = 64;
struct pcstack {
  std::uintptr_t pc[max_stack_frames];
  int n = 0;
};

// Captures the stack the thread `tid` runs on now, by a real-time signal
// whose handler unwinds it (libgcc's unwinder: async-signal-safe on glibc
// 2.35+, which finds unwind tables through _dl_find_object). Gives up after
// timeout_ns (a thread that does not answer: the signal is blocked, or
// ThreadSanitizer defers it until the thread calls into libc). One capture
// at a time process-wide.
// Called from: any thread but `tid` (sysmon, a dumping G)
// Locks: none held; takes the capture lock
// May switch: no (blocks the thread until the answer or the timeout)
bool capture_thread_stack(int tid, pcstack& out, std::int64_t timeout_ns);

// Prints gp's header and its stack pcs to stderr as a dump would, with
// `what` after the header (the stall warning, sysmon/stallwarn.cpp).
// Called from: sysmon
// Locks: none held; takes allg_mu for the name
// May switch: no
void print_goroutine_stack(g* gp, const char* status, const pcstack& stk, bool have_stack);

// SIGQUIT: installed at run's start (unless the program has its own
// handler, or GORO_DEBUG has sigquit=0) and removed at its end. The handler
// only raises a flag; sysmon_sigquit_poll, called by sysmon every tick,
// starts the dumping goroutine, which prints every goroutine to stderr and
// exits with status 2 (Go's SIGQUIT).
// Called from: foreign thread (run's) | sysmon (poll)
// Locks: none held
// May switch: no
void sigquit_install(runtime& rt);
void sigquit_uninstall(runtime& rt);
void sysmon_sigquit_poll(runtime& rt, std::int64_t now);

}  // namespace goro::detail
