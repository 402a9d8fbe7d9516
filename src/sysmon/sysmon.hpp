// sysmon (sysmon.cpp) and asynchronous preemption (preempt.cpp). Contracts
// in Go's fixed form, as in sync/park.hpp ("foreign thread (run's)": the
// thread that called goro::run, which is not an M).
#pragma once
#include <string>

#include "sched/runtime.hpp"

namespace goro::detail {

// Starts rt's sysmon thread (run_main); sysmon_stop wakes and joins it once
// rt.stopping is set.
// Called from: foreign thread (run's: start before M0, stop at shutdown
//   step 4)
// Locks: none held
// May switch: no (sysmon_stop blocks the thread in join)
void sysmon_start(runtime& rt);
void sysmon_stop(runtime& rt);

// Installs the SIGURG handler once per process and records which code may
// never be preempted asynchronously. Returns false where asynchronous
// preemption is unavailable (not x86-64, ThreadSanitizer, no XSAVE).
// Called from: foreign thread (run's, first) | sysmon | G with P (both
//   through preemptone; answered from a static after the first call)
// Locks: none held; the first call holds the static's initialisation guard
// May switch: no
bool async_preempt_init();
// Whether the PC-based rule lets a preemption land at `pc` (for tests).
// Called from: any thread (tests)
// Locks: none held
// May switch: no
bool async_preempt_allowed_at(const void* pc);
// The calling thread's blocked-signal mask, signals 1..64 (bit n-1 for
// signal n), as the kernel keeps it and writes it into a ucontext.
// Called from: g0 (mstart, recording m::sigmask for the SIGURG handler)
// Locks: none held
// May switch: no
std::uint64_t thread_sigmask();
// Bytes an asynchronous preemption needs below the interrupted stack
// pointer (it is refused nearer the stack's bottom); 0 where unavailable.
// Called from: any thread (tests)
// Locks: none held
// May switch: no
std::size_t async_preempt_stack_room();

// Go's schedtrace: the SCHED line (and, detailed, the P, M and G lines) for
// the instant `ms` milliseconds after the first trace (schedtrace.cpp).
// schedtrace writes it to stderr.
// Called from: sysmon (or a test thread) while the runtime lives
// Locks: none held; takes sched.lock, then (detailed) allg_mu
// May switch: no
std::string schedtrace_text(runtime& rt, bool detailed, std::int64_t ms);
void schedtrace(runtime& rt, bool detailed, std::int64_t ms);

}  // namespace goro::detail
