// Goroutine dumps (Go's traceback on SIGQUIT), the pprof goroutine profile
// and goroutine names. spec/dumps.md has the formats and the reasoning; in
// short:
//  - Stacks are taken with the world stopped (stop_the_world), so no
//    goroutine whose stack we walk can run meanwhile. A parked or runnable
//    G's stack is walked from its saved context (g::ctx) by libgcc's DWARF
//    unwinder run on that very stack (unwind_on_stack below); the caller's
//    own stack is walked in place; a G inside blocking() runs on its thread,
//    which is asked for its stack by a signal (capture_thread_stack).
//  - Symbols come after the world has started again: libbacktrace (GCC's,
//    linked in when found: DWARF function names, inlined frames, file:line),
//    else dladdr's dynamic symbols.
#include "sched/dump.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unwind.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "goro/debug.hpp"
#include "goro/goro.hpp"
#include "sched/coarse_clock.hpp"
#include "sched/internal.hpp"

#ifdef GORO_HAVE_LIBBACKTRACE
#include <backtrace.h>
#endif
#ifdef GORO_ASAN
#include <sanitizer/asan_interface.h>
#endif

// unwind_on_stack(ctx, fn, arg): calls fn(arg) on the stack of the parked
// context `ctx` (a Boost.Context fcontext_t, x86-64 System V), with fn's
// frame made to look called from the point where the context was saved, so
// that an unwinder started in fn walks on into the parked goroutine's
// frames with the right register values.
//
// Boost 1.74's jump_fcontext (jump_x86_64_sysv_elf_gas.S) leaves at ctx:
//   +0x00 mxcsr, x87 cw   +0x08 r12  +0x10 r13  +0x18 r14  +0x20 r15
//   +0x28 rbx  +0x30 rbp  +0x38 return address (the resume PC)
// and resumes with rsp = ctx + 0x40. So we load the callee-saved registers
// from there, point rsp at the return address, push our own stack pointer
// below it and call fn. The CFI says: at the call, the CFA is ctx + 0x40
// (rsp + 16), the return address is at CFA - 8 (the resume PC) and the
// callee-saved registers hold the parked values (same value), which is
// exactly the resumed frame's view. The push and fn's frame overwrite the
// saved registers below ctx + 0x38, so the caller keeps a copy and puts it
// back (the memory below, down to the stack's bottom, is unused while the
// goroutine is parked). x86-64 only: elsewhere parked stacks are not walked.
#if defined(__x86_64__)
asm(R"(
  .text
  .p2align 4
  .type goro_unwind_on_stack, @function
  .hidden goro_unwind_on_stack
  .globl goro_unwind_on_stack
goro_unwind_on_stack:
  .cfi_startproc
  pushq %rbp
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %rbp, 0
  pushq %rbx
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %rbx, 0
  pushq %r12
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r12, 0
  pushq %r13
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r13, 0
  pushq %r14
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r14, 0
  pushq %r15
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r15, 0
  movq %rsp, %rcx
  movq %rsi, %r11
  movq %rdx, %rax
  movq 0x08(%rdi), %r12
  movq 0x10(%rdi), %r13
  movq 0x18(%rdi), %r14
  movq 0x20(%rdi), %r15
  movq 0x28(%rdi), %rbx
  movq 0x30(%rdi), %rbp
  .cfi_remember_state
  leaq 0x38(%rdi), %rsp
  pushq %rcx
  .cfi_def_cfa %rsp, 16
  .cfi_same_value %rbp
  .cfi_same_value %rbx
  .cfi_same_value %r12
  .cfi_same_value %r13
  .cfi_same_value %r14
  .cfi_same_value %r15
  movq %rax, %rdi
  callq *%r11
  movq (%rsp), %rsp
  .cfi_restore_state
  popq %r15
  .cfi_adjust_cfa_offset -8
  popq %r14
  .cfi_adjust_cfa_offset -8
  popq %r13
  .cfi_adjust_cfa_offset -8
  popq %r12
  .cfi_adjust_cfa_offset -8
  popq %rbx
  .cfi_adjust_cfa_offset -8
  popq %rbp
  .cfi_adjust_cfa_offset -8
  ret
  .cfi_endproc
  .size goro_unwind_on_stack, .-goro_unwind_on_stack
  .hidden goro_unwind_on_stack_end
  .globl goro_unwind_on_stack_end
goro_unwind_on_stack_end:
)");
constexpr bool can_walk_parked = true;
#else
constexpr bool can_walk_parked = false;
extern "C" void goro_unwind_on_stack(void*, void (*)(void*), void*) {}
extern "C" char goro_unwind_on_stack_end[1];
#endif

