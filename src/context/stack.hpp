// Goroutine stacks, carved from pooled mappings: guarded by a guard region
// below each stack (default; MADV_GUARD_INSTALL, no kernel map per stack, or
// where the kernel lacks it one mapping per stack with an mprotect'd guard
// page), or unguarded with a canary (options::stack_guard = false).
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace goro::detail {

struct stack {
  void* lo = nullptr;    // lowest usable byte; the stack grows down toward it
  std::size_t size = 0;  // usable bytes
  void* hi() const { return static_cast<char*>(lo) + size; }
  explicit operator bool() const { return lo != nullptr; }
};

// The canary of an unguarded stack: its lowest stack_canary_bytes, which
// must stay all zero. Nothing writes them (allocate does not either): a fresh
// anonymous page reads as zero, and the stack's frames never reach them
// unless the stack overflows, which is fatal. So the bottom page of a stack
// stays untouched (a check maps the kernel's shared zero page, which RSS does
// not count) and a parked goroutine with shallow frames costs one resident
// page, not two. A written canary word would dirty that page for every
// goroutine (bench parked_mem: 8.5 KB per parked goroutine, 4.4 KB without).
//
// The trade-off: an overflow is caught when it leaves a non-zero byte in
// these 64 bytes, and missed when all it writes there is zero (a
// zero-filled local array straddling the bottom); a written random word is
// missed only when the overflow writes nothing to that word or the word's
// own value. Both miss a frame that skips over the canary without writing
// it, and both are checked only at the next switch away from the G, after
// the damage: the memory below `lo` is the top of the stack below it in the
// same mapping. Only a guard page (options::stack_guard, the default) stops
// an overflow. A cache line rather than a word: a frame that lands on it is
// caught unless every byte it leaves there is zero, and call frames hold
// return addresses and saved registers, which are not.
constexpr std::size_t stack_canary_bytes = 64;

// How stacks are guarded.
//  - none: stacks are carved from pooled mappings (pool_chunk_stacks per
//    mapping) with the canary below; an overflow is caught at the next switch.
//  - madvise: the same pooled mappings, with a guard region of one page
//    below every stack installed by madvise(MADV_GUARD_INSTALL) (Linux
//    6.13+). A guard region costs no kernel map (VMA), so a million guarded
//    stacks cost a few thousand maps, not two million.
//  - mprotect: the fallback where the kernel lacks MADV_GUARD_INSTALL: one
//    mapping per stack whose lowest page is PROT_NONE. That splits the
//    mapping, so each stack costs two of vm.max_map_count's maps, and live
//    goroutines stop near 32 thousand (check_guarded_budget reports it).
// Both guarded modes put the guard at [lo - page_size(), lo).
enum class guard_mode : unsigned char { none, madvise, mprotect };

// Allocates and frees stacks. Thread-safe: Ps allocate concurrently, but only
// on a cache miss (dead Gs keep their stacks in the P's free list), so one
// mutex is enough. Contracts in Go's fixed form, as in sync/park.hpp; "run's
// thread" is the thread that called goro::run (not an M). None of these may
// run in a signal handler (they allocate, lock a std::mutex, or initialise
// a static on first use).
class stack_allocator {
 public:
  // guard: the mode guarded_mode() picks, else none.
  // Called from: foreign thread (run's, constructing the runtime) | tests
  // Locks: none held
  // May switch: no
  stack_allocator(std::size_t size, bool guard);
  stack_allocator(std::size_t size, guard_mode mode);
  // Unmaps every pooled mapping.
  // Called from: the thread dropping the runtime's last reference, after
  //   every M left the scheduler
  // Locks: none held
  // May switch: no
  ~stack_allocator();
  stack_allocator(const stack_allocator&) = delete;
  stack_allocator& operator=(const stack_allocator&) = delete;

  // Returns an empty stack on failure, with errno set; describe_failure(errno)
  // then explains which limit was hit and how to lift it.
  // Called from: g0 (execute) | G with P (the G-side fast path), both in
  //   prepare_start as a G first runs
  // Locks: none held; takes mu_ (a std::mutex; and releases it)
  // May switch: no
  stack allocate();
  // Gives s back (pooled modes) or unmaps it (mprotect).
  // Called from: g0 or the next G (gfput, the post-switch step of a dying
  //   G) | the runtime's destructor
  // Locks: holds sched.lock (gfput trimming the global free list), or none;
  //   takes mu_ (and releases it)
  // May switch: no
  void release(stack s);

  // Called from: any (reads a field fixed at construction)
  // Locks: any
  // May switch: no
  bool guarded() const { return mode_ != guard_mode::none; }
  guard_mode mode() const { return mode_; }
  // The mode guarded stacks use in this process, decided once: mprotect if
  // the environment says GORO_STACK_GUARD_MODE=mprotect (how CI tests the
  // fallback on a kernel that has the new advice) or if MADV_GUARD_INSTALL
  // fails with EINVAL on a probe mapping (a kernel before 6.13), else madvise.
  // Called from: foreign thread (run's: the runtime, install_overflow_handler)
  //   | g0 (signal_stack, as an M starts); the reason also from G with P |
  //   foreign thread (go()'s check_guarded_budget report)
  // Locks: none held; the first call holds the static's initialisation guard
  // May switch: no
  static guard_mode guarded_mode();
  // Why guarded_mode() chose what it did, for error messages.
  // Called from: as guarded_mode
  // Locks: as guarded_mode
  // May switch: no
  static const char* guarded_mode_reason();
  // True if the canary at the bottom of an unguarded stack is intact: its
  // lowest stack_canary_bytes are all zero (one cache line, read at every
  // switch away from a G; see stack_canary_bytes).
  // Called from: G with P | g0, in switch_context, before the jump
  // Locks: any
  // May switch: no
  static bool canary_ok(const stack& s) {
    const auto* w = static_cast<const std::uint64_t*>(s.lo);
    std::uint64_t any = 0;
    for (std::size_t i = 0; i < stack_canary_bytes / sizeof *w; i++) any |= w[i];
    return any == 0;
  }
  // The system's page size, read once.
  // Called from: any thread; first from run's (install_overflow_handler),
  //   so a signal handler never initialises its static
  // Locks: none held
  // May switch: no
  static std::size_t page_size();
  // How many mprotect-guarded stacks the kernel's map-count limit leaves
  // room for, measured now (the limit minus maps in use, two maps per
  // stack). Meaningful only in guard_mode::mprotect: the other modes pool.
  // Called from: foreign thread (run's, constructing the runtime) | tests
  // Locks: none held
  // May switch: no
  static std::size_t guarded_stack_budget();
  // The process's memory maps in use now (lines of /proc/self/maps).
  // Called from: as guarded_stack_budget
  // Locks: none held
  // May switch: no
  static std::size_t maps_in_use();
  // Explains an allocation failure: the errno, the limit it points at, and the
  // option that lifts it.
  // Called from: g0 | G with P (prepare_start, just before its fatal error)
  // Locks: none held; reads live_ without mu_ (a report, racy by design)
  // May switch: no
  std::string describe_failure(int err) const;

 private:
  void refill_pool_locked();

  std::size_t size_;
  guard_mode mode_;
  std::mutex mu_;
  std::vector<stack> pool_;                            // pooled modes: free stacks
  std::vector<std::pair<void*, std::size_t>> chunks_;  // pooled modes: mappings
  std::size_t live_ = 0;
};

}  // namespace goro::detail
