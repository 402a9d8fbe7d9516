#include "context/overflow.hpp"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "context/context.hpp"
#include "context/stack.hpp"
#include "sched/runtime.hpp"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace goro::detail {

namespace {

// The program's SIGSEGV disposition before goro's handler: written once, in
// install_overflow_handler, before our handler is installed (so the handler
// never reads it half-written; the sigaction system call that installs ours
// orders the write before any delivery), read only by the handler.
struct sigaction previous_segv;
// One page: the guard region below every guarded stack. Set before the
// handler is installed (page_size() has a static local, which a handler
// should not be the first to initialise).
std::size_t guard_bytes = 0;
// The kernel's signal frame size (AT_MINSIGSTKSZ, with this CPU's XSAVE
// area) plus the red zone below the interrupted stack pointer; set with
// guard_bytes.
std::size_t signal_frame_bytes = 0;

void write_all(const char* s, std::size_t n) {
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Appends the decimal digits of v at p; returns the end.
char* put_u64(char* p, std::uint64_t v) {
  char tmp[20];
  int n = 0;
  do tmp[n++] = static_cast<char>('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

char* put_str(char* p, const char* s) {
  while (*s) *p++ = *s++;
  return p;
}

// A fault that is not ours: what the kernel would have done without goro.
// A previous handler is called as the kernel would have called it (with
// siginfo and context if it asked for them). SIG_DFL: restore the default
// action and let it happen: a hardware fault re-executes the faulting
// instruction when we return and faults again, now fatally (the core dump
// shows the real fault); a signal someone sent (si_code <= 0: kill, tgkill,
// sigqueue) is sent again, and arrives when we return because the handler
// runs with SIGSEGV blocked. SIG_IGN: a sent signal is ignored; a hardware
// fault cannot be (the kernel kills a thread whose fault signal is ignored),
// so it gets the default action too. Not emulated: the previous handler's
// sa_mask and SA_RESETHAND / SA_NODEFER flags.
void pass_on(int sig, siginfo_t* info, void* uctx) {
  const struct sigaction& p = previous_segv;
  const bool sent = info && info->si_code <= 0;
  if (p.sa_handler == SIG_IGN && sent) return;
  if (p.sa_handler == SIG_DFL || p.sa_handler == SIG_IGN) {
    struct sigaction d;
    std::memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    sigemptyset(&d.sa_mask);
    sigaction(sig, &d, nullptr);
    if (sent || !info) raise(sig);
    return;
  }
  if (p.sa_flags & SA_SIGINFO) p.sa_sigaction(sig, info, uctx);
  else p.sa_handler(sig);
}

// On the M's alternate stack. A fault at most one page below the running
// goroutine's lowest stack byte is an overflow into its guard region (both
// guarded modes put it there; in the unguarded mode that page is another
// stack or unmapped, and a fault there is an overflow as well). A frame
// larger than a page can step over the guard into the memory below it
// (another pooled stack's top): that is not caught here, as in C generally.
__attribute__((no_sanitize("address", "undefined"))) void segv_handler(int sig, siginfo_t* info,
                                                                       void* uctx) {
  int saved_errno = errno;
  if (g* gp = getg(); gp && gp->stk && info) {
    auto a = reinterpret_cast<std::uintptr_t>(info->si_addr);
    auto lo = reinterpret_cast<std::uintptr_t>(gp->stk.lo);
    if (a < lo && lo - a <= guard_bytes) stack_overflow(gp->goid, gp->stk.size);
#if defined(__x86_64__)
    // A signal (sysmon's SIGURG, say: its handler has no alternate stack)
    // arrived when the goroutine had less stack left than the kernel's
    // signal frame: the kernel's write into the guard failed and it sent
    // SIGSEGV instead, with si_code SI_KERNEL and no address. Recognised by
    // the interrupted stack pointer being within one frame of the bottom;
    // a general-protection fault (also SI_KERNEL) exactly there would be
    // misnamed, but that goroutine is out of stack all the same.
    if (info->si_code == SI_KERNEL && uctx) {
      auto sp = static_cast<std::uintptr_t>(
          static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_RSP]);
      if (sp >= lo && sp - lo < signal_frame_bytes) stack_overflow(gp->goid, gp->stk.size);
    }
#endif
  }
  pass_on(sig, info, uctx);
  errno = saved_errno;
}

std::size_t altstack_bytes() {
  // Room for the kernel's signal frame (with this CPU's whole XSAVE area:
  // _SC_MINSIGSTKSZ accounts for it) and for a handler we pass a fault on
  // to, which may print a report from here (ASan's does, with a stack trace).
  long min = sysconf(_SC_MINSIGSTKSZ);
  std::size_t want = asan ? 256 * 1024 : 64 * 1024;
  if (min > 0) want = std::max(want, 4 * static_cast<std::size_t>(min));
  std::size_t ps = stack_allocator::page_size();
  return (want + ps - 1) / ps * ps;
}

}  // namespace

void stack_overflow(std::uint64_t goid, std::size_t stack_size) {
  char buf[192];
  char* p = put_str(buf, "goro: stack overflow in goroutine ");
  p = put_u64(p, goid);
  p = put_str(p, " (stack_size ");
  p = put_u64(p, stack_size);
  p = put_str(p, " bytes); raise goro::options::stack_size\n");
  write_all(buf, static_cast<std::size_t>(p - buf));
  std::abort();
}

void install_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    guard_bytes = stack_allocator::page_size();
    long frame = sysconf(_SC_MINSIGSTKSZ);
    signal_frame_bytes = 128 + static_cast<std::size_t>(frame > 0 ? frame : MINSIGSTKSZ);
    sigaction(SIGSEGV, nullptr, &previous_segv);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    // SA_ONSTACK: the overflowed stack has no room for the signal frame.
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
  });
}

signal_stack::signal_stack() {
  const std::size_t ps = stack_allocator::page_size(), size = altstack_bytes();
  void* p = mmap(nullptr, ps + size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return;  // no alternate stack: an overflow is a plain SIGSEGV
  // A guard region below it where that costs no kernel map (an mprotect'd
  // page would cost two per M; without one, a handler overflowing this stack
  // runs into whatever lies below, as with sigaltstack generally).
  if (stack_allocator::guarded_mode() == guard_mode::madvise)
    (void)madvise(p, ps, MADV_GUARD_INSTALL);
  stack_t ss;
  std::memset(&ss, 0, sizeof ss);
  ss.ss_sp = static_cast<char*>(p) + ps;
  ss.ss_size = size;
  if (sigaltstack(&ss, &prev_) != 0) {
    munmap(p, ps + size);
    return;
  }
  map_ = p;
  map_bytes_ = ps + size;
  set_ = true;
}

signal_stack::~signal_stack() {
  if (!set_) return;
  // The previous one back first (SS_DISABLE if there was none): the kernel
  // must not deliver a signal onto memory we are about to unmap.
  sigaltstack(&prev_, nullptr);
  munmap(map_, map_bytes_);
}

}  // namespace goro::detail