extern "C" void goro_unwind_on_stack(void* ctx, void (*fn)(void*), void* arg);
extern "C" char goro_unwind_on_stack_end[];

namespace goro::detail {

namespace {

// ---- Capturing PCs ---------------------------------------------------------

struct unwind_arg {
  pcstack* out;
  bool from_signal;  // record only from the interrupted frame on
  bool started;
};

_Unwind_Reason_Code collect_frame(_Unwind_Context* ctx, void* p) {
  auto* a = static_cast<unwind_arg*>(p);
  int before = 0;
  std::uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
  if (ip == 0) return _URC_END_OF_STACK;
  if (!a->started) {
    // Signal capture: the handler's frames and the kernel's sigreturn
    // trampoline come first; the interrupted frame is the first one whose
    // IP is the instruction itself (ip_before_insn), not a return address.
    if (a->from_signal && !before) return _URC_NO_REASON;
    a->started = true;
  }
  if (a->out->n >= max_stack_frames) return _URC_END_OF_STACK;
  // A return address less one lies in the call instruction (its line).
  a->out->pc[a->out->n++] = before ? ip : ip - 1;
  return _URC_NO_REASON;
}

// Runs on the parked G's stack (unwind_on_stack). Not inlined, so its frame
// and the stub's are the first ones the unwinder sees; they are dropped
// below (everything up to the stub).
[[gnu::noinline]] void unwind_here(void* p) {
  auto* a = static_cast<unwind_arg*>(p);
  _Unwind_Backtrace(collect_frame, a);
}

// Drops the frames up to and including the one in the stub.
void drop_through_stub(pcstack& s) {
  auto lo = reinterpret_cast<std::uintptr_t>(&goro_unwind_on_stack);
  auto hi = reinterpret_cast<std::uintptr_t>(goro_unwind_on_stack_end);
  for (int i = 0; i < s.n; i++) {
    if (s.pc[i] >= lo && s.pc[i] < hi) {
      std::memmove(s.pc, s.pc + i + 1, sizeof(std::uintptr_t) * (s.n - i - 1));
      s.n -= i + 1;
      return;
    }
  }
  s.n = 0;  // the stub was not found: trust nothing
}

// The saved-register area unwind_on_stack overwrites. No TSan or ASan
// instrumentation: these bytes belong to the parked context, written by
// jump_fcontext's assembly (which no sanitizer sees) and read back by it.
constexpr std::size_t saved_area = 0x40;
__attribute__((no_sanitize("address", "thread"))) void copy_raw(void* to, const void* from) {
  auto* d = static_cast<volatile unsigned char*>(to);
  auto* s = static_cast<const volatile unsigned char*>(from);
  for (std::size_t i = 0; i < saved_area; i++) d[i] = s[i];
}

// Room the unwinder needs below a parked context: unwind_here, libgcc's
// frames (an _Unwind_Context and a frame state, ~1.5 KiB) and ASan's
// redzones, with a wide margin. A G parked nearer its stack's bottom is
// shown without its stack.
constexpr std::size_t unwind_room = 16 * 1024;

// Walks parked gp's stack. World stopped: gp cannot run meanwhile.
bool unwind_parked(g* gp, pcstack& out) {
  out.n = 0;
  void* ctx = gp->ctx;
  if (!can_walk_parked || !ctx || !gp->stk) return false;
  auto c = reinterpret_cast<std::uintptr_t>(ctx);
  auto lo = reinterpret_cast<std::uintptr_t>(gp->stk.lo);
  auto hi = reinterpret_cast<std::uintptr_t>(gp->stk.hi());
  if (c < lo + unwind_room || c + saved_area > hi) return false;
  unsigned char save[saved_area];
  copy_raw(save, ctx);
  unwind_arg a{&out, false, false};
  goro_unwind_on_stack(ctx, unwind_here, &a);
  copy_raw(ctx, save);
#ifdef GORO_ASAN
  // Our frames down there left no poison (each returned), but say so: the
  // goroutine's unused stack is clean for its own frames later.
  __asan_unpoison_memory_region(gp->stk.lo, c - lo);
#endif
  drop_through_stub(out);
  return out.n > 0;
}

[[gnu::noinline]] void unwind_self(pcstack& out) {
  out.n = 0;
  unwind_arg a{&out, false, false};
  _Unwind_Backtrace(collect_frame, &a);
}

// ---- Capturing another thread's stack (a signal) ----------------------------

int capture_signo() { return SIGRTMIN + 3; }

// std::atomic, not detail::atomic (here and sigquit_pending): read and
// written in a signal handler, which can run in a simulation session (a
// goroutine dump), and a scheduling point there would enter the controller
// from signal context. The requester's wait on `done` is a raw futex, the
// kernel's (spec/simulation.md, "Determinism").
struct capture_slot {
  std::atomic<int> tid{0};  // the thread asked; 0: no request
  std::atomic<std::uint32_t> done{0};
  pcstack buf;
};
capture_slot capture;
std::mutex& capture_mu() {
  static auto* mu = new std::mutex;  // never destroyed: sysmon may use it late
  return *mu;
}
std::atomic<bool> capture_installed{false};

void capture_handler(int, siginfo_t*, void*) {
  int saved = errno;
  // acquire: pairs with the requester's release store of tid (buf reset).
  int want = capture.tid.load(std::memory_order_acquire);
  if (want != 0 && want == static_cast<int>(syscall(SYS_gettid))) {
    capture.buf.n = 0;
    unwind_arg a{&capture.buf, true, false};
    _Unwind_Backtrace(collect_frame, &a);
    // release: the requester reads buf after it sees done.
    capture.done.store(1, std::memory_order_release);
    syscall(SYS_futex, &capture.done, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  errno = saved;
}

bool install_capture_handler() {
  if (capture_installed.load(std::memory_order_acquire)) return true;
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (sigaction(capture_signo(), nullptr, &old) != 0) return;
    // The program's own use of the signal wins: we capture nothing then.
    if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) return;
    // Warm the unwinder up off the signal path (its first call sets up its
    // lookup of unwind tables).
    pcstack warm;
    unwind_self(warm);
    struct sigaction sa {};
    sa.sa_sigaction = capture_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    if (sigaction(capture_signo(), &sa, nullptr) == 0)
      capture_installed.store(true, std::memory_order_release);
  });
  return capture_installed.load(std::memory_order_acquire);
}

// ---- Symbols ------------------------------------------------------------------

struct frame {
  std::string func;  // demangled
  std::string file;  // empty: unknown
  int line = 0;
};

std::string demangle(const char* s) {
  if (!s) return {};
  int status = 0;
  char* d = abi::__cxa_demangle(s, nullptr, nullptr, &status);
  std::string r = status == 0 && d ? d : s;
  std::free(d);
  return r;
}

#ifdef GORO_HAVE_LIBBACKTRACE
backtrace_state* bt_state() {
  // Never freed (libbacktrace has no destructor); created on first use,
  // threaded: dumps and the stall warning may symbolize at once.
  static backtrace_state* st = backtrace_create_state(
      nullptr, 1, [](void*, const char*, int) {}, nullptr);
  return st;
}
#endif

// The inlined call chain at pc, innermost first (at least one frame).
std::vector<frame> symbolize_uncached(std::uintptr_t pc) {
  std::vector<frame> fs;
#ifdef GORO_HAVE_LIBBACKTRACE
  if (backtrace_state* st = bt_state()) {
    backtrace_pcinfo(
        st, pc,
        [](void* d, std::uintptr_t, const char* file, int line, const char* fn) -> int {
          if (!fn) return 0;
          static_cast<std::vector<frame>*>(d)->push_back({demangle(fn), file ? file : "", line});
          return 0;
        },
        [](void*, const char*, int) {}, &fs);
    // The function that holds pc, by its ELF symbol: qualified (DWARF's
    // name of a function is often its bare name). Names the outermost
    // frame, or is the only one without debug information.
    std::string sym;
    backtrace_syminfo(
        st, pc,
        [](void* d, std::uintptr_t, const char* name, std::uintptr_t, std::uintptr_t) {
          if (name) *static_cast<std::string*>(d) = demangle(name);
        },
        [](void*, const char*, int) {}, &sym);
    if (!sym.empty() && !fs.empty()) fs.back().func = sym;
    if (fs.empty() && !sym.empty()) fs.push_back({sym, "", 0});
  }
#endif
  if (fs.empty()) {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_sname)
      fs.push_back({demangle(info.dli_sname), "", 0});
    else if (info.dli_fname) fs.push_back({"?", info.dli_fname, 0});
    else fs.push_back({"?", "", 0});
  }
  return fs;
}

