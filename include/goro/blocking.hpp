// goro: blocking calls and preemption points (Go's entersyscall/exitsyscall
// and the scheduler's preemption checks).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>

namespace goro {

namespace detail {
// Returns false (and does nothing) outside a goroutine, or inside a blocking
// call already. `handoff`: give the P away now (entersyscallblock) instead of
// leaving it in state syscall for exitsyscall to take back.
bool entersyscall(bool handoff) noexcept;
void exitsyscall() noexcept;

class syscall_scope {
 public:
  explicit syscall_scope(bool handoff) noexcept : entered_(entersyscall(handoff)) {}
  ~syscall_scope() {
    if (entered_) exitsyscall();
  }
  syscall_scope(const syscall_scope&) = delete;
  syscall_scope& operator=(const syscall_scope&) = delete;

 private:
  bool entered_;
};

// How many Ps have a preemption request outstanding, process-wide. Lets
// preempt_point() cost one relaxed load when nobody is asked to yield.
extern std::atomic<std::uint32_t> preempt_pending;
// Serves a pending request (sched/goroutine.cpp). Cold: reached only when
// some P has been asked to yield, so its call stays off the hot path.
[[gnu::cold]] void preempt_slow();
}  // namespace detail

// Runs f() as a system call: a call that may block the thread (a read from a
// pipe, a lock from another library, a DNS lookup). The goroutine's P stays
// attached in state syscall, so a quick call costs almost nothing. If the
// call is still running after a sysmon tick while other goroutines wait,
// sysmon hands the P to another M (retake/handoffp) so they keep running.
// When f returns, the goroutine takes its P back if nobody took it, else any
// idle P, else it waits in the global run queue while its thread parks.
// Returns what f returns; an exception from f passes through after the
// goroutine is back on a P. Outside a goroutine it simply calls f.
//
// Inside f the goroutine holds no P: goro calls made there behave as if made
// from a foreign thread (wait_group::wait blocks the thread, go() injects
// into the global queue).
template <class F>
decltype(auto) blocking(F&& f) {
  detail::syscall_scope scope(false);
  return std::invoke(std::forward<F>(f));
}

// As blocking(), for a call known to block for long: the P is handed to
// another M at once instead of after a sysmon tick (Go's entersyscallblock).
template <class F>
decltype(auto) blocking_long(F&& f) {
  detail::syscall_scope scope(true);
  return std::invoke(std::forward<F>(f));
}

// A cooperative preemption point for long loops: if sysmon has asked the
// running goroutine to yield (it ran longer than options::time_slice), it
// yields here. One relaxed load when no preemption is pending anywhere.
inline void preempt_point() {
  if (detail::preempt_pending.load(std::memory_order_relaxed) != 0) [[unlikely]]
    detail::preempt_slow();
}

}  // namespace goro
