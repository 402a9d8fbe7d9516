// Goroutine stacks: guarded mmap'd stacks (default) or unguarded stacks carved
// from pooled mappings with a canary (the million-goroutine option).
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace goro::detail {

struct stack {
  void* lo = nullptr;      // lowest usable byte; the stack grows down toward it
  std::size_t size = 0;    // usable bytes
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

// Allocates and frees stacks. Thread-safe: Ps allocate concurrently, but only
// on a cache miss (dead Gs keep their stacks in the P's free list), so one
// mutex is enough.
class stack_allocator {
 public:
  stack_allocator(std::size_t size, bool guard);
  ~stack_allocator();
  stack_allocator(const stack_allocator&) = delete;
  stack_allocator& operator=(const stack_allocator&) = delete;

  // Returns an empty stack on failure; last_error() then explains which limit
  // was hit and how to lift it.
  stack allocate();
  void release(stack s);

  bool guarded() const { return guard_; }
  std::size_t stack_size() const { return size_; }
  // True if the canary at the bottom of an unguarded stack is intact: its
  // lowest stack_canary_bytes are all zero (one cache line, read at every
  // switch away from a G; see stack_canary_bytes).
  static bool canary_ok(const stack& s) {
    const auto* w = static_cast<const std::uint64_t*>(s.lo);
    std::uint64_t any = 0;
    for (std::size_t i = 0; i < stack_canary_bytes / sizeof *w; i++) any |= w[i];
    return any == 0;
  }
  static std::size_t page_size();
  // How many guarded stacks the kernel's map-count limit leaves room for,
  // measured now (the limit minus maps in use, two maps per stack).
  static std::size_t guarded_stack_budget();
  // Explains an allocation failure: the errno, the limit it points at, and the
  // option that lifts it.
  std::string describe_failure(int err) const;

 private:
  void refill_pool_locked();

  std::size_t size_;
  bool guard_;
  std::mutex mu_;
  std::vector<stack> pool_;                      // unguarded: free stacks
  std::vector<std::pair<void*, std::size_t>> chunks_;  // unguarded: mappings
  std::size_t live_ = 0;
};

}  // namespace goro::detail