// One dump's symbols: the same few PCs recur in thousands of goroutines,
// and each lookup reads DWARF tables. Only the dumping thread uses it.
struct symcache {
  std::map<std::uintptr_t, std::vector<frame>> m;
  const std::vector<frame>& operator()(std::uintptr_t pc) {
    auto it = m.find(pc);
    if (it == m.end()) it = m.emplace(pc, symbolize_uncached(pc)).first;
    return it->second;
  }
};

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// The frames below a goroutine's own function: the runtime's entry, the
// task wrapper and the go() closure. A dump stops before them, as Go's
// traceback stops at goexit.
bool is_entry_frame(const std::string& f) {
  return starts_with(f, "goro::detail::task_impl<") || starts_with(f, "goro::go<") ||
         starts_with(f, "goro::detail::run_task") || starts_with(f, "goro::detail::g_entry") ||
         starts_with(f, "goro::detail::main_task") || starts_with(f, "goro::run<") ||
         starts_with(f, "goro::detail::run_main");
}

bool ends_with(const std::string& s, const char* p) {
  std::size_t n = std::strlen(p);
  return s.size() >= n && s.compare(s.size() - n, n, p) == 0;
}

// Inlined frames of the plumbing between a goroutine's entry and its
// function: go() and run() (goro.hpp) and std::invoke's layers.
bool is_plumbing(const frame& f) {
  return ends_with(f.file, "/goro/goro.hpp") || ends_with(f.file, "/bits/invoke.h") ||
         ends_with(f.file, "/functional");
}

