// Preemption: sysmon's requests (preemptone) and asynchronous preemption by
// signal, for goroutines that never reach a scheduling point.
//
// Asynchronous preemption, as Go does it since 1.14, on x86-64 Linux:
//  1. sysmon sets the P's preempt flag and sends SIGURG to the P's M
//     (tgkill on the kernel thread id, so a thread that has exited is never
//     confused with another process's).
//  2. The handler runs on the interrupted thread. It preempts only at an
//     async-safe point (is_async_safe): the thread runs a goroutine, on the
//     goroutine's own stack, with the flag still set; the G is not inside
//     runtime code (g::preemptoff == 0) and the thread holds no runtime lock
//     (lock_depth == 0); and the interrupted PC lies in user code: not in
//     libc, the dynamic loader, libstdc++, libgcc, Boost.Context, a
//     sanitizer runtime, the vDSO, or our own trampoline. Otherwise it does
//     nothing and sysmon retries at its next tick, as Go does.
//  3. If safe, it makes the thread "call" goro_async_preempt on return from
//     the signal: below the interrupted stack pointer it skips the 128-byte
//     red zone (leaf code may keep live data there), pushes the interrupted
//     PC as a return address, and points the PC at the trampoline. It marks
//     the G non-preemptible so no second signal lands in the trampoline.
//  4. The trampoline saves every general register and the flags, then the
//     whole extended state with XSAVE (x87, SSE, AVX, AVX-512: whatever the
//     OS enabled), calls goro_async_preempt_park (which switches away; the G
//     waits in the global run queue, Go's gopreempt_m), and when the G is
//     resumed, perhaps on another thread, restores it all and returns to the
//     interrupted PC with `ret $128`, which also drops the red-zone gap.
#include <cpuid.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "base/build_config.hpp"
#include "context/context.hpp"
#include "sched/proc.hpp"
#include "sysmon/sysmon.hpp"

namespace goro::detail {

std::uint64_t thread_sigmask() {
  sigset_t set;
  sigemptyset(&set);
  pthread_sigmask(SIG_BLOCK, nullptr, &set);
  std::uint64_t bits = 0;
  for (int sig = 1; sig <= 64; sig++)
    if (sigismember(&set, sig) == 1) bits |= std::uint64_t{1} << (sig - 1);
  return bits;
}

void preemptone(runtime& rt, p* pp) {
  // acquire: pairs with acquirep's release store, so mp->tid is set.
  m* mp = pp->m_.load(std::memory_order_acquire);
  if (!mp) return;  // in a blocking call: retake deals with it
  request_preempt(pp);
  if (rt.opts.async_preempt && async_preempt_init() && mp->tid != 0)
    syscall(SYS_tgkill, getpid(), mp->tid, SIGURG);
}

}  // namespace goro::detail

#if defined(__x86_64__) && !defined(GORO_TSAN)
#define GORO_ASYNC_PREEMPT 1
#endif

#ifdef GORO_ASYNC_PREEMPT

// Bytes XSAVE writes with every state component the OS enabled (CPUID leaf
// 0xD). Read by the trampoline; hidden so the access needs no GOT.
extern "C" {
__attribute__((visibility("hidden"))) std::uint64_t goro_xsave_size = 0;
}

// The trampoline. On entry: [rsp] = interrupted PC, and the interrupted RSP
// is rsp + 8 + 128. Everything is restored before `ret $128`.
//
// Assembled twice from one macro, so that the mutant's copy is built (and
// stays correct but for its one line) in every build: goro_async_preempt, and
// goro_async_preempt_no_xrstor for MUTANT preempt_no_xrstor, whose
// interrupted code resumes with whatever x87/SSE/AVX state the scheduler and
// other goroutines left behind. The handler points the PC at `trampoline`,
// chosen once from detail::mutant. Both lie in [goro_async_preempt,
// goro_async_preempt_end), the range the PC rule refuses to preempt in.
asm(R"(
  .text
  .macro goro_preempt_trampoline name, restore
  .globl \name
  .hidden \name
  .type \name, @function
  .p2align 4
\name:
  pushfq
  pushq %rax
  pushq %rbx
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %rbp
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, %rbp
  subq goro_xsave_size(%rip), %rsp
  andq $-64, %rsp
  xorl %eax, %eax
  movq %rax, 512(%rsp)
  movq %rax, 520(%rsp)
  movq %rax, 528(%rsp)
  movq %rax, 536(%rsp)
  movq %rax, 544(%rsp)
  movq %rax, 552(%rsp)
  movq %rax, 560(%rsp)
  movq %rax, 568(%rsp)
  movl $-1, %eax
  movl $-1, %edx
  xsave64 (%rsp)
  cld
  call goro_async_preempt_park@PLT
  movl $-1, %eax
  movl $-1, %edx
  .if \restore
  xrstor64 (%rsp)
  .endif
  movq %rbp, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rbp
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rbx
  popq %rax
  popfq
  retq $128
  .size \name, . - \name
  .endm
  goro_preempt_trampoline goro_async_preempt, 1
  goro_preempt_trampoline goro_async_preempt_no_xrstor, 0
  .purgem goro_preempt_trampoline
  .globl goro_async_preempt_end
  .hidden goro_async_preempt_end
goro_async_preempt_end:
)");

