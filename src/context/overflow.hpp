// Stack overflow, named: a SIGSEGV handler that recognises a fault in the
// running goroutine's guard region and says so, run on an alternate signal
// stack (an overflowed stack has no room for the kernel's signal frame).
#pragma once
#include <signal.h>

#include <cstddef>
#include <cstdint>

namespace goro::detail {

// Installs goro's SIGSEGV handler, once per process (later calls do
// nothing). The handler keeps the program's previous disposition and passes
// every fault that is not a goroutine's stack overflow on to it (see
// overflow.cpp). Installed once, not at every run: a handler the program
// installs later and that chains to ours would, if we installed ours again
// on top of it, chain back to itself.
// Called from: run_main, before any M starts. Locks: none. May switch: no.
void install_overflow_handler();

// Writes "goro: stack overflow in goroutine N (stack_size S bytes); raise
// goro::options::stack_size" to stderr with write(2) and aborts.
// Async-signal-safe (no stdio, no malloc): called from the SIGSEGV handler
// and from the canary check of unguarded stacks.
// Called from: signal handler (SIGSEGV), or an M in switch_context. Locks:
// any (it never returns). May switch: no.
[[noreturn]] void stack_overflow(std::uint64_t goid, std::size_t stack_size);

// An alternate signal stack for the calling thread while the object lives
// (every M, m0 included: from its start until it leaves the scheduler). The
// destructor restores the thread's previous alternate stack (a sanitizer's,
// or the program's own on m0) and unmaps ours.
class signal_stack {
 public:
  signal_stack();
  ~signal_stack();
  signal_stack(const signal_stack&) = delete;
  signal_stack& operator=(const signal_stack&) = delete;

 private:
  void* map_ = nullptr;  // guard page + stack
  std::size_t map_bytes_ = 0;
  stack_t prev_{};
  bool set_ = false;
};

}  // namespace goro::detail