// The symbolized, trimmed stack: every pc's inline chain, innermost first,
// without the switch itself on top (a parked G's stack starts at gopark, as
// Go's does) and stopping at the goroutine's entry.
std::vector<frame> symbolize_stack(const pcstack& s, symcache& symbolize) {
  std::vector<frame> out;
  for (int i = 0; i < s.n; i++) {
    for (const frame& f : symbolize(s.pc[i])) {
      if (is_entry_frame(f.func)) return out;
      if (is_plumbing(f)) continue;
      if (out.empty() && starts_with(f.func, "goro::detail::switch_")) continue;
      out.push_back(f);
    }
  }
  return out;
}

// The function with the go statement: the first frame at gopc that is not
// go() itself (always inlined, so it shows as an inlined frame of
// goro.hpp, or, without debug information, not at all).
frame creator_frame(std::uintptr_t gopc, symcache& symbolize) {
  const std::vector<frame>& fs = symbolize(gopc - 1);
  for (const frame& f : fs)
    if (!is_plumbing(f)) return f;
  return fs.back();
}

void write_frame(std::ostream& o, const frame& f) {
  o << f.func << (f.func.find('(') == std::string::npos ? "(...)" : "") << "\n\t"
    << (f.file.empty() ? "?" : f.file) << ':' << f.line << '\n';
}

// ---- The snapshot ----------------------------------------------------------------

struct gsnap {
  std::uint64_t goid = 0;
  gstatus status = gstatus::dead;
  wait_reason reason = wait_reason::zero;
  std::int64_t waitsince = 0;
  bool locked = false;
  bool self = false;
  bool have_stack = false;
  const char* no_stack = nullptr;  // why not, when !have_stack
  std::string label;
  std::uintptr_t gopc = 0;
  std::uint64_t parent = 0;
  pcstack stk;
};

