// goro: runtime options, validated by goro::run.
#pragma once
#include <chrono>
#include <cstddef>

namespace goro {

// options::detect_deadlock: when run() reports a deadlock (see there). A
// class rather than an enum so that the former bool still converts:
// `false` is off, `true` is the default (automatic).
class deadlock_detection {
 public:
  enum mode : unsigned char { off, automatic, always };
  constexpr deadlock_detection(mode m = automatic) noexcept : mode_(m) {}
  constexpr deadlock_detection(bool on) noexcept : mode_(on ? automatic : off) {}
  constexpr mode get() const noexcept { return mode_; }
  constexpr explicit operator bool() const noexcept { return mode_ != off; }
  friend constexpr bool operator==(deadlock_detection a, deadlock_detection b) noexcept {
    return a.mode_ == b.mode_;
  }

 private:
  mode mode_;
};

// Options for one goro::run. Every field is validated when run starts; a value
// out of range throws std::invalid_argument naming the field, the value and the
// allowed range.
struct options {
  // Number of Ps (GOMAXPROCS). 0 means: the GORO_MAXPROCS environment variable
  // if set, else the number of hardware threads. Range 0..1024.
  unsigned procs = 0;
  // Usable bytes per goroutine stack, rounded up to whole pages.
  // Range 24 KiB .. 1 GiB: an asynchronous preemption needs up to ~16 KiB of
  // the stack (the CPU's register save area, 11 KiB with AMX, and the
  // scheduler's frames). An overflow ends the process with "goro: stack
  // overflow in goroutine N (stack_size S bytes); raise
  // goro::options::stack_size".
  std::size_t stack_size = 256 * 1024;
  // true: every stack gets a guard page below it, so an overflow faults at
  // once and is reported. On Linux 6.13+ the guards are MADV_GUARD_INSTALL
  // regions in pooled mappings, which cost no kernel map: a million live
  // goroutines work with the defaults. On older kernels (or with
  // GORO_STACK_GUARD_MODE=mprotect in the environment) each stack is its own
  // mapping with an mprotect'd guard page, two kernel maps, and
  // vm.max_map_count (65530 by default) caps live goroutines near 32
  // thousand; goro::go reports that limit in its error.
  // false: pooled stacks with no guard page; a canary at the bottom of each
  // stack is checked at every switch, catching an overflow after the fact.
  bool stack_guard = true;
  // Go's forcePreemptNS: a goroutine that has run this long since it was
  // scheduled, without reaching a scheduling point, is preempted by sysmon.
  // Range 100 µs .. 60 s.
  std::chrono::nanoseconds time_slice = std::chrono::milliseconds(10);
  // Preempt goroutines that never reach a scheduling point (a loop with no
  // calls) with a signal, as Go does since 1.14. The signal handler preempts
  // only in user code, never inside libc, the loader, libstdc++ or the
  // runtime, and saves every register including the vector ones. Off: such
  // a loop keeps its P until it calls yield() or preempt_point(). It is
  // always off under ThreadSanitizer (which defers signals) and on CPUs
  // other than x86-64. Goroutine code that keeps the address of a
  // thread_local (or of errno) across an arbitrary point should turn it off:
  // a preempted goroutine may resume on another thread.
  bool async_preempt = true;
  // Most OS threads (Ms) the runtime may create (Go's debug.SetMaxThreads).
  // Goroutines in blocking calls each hold one. Exceeding it ends the process
  // with a message naming this option. Range: procs .. 1,000,000.
  unsigned max_threads = 10000;
  // Go's deadlock detection: when every goroutine is asleep and nothing can
  // wake one (none runnable, none in a blocking call, no timer pending, no
  // socket waited for), run() throws goro::deadlock instead of hanging.
  // automatic (the default, and what `true` means): reported only when the
  // runtime can also prove that no thread outside it can wake a goroutine:
  // the process has no thread besides the runtime's own and those declared
  // with goro::deadlock_bystander(). While any other thread exists (a
  // std::thread feeding a channel, a thread pool), nothing is reported: a
  // correct program is never killed, as Go never kills a cgo program.
  // always: report even while other threads exist (they are assumed never
  // to wake a goroutine). off (`false`): never report; a deadlock hangs.
  deadlock_detection detect_deadlock = deadlock_detection::automatic;
};

}  // namespace goro
