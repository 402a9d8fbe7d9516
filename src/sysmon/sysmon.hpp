// sysmon (sysmon.cpp) and asynchronous preemption (preempt.cpp).
#pragma once
#include "sched/runtime.hpp"

namespace goro::detail {

// Starts rt's sysmon thread (run_main); sysmon_stop wakes and joins it once
// rt.stopping is set.
void sysmon_start(runtime& rt);
void sysmon_stop(runtime& rt);

// Installs the SIGURG handler once per process and records which code may
// never be preempted asynchronously. Returns false where asynchronous
// preemption is unavailable (not x86-64, ThreadSanitizer, no XSAVE).
bool async_preempt_init();
// Whether the PC-based rule lets a preemption land at `pc` (for tests).
bool async_preempt_allowed_at(const void* pc);
// The calling thread's blocked-signal mask, signals 1..64 (bit n-1 for
// signal n), as the kernel keeps it and writes it into a ucontext.
std::uint64_t thread_sigmask();
// Bytes an asynchronous preemption needs below the interrupted stack
// pointer (it is refused nearer the stack's bottom); 0 where unavailable.
std::size_t async_preempt_stack_room();

}  // namespace goro::detail