// Takes every live G's state and stack. Runs on a G with a P (the dumping
// goroutine) with the world stopped around the walk.
// `exclude`: a G not to show (the helper goroutine a foreign thread's dump
// runs on).
std::vector<gsnap> take_snapshot(g* exclude) {
  std::vector<gsnap> snaps;
  nopreempt np;
  m* mp = getm();
  runtime& rt = *mp->rt;
  g* self = mp->curg.load(std::memory_order_relaxed);
  install_capture_handler();  // before the stop: it may take a lock
  // One stop-the-world at a time (as gomaxprocs); parking here may move us.
  rt.world_sema.acquire();
  mp = getm();
  std::vector<std::pair<g*, int>> curgs;  // what each M runs, and its thread
  stop_the_world(mp);
  {
    sched_guard l(rt.sched);  // before allg_mu (the lock order)
    for (m* m1 : l->allm)
      if (g* c = m1->curg.load(std::memory_order_relaxed)) curgs.emplace_back(c, m1->tid);
  }
  {
    std::lock_guard lk(rt.allg_mu);
    snaps.reserve(rt.allgs.size());
    for (g* gp : rt.allgs) {
      gstatus st = gp->status.load(std::memory_order_relaxed);
      if (st == gstatus::dead || st == gstatus::idle || gp == exclude) continue;
      gsnap& s = snaps.emplace_back();
      s.goid = gp->goid;
      s.status = st;
      s.reason = gp->waitreason.load(std::memory_order_relaxed);
      s.waitsince = gp->waitsince;
      s.locked = gp->lockedm.load(std::memory_order_relaxed) != nullptr;
      if (gp->label) s.label = *gp->label;
      s.gopc = gp->is_main ? 0 : gp->gopc;
      s.parent = gp->parentgoid;
      s.self = gp == self;
      int tid = 0;
      for (auto& [c, t] : curgs)
        if (c == gp) tid = t;
      if (s.self) {
        s.status = gstatus::running;
        unwind_self(s.stk);
        s.have_stack = s.stk.n > 0;
      } else if (tid != 0) {
        // On a thread: in a blocking call (syscall), or on its way into the
        // run queue from one (exitsyscall's slow path): its saved context
        // may be stale, so only its thread can say where it is.
        s.have_stack = capture_thread_stack(tid, s.stk, 200'000'000);
        if (!s.have_stack) s.no_stack = "its thread did not answer";
      } else if (st == gstatus::running || st == gstatus::syscall) {
        s.no_stack = "running on no known thread";
      } else if (!gp->ctx) {
        s.no_stack = "not started";
      } else {
        s.have_stack = unwind_parked(gp, s.stk);
        if (!s.have_stack) s.no_stack = "parked too near its stack's end to walk";
      }
    }
  }
  start_the_world(mp, rt.gomaxprocs.load(std::memory_order_relaxed));
  rt.world_sema.release();
  // The caller first, then by id, as Go prints them.
  std::sort(snaps.begin(), snaps.end(), [](const gsnap& a, const gsnap& b) {
    if (a.self != b.self) return a.self;
    return a.goid < b.goid;
  });
  // The self frames above the public entry are the dump's own.
  for (gsnap& s : snaps) {
    if (!s.self) continue;
    std::vector<frame> fs;
    int cut = 0;
    symcache symbolize;
    for (int i = 0; i < s.stk.n; i++) {
      bool ours = false;
      for (const frame& f : symbolize(s.stk.pc[i]))
        if (starts_with(f.func, "goro::dump_goroutines") ||
            starts_with(f.func, "goro::write_goroutine_profile") ||
            starts_with(f.func, "goro::detail::"))
          ours = true;
      if (!ours) break;
      cut = i + 1;
    }
    std::memmove(s.stk.pc, s.stk.pc + cut, sizeof(std::uintptr_t) * (s.stk.n - cut));
    s.stk.n -= cut;
  }
  return snaps;
}

// From a thread without a P (a foreign thread, a G inside blocking(),
// sysmon): a helper goroutine takes the snapshot, and the thread waits.
std::vector<gsnap> snapshot_any() {
  {
    nopreempt np;
    m* mp = getm();
    if (mp && mp->p_) return take_snapshot(nullptr);
  }
  struct req {
    std::vector<gsnap> snaps;
    std::exception_ptr exc;
    note done;
  } r;
  goro::go([&r] {
    try {
      r.snaps = take_snapshot(getg());
    } catch (...) {
      r.exc = std::current_exception();
    }
    r.done.wakeup();
  });
  r.done.sleep();
  if (r.exc) std::rethrow_exception(r.exc);
  return std::move(r.snaps);
}

std::string status_text(const gsnap& s, std::int64_t now) {
  std::string t;
  switch (s.status) {
    case gstatus::waiting: {
      const char* w = wait_reason_name(s.reason);
      t = *w ? w : "waiting";
      break;
    }
    default: t = gstatus_name(s.status);
  }
  // Go: ", N minutes" once a goroutine has waited a minute or more.
  if (s.status == gstatus::waiting && s.waitsince > 0) {
    std::int64_t mins = (now - s.waitsince) / 60'000'000'000LL;
    if (mins >= 1) t += ", " + std::to_string(mins) + " minutes";
  }
  if (s.locked) t += ", locked to thread";
  return t;
}

