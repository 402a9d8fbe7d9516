// What a G and a P carry for the execution tracer (trace/trace.hpp), kept
// light so that sched/runtime.hpp can embed it.
#pragma once
#include <cstdint>

#include "base/atomic.hpp"

namespace goro::detail::trace {

// What a G or P carries for the writer. Relaxed atomics: each is written by
// whoever owns the G or P at that moment (the M running the G, the waker of
// a waiting G, the holder or claimer of a P), and ownership passes through
// the scheduler's own hand-offs (run queues, sched.lock, the P status CAS),
// which order the writes. Atomic so that a hand-off the tracer did not
// foresee makes a wrong trace (which Go's parser rejects), never a data race.
struct g_state {
  // The trace session that has seen this G (its status is in the trace).
  detail::atomic<std::uint64_t> session{0};
  // Go's per-goroutine sequence number (GoStart, GoUnblock).
  detail::atomic<std::uint64_t> seq{0};
  // The trace session that has this G's label (g::label) as a GoLabel.
  detail::atomic<std::uint64_t> label_session{0};
};
struct p_state {
  detail::atomic<std::uint64_t> session{0};
  detail::atomic<std::uint64_t> seq{
      0};  // Go's per-P sequence (ProcStart, ProcSteal, GoSyscallBegin)
  // The trace thread id of the M that took this P into a blocking call
  // (GoSyscallBegin), or ~0: whom a ProcSteal steals it from (Go's
  // p.trace.mSyscallID).
  detail::atomic<std::uint64_t> syscall_m{~std::uint64_t{0}};
};

}  // namespace goro::detail::trace
