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

// The word written at the bottom of an unguarded stack. Mixed with the
// address so a stack copied over another cannot carry a valid canary along.
inline std::uintptr_t stack_canary_for(const void* lo) {
  return reinterpret_cast<std::uintptr_t>(lo) ^ 0x676f726f2d637279ull;
}

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
  // True if the canary at the bottom of an unguarded stack is intact.
  static bool canary_ok(const stack& s) {
    return *static_cast<const std::uintptr_t*>(s.lo) == stack_canary_for(s.lo);
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