void write_header(std::ostream& o, std::uint64_t goid, const std::string& label,
                  const std::string& status) {
  o << "goroutine " << goid;
  if (!label.empty()) o << " \"" << label << '"';
  o << " [" << status << "]:\n";
}

void write_dump(std::ostream& o, const std::vector<gsnap>& snaps) {
  symcache sc;
  std::int64_t now = nanotime();
  bool first = true;
  for (const gsnap& s : snaps) {
    if (!first) o << '\n';
    first = false;
    write_header(o, s.goid, s.label, status_text(s, now));
    if (s.have_stack) {
      for (const frame& f : symbolize_stack(s.stk, sc)) write_frame(o, f);
    } else {
      o << "\t(stack unavailable: " << (s.no_stack ? s.no_stack : "?") << ")\n";
    }
    if (s.gopc) {
      frame c = creator_frame(s.gopc, sc);
      o << "created by " << c.func;
      if (s.parent) o << " in goroutine " << s.parent;
      o << "\n\t" << (c.file.empty() ? "?" : c.file) << ':' << c.line << '\n';
    }
  }
  o.flush();
}

// ---- profile.proto ------------------------------------------------------------------

// A minimal protobuf writer: varints and length-delimited fields.
struct pb {
  std::string b;
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      b.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    b.push_back(static_cast<char>(v));
  }
  void key(int field, int wire) { varint(static_cast<std::uint64_t>(field) << 3 | wire); }
  void u64(int field, std::uint64_t v) {  // also int64 >= 0 and bool
    key(field, 0);
    varint(v);
  }
  void bytes(int field, const std::string& s) {
    key(field, 2);
    varint(s.size());
    b += s;
  }
  void msg(int field, const pb& m) { bytes(field, m.b); }
  void packed(int field, const std::vector<std::uint64_t>& vs) {
    pb p;
    for (std::uint64_t v : vs) p.varint(v);
    bytes(field, p.b);
  }
};

struct strtab {
  std::vector<std::string> s{""};
  std::map<std::string, std::uint64_t> idx{{"", 0}};
  std::uint64_t operator()(const std::string& v) {
    auto [it, fresh] = idx.emplace(v, s.size());
    if (fresh) s.push_back(v);
    return it->second;
  }
};

struct mapping {
  std::uintptr_t start, limit, offset;
  std::string file;
};

std::vector<mapping> read_mappings() {
  std::vector<mapping> ms;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* d) -> int {
        auto* ms = static_cast<std::vector<mapping>*>(d);
        for (int i = 0; i < info->dlpi_phnum; i++) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
          std::string file = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "";
          if (file.empty() && ms->empty()) {
            char exe[4096];
            ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
            if (n > 0) file.assign(exe, static_cast<std::size_t>(n));
          }
          if (file.empty()) continue;  // the vDSO
          std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          ms->push_back({start, start + ph.p_memsz, ph.p_offset, file});
        }
        return 0;
      },
      &ms);
  return ms;
}