extern "C" void goro_async_preempt();
extern "C" void goro_async_preempt_no_xrstor();
extern "C" char goro_async_preempt_end[];

namespace goro::detail {

namespace {

// The trampoline the handler injects, chosen from the build's mutant (a
// constant but in GORO_MUTANT=runtime builds, where it is set before main:
// both copies are assembled and linked in every build).
void (*const trampoline)() = mutant_on(mutant_id::preempt_no_xrstor) ? goro_async_preempt_no_xrstor
                                                                     : goro_async_preempt;

// Executable ranges of the shared objects whose code must never be
// interrupted by a preemption (they hold locks, or keep thread state, that a
// goroutine moving to another thread would break). Filled once, before the
// handler is installed, and only read afterwards.
struct code_range {
  std::uintptr_t lo, hi;
};
constexpr int max_ranges = 128;
code_range no_preempt_ranges[max_ranges];
int n_no_preempt_ranges = 0;

bool is_runtime_library(const char* name) {
  static const char* const libs[] = {
      "libc.so",  "ld-linux",         "libstdc++", "libgcc_s", "libm.so",  "libpthread", "libdl.so",
      "librt.so", "libboost_context", "libasan",   "libtsan",  "libubsan", "linux-vdso", "libgoro"};
  if (!name || !*name) return false;  // the main program: user code
  for (const char* lib : libs)
    if (std::strstr(name, lib)) return true;
  return false;
}

int collect_ranges(dl_phdr_info* info, std::size_t, void* program_bias) {
  if (!info->dlpi_name || !*info->dlpi_name) {
    // The program itself (listed first): remember where it was loaded.
    *static_cast<std::uintptr_t*>(program_bias) = info->dlpi_addr;
    return 0;
  }
  if (!is_runtime_library(info->dlpi_name)) return 0;
  for (int i = 0; i < info->dlpi_phnum && n_no_preempt_ranges < max_ranges; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    no_preempt_ranges[n_no_preempt_ranges++] = {lo, lo + ph.p_memsz};
  }
  return 0;
}

// Functions linked into the program itself that are runtime code all the
// same, recognised by their symbol names: a statically linked sanitizer
// runtime (clang links ASan and UBSan into the executable: its malloc, free
// and mem* interceptors keep per-thread caches and locks), the parts of the
// C++ ABI and unwinder that may be linked statically (__cxa_*, _Unwind_*),
// and goro's own C entry points (goro_*). Not matched by name: goro's C++
// code and std:: templates, because a goroutine's own code is routinely
// inlined into their instantiations (task_impl::invoke, std::function,
// std::for_each) and a name rule would make it unpreemptible; goro's
// runtime code is covered by g::preemptoff and lock_depth instead. Sorted and
// merged, searched by the handler; written once before the handler exists.
const std::uintptr_t* program_ranges = nullptr;  // lo0, hi0, lo1, hi1, ...
std::size_t n_program_ranges = 0;

bool is_runtime_symbol(std::string_view name) {
  static constexpr std::string_view prefixes[] = {
      "goro_", "__asan", "__lsan", "__ubsan", "__sanitizer", "__interceptor", "___interceptor",
      "_ZN6__asan", "_ZN6__lsan", "_ZN7__ubsan", "_ZN11__sanitizer", "_ZN14__interception",
      // The same namespaces' const member functions (_ZNK) and the functions
      // local to their functions (_ZZ): missing these let a preemption land
      // in ASan's allocator holding a size-class region lock, and every M
      // then blocked on it (SysmonTest.AsyncPreemptionNeverLandsInsideMalloc
      // hung under load).
      "_ZNK6__asan", "_ZNK6__lsan", "_ZNK7__ubsan", "_ZNK11__sanitizer", "_ZNK14__interception",
      "_ZZN6__asan", "_ZZN6__lsan", "_ZZN7__ubsan", "_ZZN11__sanitizer", "_ZZNK6__asan",
      "_ZZNK6__lsan", "_ZZNK7__ubsan", "_ZZNK11__sanitizer", "__cxa_", "__gxx_", "_Unwind_",
      "__dynamic_cast"};
  for (std::string_view p : prefixes)
    if (name.substr(0, p.size()) == p) return true;
  // Interceptors also carry the libc names themselves (malloc, free, ...),
  // which only a sanitizer runtime defines inside a program.
  static constexpr std::string_view libc_names[] = {
      "malloc",         "free",          "calloc",  "realloc", "memalign",
      "posix_memalign", "aligned_alloc", "valloc",  "pvalloc", "malloc_usable_size",
      "memset",         "memcpy",        "memmove", "memcmp",  "strlen",
      "strcmp",         "strncmp",       "strcpy",  "strncpy", "strchr",
      "strstr",         "bcmp"};
  for (std::string_view n : libc_names)
    if (name == n) return true;
  return false;
}

// Reads the program's own ELF symbol table (.symtab, or .dynsym when it has
// been stripped) and records the runtime functions in it. `bias` is where the
// program was loaded (PIE). Runs once, at set-up, never in the handler.
void collect_program_ranges(std::uintptr_t bias) {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  std::vector<char> file;
  char buf[1 << 16];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) file.insert(file.end(), buf, buf + n);
  close(fd);
  if (file.size() < sizeof(ElfW(Ehdr))) return;
  const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(file.data());
  if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
      eh->e_shoff + eh->e_shnum * sizeof(ElfW(Shdr)) > file.size())
    return;
  const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(file.data() + eh->e_shoff);
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
  for (int want : {SHT_SYMTAB, SHT_DYNSYM}) {
    for (int i = 0; i < eh->e_shnum; i++) {
      if (sh[i].sh_type != static_cast<ElfW(Word)>(want) || sh[i].sh_link >= eh->e_shnum) continue;
      const ElfW(Shdr)& strs = sh[sh[i].sh_link];
      if (sh[i].sh_offset + sh[i].sh_size > file.size() ||
          strs.sh_offset + strs.sh_size > file.size())
        continue;
      const auto* syms = reinterpret_cast<const ElfW(Sym)*>(file.data() + sh[i].sh_offset);
      std::size_t count = sh[i].sh_size / sizeof(ElfW(Sym));
      for (std::size_t k = 0; k < count; k++) {
        const ElfW(Sym)& sym = syms[k];
        int type = ELF64_ST_TYPE(sym.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
            sym.st_size == 0 || sym.st_name >= strs.sh_size)
          continue;
        const char* name = file.data() + strs.sh_offset + sym.st_name;
        if (!is_runtime_symbol(name)) continue;
        std::uintptr_t lo = bias + sym.st_value;
        ranges.emplace_back(lo, lo + sym.st_size);
      }
    }
    if (!ranges.empty()) break;  // .symtab had them; .dynsym would repeat them
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::uintptr_t> merged;
  for (auto [lo, hi] : ranges) {
    // Functions are padded to 16 bytes: neighbours within that gap merge.
    if (!merged.empty() && lo <= merged.back() + 16) {
      merged.back() = std::max(merged.back(), hi);
    } else {
      merged.push_back(lo);
      merged.push_back(hi);
    }
  }
  auto* out = new std::uintptr_t[merged.size()];  // kept for the process's life
  std::copy(merged.begin(), merged.end(), out);
  program_ranges = out;
  n_program_ranges = merged.size() / 2;
}

bool in_program_runtime(std::uintptr_t pc) {
  // The last range starting at or below pc (binary search; async-safe).
  std::size_t lo = 0, hi = n_program_ranges;
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    if (program_ranges[2 * mid] <= pc) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && pc < program_ranges[2 * (lo - 1) + 1];
}

bool pc_in_user_code(std::uintptr_t pc) {
  // MUTANT preempt_anywhere: no PC rule; a preemption may land inside malloc
  // or the sanitizer runtime, holding its locks or per-thread caches.
  if (mutant_on(mutant_id::preempt_anywhere)) return true;
  if (pc >= reinterpret_cast<std::uintptr_t>(&goro_async_preempt) &&
      pc < reinterpret_cast<std::uintptr_t>(goro_async_preempt_end))
    return false;
  for (int i = 0; i < n_no_preempt_ranges; i++)
    if (pc >= no_preempt_ranges[i].lo && pc < no_preempt_ranges[i].hi) return false;
  return !in_program_runtime(pc);
}

struct sigaction previous_sigurg;

// Room the preemption needs below the interrupted stack pointer: the red
// zone, the return address, 16 saved registers, the XSAVE area with its
// alignment (11 KiB with AMX), and the scheduler's own frames on the way to
// the switch (goro_async_preempt_park down to jump_fcontext). Those frames
// measured under 0.5 KiB in a release build and ~3.8 KiB under ASan, whose
// redzones and fiber-switch hooks grow frames: the reserve for them is 4 KiB
// (8 KiB under ASan). tests/stack_test.cpp checks the sum in every build by
// preempting a goroutine spinning just above the deepest point allowed. It
// must leave room for a goroutine's own frames in the smallest stack the
// options accept (validate's min_stack, 24 KiB), or such stacks are never
// preempted: the old 16 KiB reserve plus the XSAVE area exceeded stacks up
// to 27 KiB, while the options accepted 16 KiB.
constexpr std::uintptr_t sched_frames_reserve = asan ? 8 * 1024 : 4 * 1024;
std::uintptr_t stack_room() {
  return 128 + 8 + 16 * 8 + goro_xsave_size + 64 + sched_frames_reserve;
}

// Is the interrupted state an async-safe point (see the file comment)?
__attribute__((no_sanitize("address", "undefined"))) bool is_async_safe(m* mp, g* gp,
                                                                        std::uintptr_t pc,
                                                                        std::uintptr_t sp) {
  if (!mp || !gp || mp->curg.load(std::memory_order_relaxed) != gp) return false;
  if (gp->preemptoff.load(std::memory_order_relaxed) != 0) return false;
  if (lock_depth_racy() != 0) return false;
  p* pp = mp->p_;
  if (!pp || !pp->preempt.load(std::memory_order_relaxed)) return false;
  if (gp->status.load(std::memory_order_relaxed) != gstatus::running) return false;
  if (!mp->rt->opts.async_preempt) return false;
  auto lo = reinterpret_cast<std::uintptr_t>(gp->stk.lo);
  auto hi = lo + gp->stk.size;
  if (sp > hi || sp < lo + stack_room()) return false;  // not on its stack, or too deep
  return pc_in_user_code(pc);
}

// May the handler detach this M from its P (entersyscall_for_blocked_thread)?
// Only where the G itself could call goro::blocking: a goroutine's user
// code, not runtime code (preemptoff), no runtime lock held, running with
// its P, not already in a call, on its own stack with room for
// entersyscall; and only when sysmon asked (kernel_blocked, consumed here).
// Unlike a preemption the G stays on this thread, so the PC may be anywhere
// (libc, libstdc++, a signal handler): nothing moves.
__attribute__((no_sanitize("address", "undefined"))) bool is_detachable(m* mp, g* gp,
                                                                        std::uintptr_t sp) {
  if (!mp || !gp || mp->curg.load(std::memory_order_relaxed) != gp || mp->oldp) return false;
  if (gp->preemptoff.load(std::memory_order_relaxed) != 0) return false;
  if (lock_depth_racy() != 0) return false;
  p* pp = mp->p_;
  if (!pp || !pp->preempt.load(std::memory_order_relaxed)) return false;
  if (gp->status.load(std::memory_order_relaxed) != gstatus::running) return false;
  auto lo = reinterpret_cast<std::uintptr_t>(gp->stk.lo);
  if (sp > lo + gp->stk.size || sp < lo + stack_room()) return false;
  // relaxed: a hint from sysmon (see p::kernel_blocked); exchange so one
  // request detaches once.
  return pp->kernel_blocked.exchange(false, std::memory_order_relaxed);
}

// The blocked-signal mask at the interrupted instruction: the first 8 bytes
// of uc_sigmask, which is all the kernel writes there (its sigset is 64
// bits; glibc's sigset_t is larger and the rest of it is not the mask).
__attribute__((no_sanitize("address", "undefined"))) std::uint64_t interrupted_sigmask(
    const ucontext_t* uc) {
  std::uint64_t bits;
  std::memcpy(&bits, &uc->uc_sigmask, sizeof bits);
  return bits;
}

__attribute__((no_sanitize("address", "undefined"))) void sigurg_handler(int sig, siginfo_t* info,
                                                                         void* ctx) {
  int saved_errno = errno;
  auto* uc = static_cast<ucontext_t*>(ctx);
  auto pc = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  auto sp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  g* gp = getg();
  m* mp = getm_unchecked();
  // Refuse, too, when the interrupted mask is not the M's usual one. The
  // kernel blocks a signal while its handler runs (unless SA_NODEFER), so a
  // different mask means the G is inside a user signal handler, or in a
  // region it masked itself: state of this thread, not of the G. Parked
  // there, the G would finish the handler on another M, whose mask
  // sigreturn would then set from this one, while this thread kept the
  // signal blocked for ever (SignalHandlerIsNeverPreempted). sysmon retries
  // at its next tick, when the handler has returned.
  if (is_async_safe(mp, gp, pc, sp) && interrupted_sigmask(uc) == mp->sigmask) {
    gp->preemptoff.store(1, std::memory_order_relaxed);  // the trampoline's park resets it
    sp -= 128;                                           // the interrupted code's red zone
    sp -= 8;
    *reinterpret_cast<std::uintptr_t*>(sp) = pc;  // "return address" of the injected call
    uc->uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(sp);
    uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(trampoline);
  } else if (is_detachable(mp, gp, sp)) {
    // Not preemptible here, and sysmon found the thread asleep in the
    // kernel with its G over its slice: most likely waiting for a lock that
    // another goroutine holds, maybe one parked by a preemption. Let the P go
    // as entersyscall does; Retake then hands it to another M. The thread
    // resumes its wait when we return (SA_RESTART, or the library's retry).
    entersyscall_for_blocked_thread(gp);
  } else if (previous_sigurg.sa_flags & SA_SIGINFO) {
    // Not ours to act on: the program may use SIGURG itself.
    if (previous_sigurg.sa_sigaction) previous_sigurg.sa_sigaction(sig, info, ctx);
  } else if (previous_sigurg.sa_handler != SIG_DFL && previous_sigurg.sa_handler != SIG_IGN) {
    previous_sigurg.sa_handler(sig);
  }
  errno = saved_errno;
}

bool init_once() {
  // Off under AddressSanitizer (spec/preemption.md, "the ASan allocator
  // hang"): a goroutine can still be parked holding a size-class region
  // lock of ASan's allocator, at a point of its reach the PC rules do not
  // recognise, and every M then blocks on that lock. Until that point is
  // found, ASan builds use cooperative preemption only, as TSan builds do.
  // GORO_ASAN_ASYNC_PREEMPT=1 turns it back on, to hunt the hang
  // (SysmonTest.AsyncPreemptionNeverLandsInsideMalloc).
  if constexpr (asan)
    if (const char* on = std::getenv("GORO_ASAN_ASYNC_PREEMPT"); !on || std::strcmp(on, "1") != 0)
      return false;
  unsigned a, b, c, d;
  // XSAVE and OS support for it (OSXSAVE), then the area size.
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_XSAVE) || !(c & bit_OSXSAVE)) return false;
  if (!__get_cpuid_count(0xD, 0, &a, &b, &c, &d) || b < 576) return false;
  goro_xsave_size = b;
  std::uintptr_t program_bias = 0;
  dl_iterate_phdr(collect_ranges, &program_bias);
  collect_program_ranges(program_bias);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = sigurg_handler;
  // SA_ONSTACK: the kernel's signal frame (the full XSAVE area: 11 KiB
  // with AMX) goes on the M's alternate signal stack (mstart's
  // signal_stack), not below the goroutine's stack pointer. Without it a
  // SIGURG landing on a goroutine with less than a frame left wrote below an
  // unguarded stack, or faulted in a guarded one, before the handler could
  // refuse (is_async_safe's stack_room check runs inside the handler). The
  // handler reads and rewrites only the interrupted context, so it does not
  // care which stack it runs on; a thread without an alternate stack (none
  // of goro's) would simply use its current one.
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGURG, &sa, &previous_sigurg) == 0;
}

}  // namespace

bool async_preempt_init() {
  static const bool ok = init_once();
  return ok;
}

bool async_preempt_allowed_at(const void* pc) {
  return async_preempt_init() && pc_in_user_code(reinterpret_cast<std::uintptr_t>(pc));
}

std::size_t async_preempt_stack_room() { return async_preempt_init() ? stack_room() : 0; }

}  // namespace goro::detail

#else  // no asynchronous preemption here

namespace goro::detail {
bool async_preempt_init() { return false; }
bool async_preempt_allowed_at(const void*) { return false; }
std::size_t async_preempt_stack_room() { return 0; }
}  // namespace goro::detail

#endif