void write_profile(std::ostream& o, const std::vector<gsnap>& snaps) {
  symcache symbolize;
  strtab st;
  pb prof;
  // sample_type and period_type: goroutine/count, period 1 (as Go's).
  pb vt;
  vt.u64(1, st("goroutine"));
  vt.u64(2, st("count"));
  prof.msg(1, vt);
  // Samples: one per distinct (stack, name), counting the goroutines.
  std::map<std::pair<std::vector<std::uintptr_t>, std::string>, std::uint64_t> counts;
  for (const gsnap& s : snaps) {
    std::vector<std::uintptr_t> pcs;
    // Trim as the dump does: stop at the first pc whose outermost inline
    // frame is the goroutine's entry.
    bool entry = false;
    for (int i = 0; i < s.stk.n && !entry; i++) {
      // Keep a pc whose inline chain holds the goroutine's own code before
      // its entry (a main function inlined into run's wrapper).
      bool own = false;
      for (const frame& f : symbolize(s.stk.pc[i])) {
        if (is_entry_frame(f.func)) {
          entry = true;
          break;
        }
        if (!is_plumbing(f)) own = true;
      }
      if (own || !entry) pcs.push_back(s.stk.pc[i]);
    }
    counts[{pcs, s.label}]++;
  }
  std::vector<mapping> maps = read_mappings();
  std::map<std::uintptr_t, std::uint64_t> locs;                        // pc -> location id
  std::map<std::pair<std::string, std::string>, std::uint64_t> funcs;  // (name, file) -> id
  pb locations, functions;
  auto location_id = [&](std::uintptr_t pc) {
    auto [it, fresh] = locs.emplace(pc, locs.size() + 1);
    if (!fresh) return it->second;
    pb loc;
    loc.u64(1, it->second);
    for (std::size_t i = 0; i < maps.size(); i++)
      if (pc >= maps[i].start && pc < maps[i].limit) loc.u64(2, i + 1);
    loc.u64(3, pc);
    for (const frame& f : symbolize(pc)) {  // innermost first, as profile.proto's Line
      auto [fit, ffresh] = funcs.emplace(std::pair{f.func, f.file}, funcs.size() + 1);
      if (ffresh) {
        pb fn;
        fn.u64(1, fit->second);
        fn.u64(2, st(f.func));
        fn.u64(3, st(f.func));
        fn.u64(4, st(f.file));
        functions.msg(5, fn);
      }
      pb line;
      line.u64(1, fit->second);
      line.u64(2, static_cast<std::uint64_t>(f.line));
      loc.msg(4, line);
    }
    locations.msg(4, loc);
    return it->second;
  };
  for (auto& [key, n] : counts) {
    pb sample;
    std::vector<std::uint64_t> ids;
    for (std::uintptr_t pc : key.first) ids.push_back(location_id(pc));
    sample.packed(1, ids);
    sample.packed(2, {n});
    if (!key.second.empty()) {
      pb label;
      label.u64(1, st("name"));
      label.u64(2, st(key.second));
      sample.msg(3, label);
    }
    prof.msg(2, sample);
  }
  for (std::size_t i = 0; i < maps.size(); i++) {
    pb m;
    m.u64(1, i + 1);
    m.u64(2, maps[i].start);
    m.u64(3, maps[i].limit);
    m.u64(4, maps[i].offset);
    m.u64(5, st(maps[i].file));
    m.u64(7, 1);   // has_functions
    m.u64(8, 1);   // has_filenames
    m.u64(9, 1);   // has_line_numbers
    m.u64(10, 1);  // has_inline_frames
    prof.msg(3, m);
  }
  prof.b += locations.b;
  prof.b += functions.b;
  for (const std::string& s : st.s) prof.bytes(6, s);
  prof.u64(9, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()));
  prof.msg(11, vt);
  prof.u64(12, 1);
  o.write(prof.b.data(), static_cast<std::streamsize>(prof.b.size()));
  o.flush();
}

// Whether a runtime runs, for the public calls' "false when none runs".
bool runtime_running() {
  nopreempt np;
  if (m* mp = getm()) return mp->rt != nullptr;
  runtime* rt = acquire_active();
  if (!rt) return false;
  rt->release();
  return true;
}

// ---- SIGQUIT --------------------------------------------------------------------------

std::atomic<bool> sigquit_pending{false};  // set by the handler: std::atomic (see capture_slot)
bool sigquit_ours = false;                 // run's thread only (install/uninstall)
std::int64_t sigquit_started = 0;          // sysmon only: when the dumper was started

void sigquit_handler(int) {
  // Only a flag: sysmon, at its next tick (10 ms at most), does the rest.
  sigquit_pending.store(true, std::memory_order_relaxed);
}

}  // namespace

bool capture_thread_stack(int tid, pcstack& out, std::int64_t timeout_ns) {
  out.n = 0;
  if (!install_capture_handler()) return false;
  std::lock_guard lk(capture_mu());
  capture.done.store(0, std::memory_order_relaxed);
  capture.tid.store(tid, std::memory_order_release);
  if (syscall(SYS_tgkill, getpid(), tid, capture_signo()) != 0) {
    capture.tid.store(0, std::memory_order_relaxed);
    return false;
  }
  std::int64_t deadline = nanotime() + timeout_ns;
  while (capture.done.load(std::memory_order_acquire) == 0) {
    std::int64_t left = deadline - nanotime();
    if (left <= 0) break;
    timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    syscall(SYS_futex, &capture.done, FUTEX_WAIT_PRIVATE, 0, &ts, nullptr, 0);
  }
  bool ok = capture.done.load(std::memory_order_acquire) != 0;
  // A late answer finds tid 0 and writes nothing.
  capture.tid.store(0, std::memory_order_relaxed);
  // An answer that raced the store above has finished by the time done is
  // set; wait for such a one so buf is stable.
  if (ok) out = capture.buf;
  return ok && out.n > 0;
}

// allg_mu is held only inside nopreempt regions: a goroutine preempted
// while holding it would stop the dumper (which takes it with the world
// stopped) for good. (Runtime code is not preempted by the PC rule but by
// preemptoff: sysmon/preempt.cpp.)

void free_label(g* gp) noexcept {
  if (!gp->label) return;
  nopreempt np;
  std::string* l;
  {
    std::lock_guard lk(gp->rt->allg_mu);
    l = gp->label;
    gp->label = nullptr;
  }
  delete l;
}

void newg_set_label(const newg_handle& h, std::string_view name) {
  if (name.empty()) return;
  auto* l = new std::string(name);
  nopreempt np;  // see free_label
  std::lock_guard lk(h.gp->rt->allg_mu);
  delete h.gp->label;
  h.gp->label = l;
  // The trace's GoLabel for it comes with its first GoStart (trace.cpp).
}

void print_goroutine_stack(g* gp, const char* status, const pcstack& stk, bool have_stack) {
  std::string label;
  {
    std::lock_guard lk(gp->rt->allg_mu);
    if (gp->label) label = *gp->label;
  }
  std::ostringstream o;
  write_header(o, gp->goid, label, status);
  if (have_stack) {
    symcache sc;
    for (const frame& f : symbolize_stack(stk, sc)) write_frame(o, f);
  } else {
    o << "\t(stack unavailable: its thread did not answer)\n";
  }
  std::string s = o.str();
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

void sigquit_install(runtime&) {
  sigquit_ours = false;
  struct sigaction old {};
  if (sigaction(SIGQUIT, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) return;
  struct sigaction sa {};
  sa.sa_handler = sigquit_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigquit_ours = sigaction(SIGQUIT, &sa, nullptr) == 0;
}

void sigquit_uninstall(runtime&) {
  if (!sigquit_ours) return;
  struct sigaction cur {};
  // Put the default back only if the handler is still ours.
  if (sigaction(SIGQUIT, nullptr, &cur) == 0 && cur.sa_handler == sigquit_handler) {
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, nullptr);
  }
  sigquit_ours = false;
}

void sysmon_sigquit_poll(runtime& rt, std::int64_t now) {
  (void)rt;
  if (sigquit_started != 0) {
    // The dumper needs every P to reach a scheduling point; a goroutine
    // that never does (async preemption off) keeps the world from
    // stopping. Go would still print; we say so and exit as Go does.
    if (now - sigquit_started > 5'000'000'000LL) {
      const char msg[] =
          "SIGQUIT: quit\ngoro: the world did not stop within 5 s (a goroutine that never "
          "reaches a scheduling point?); exiting without a goroutine dump\n";
      (void)!write(2, msg, sizeof msg - 1);
      _exit(2);
    }
    return;
  }
  if (!sigquit_pending.load(std::memory_order_relaxed)) return;
  sigquit_pending.store(false, std::memory_order_relaxed);
  sigquit_started = now == 0 ? 1 : now;
  try {
    goro::go([] {
      std::vector<gsnap> snaps = take_snapshot(getg());
      std::ostringstream o;
      o << "SIGQUIT: quit\n\n";
      write_dump(o, snaps);
      std::string s = o.str();
      std::fwrite(s.data(), 1, s.size(), stderr);
      std::fflush(stderr);
      _exit(2);
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "SIGQUIT: quit\ngoro: cannot start the dump: %s\n", e.what());
    _exit(2);
  }
}

}  // namespace goro::detail

namespace goro {

using namespace detail;

void set_label(std::string_view name) {
  g* gp = getg();
  if (!gp) return;
  std::string* fresh = name.empty() ? nullptr : new std::string(name);
  std::string* old;
  {
    nopreempt np;  // see free_label
    std::lock_guard lk(gp->rt->allg_mu);
    old = gp->label;
    gp->label = fresh;
  }
  if (!name.empty()) trace_go_label(gp, name);  // GoLabel, if a trace runs
  delete old;
}

std::string label() {
  g* gp = getg();
  if (!gp || !gp->label) return {};
  // Only this G writes its label, so reading it here needs no lock.
  return *gp->label;
}

bool dump_goroutines(std::ostream& out) {
  if (!runtime_running()) return false;
  write_dump(out, snapshot_any());
  return true;
}

bool write_goroutine_profile(std::ostream& out) {
  if (!runtime_running()) return false;
  write_profile(out, snapshot_any());
  return true;
}

}  // namespace goro
