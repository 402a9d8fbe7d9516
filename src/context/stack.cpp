#include "context/stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

// Linux 6.13's guard-region advice; older libc headers lack the names.
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

namespace goro::detail {

namespace {
// Pooled stacks (unguarded and madvise-guarded) are carved from mappings of
// this many stacks, so a million goroutines cost a few thousand maps rather
// than a million.
constexpr std::size_t pool_chunk_stacks = 64;

struct mode_choice {
  guard_mode mode;
  const char* reason;
};

// Run once (guarded_mode's static): the environment override, else a probe.
mode_choice choose_guarded_mode() {
  if (const char* e = std::getenv("GORO_STACK_GUARD_MODE"); e && std::strcmp(e, "mprotect") == 0)
    return {guard_mode::mprotect,
            "guard pages by mprotect, forced by GORO_STACK_GUARD_MODE=mprotect"};
  const std::size_t ps = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* p = mmap(nullptr, 2 * ps, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)  // no memory for two pages: the fallback is no better, but is known
    return {guard_mode::mprotect, "guard pages by mprotect (the MADV_GUARD_INSTALL probe could "
                                  "not map a page)"};
  int rc = madvise(p, ps, MADV_GUARD_INSTALL);
  munmap(p, 2 * ps);
  if (rc == 0)
    return {guard_mode::madvise, "guard regions by MADV_GUARD_INSTALL, no kernel map per stack"};
  return {guard_mode::mprotect,
          "guard pages by mprotect: this kernel lacks MADV_GUARD_INSTALL (Linux 6.13+)"};
}

const mode_choice& guarded_choice() {
  static const mode_choice c = choose_guarded_mode();
  return c;
}

std::size_t read_max_map_count() {
  std::ifstream f("/proc/sys/vm/max_map_count");
  std::size_t v = 0;
  if (f >> v && v > 0) return v;
  return 65530;  // the kernel default
}

}  // namespace

std::size_t stack_allocator::maps_in_use() {
  std::ifstream f("/proc/self/maps");
  std::size_t n = 0;
  std::string line;
  while (std::getline(f, line)) ++n;
  return n;
}

std::size_t stack_allocator::page_size() {
  static const std::size_t ps = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return ps;
}

std::size_t stack_allocator::guarded_stack_budget() {
  std::size_t limit = read_max_map_count(), used = maps_in_use();
  return used >= limit ? 0 : (limit - used) / 2;
}

guard_mode stack_allocator::guarded_mode() { return guarded_choice().mode; }
const char* stack_allocator::guarded_mode_reason() { return guarded_choice().reason; }

stack_allocator::stack_allocator(std::size_t size, bool guard)
    : stack_allocator(size, guard ? guarded_mode() : guard_mode::none) {}

stack_allocator::stack_allocator(std::size_t size, guard_mode mode) : size_(size), mode_(mode) {}

stack_allocator::~stack_allocator() {
  for (auto& [p, n] : chunks_) munmap(p, n);
}

std::string stack_allocator::describe_failure(int err) const {
  char buf[512];
  if (mode_ == guard_mode::mprotect) {
    std::snprintf(buf, sizeof buf,
                  "cannot map a goroutine stack (%s): %zu guarded stacks are live and each "
                  "costs 2 of the kernel's vm.max_map_count=%zu memory maps (%s); set "
                  "goro::options::stack_guard=false for pooled unguarded stacks, lower "
                  "goro::options::stack_size, or raise vm.max_map_count",
                  std::strerror(err), live_, read_max_map_count(), guarded_mode_reason());
  } else {
    std::snprintf(buf, sizeof buf,
                  "cannot map goroutine stacks (%s): %zu stacks of %zu bytes are live (%s); "
                  "lower goro::options::stack_size or free memory",
                  std::strerror(err), live_, size_,
                  mode_ == guard_mode::madvise ? guarded_mode_reason() : "unguarded, pooled");
  }
  return buf;
}

void stack_allocator::refill_pool_locked() {
  // A madvise-guarded stack's slot is its guard page and then the stack.
  const std::size_t guard = mode_ == guard_mode::madvise ? page_size() : 0;
  const std::size_t slot = guard + size_;
  std::size_t bytes = slot * pool_chunk_stacks;
  // MAP_NORESERVE: only the pages a goroutine touches become resident.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return;
  // No transparent huge pages: with THP "always" (the default on some
  // distributions), the first write to a stack's top page may fault in a
  // whole 2 MiB page, 8 stacks of 256 KiB; bench parked_mem measured 236 KB
  // per goroutine instead of 4.4 KB with MADV_HUGEPAGE forced here. Fails
  // harmlessly (EINVAL) on a kernel built without THP.
  (void)madvise(p, bytes, MADV_NOHUGEPAGE);
  if (guard) {
    // One guard region per slot, at its bottom: faults on any access, stays
    // through MADV_DONTNEED, and splits no map. Checked: a stack without its
    // guard must not be handed out in a mode that promises one.
    for (std::size_t i = 0; i < pool_chunk_stacks; i++) {
      if (madvise(static_cast<char*>(p) + i * slot, guard, MADV_GUARD_INSTALL) != 0) {
        int e = errno;
        munmap(p, bytes);
        errno = e;
        return;
      }
    }
  }
  chunks_.emplace_back(p, bytes);
  for (std::size_t i = pool_chunk_stacks; i-- > 0;)
    pool_.push_back(stack{static_cast<char*>(p) + i * slot + guard, size_});
}

stack stack_allocator::allocate() {
  if (mode_ == guard_mode::mprotect) {
    const std::size_t ps = page_size();
    void* p = mmap(nullptr, size_ + ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                   0);
    if (p == MAP_FAILED) return {};
    // The lowest page stays PROT_NONE: a stack overflow faults there.
    if (mprotect(static_cast<char*>(p) + ps, size_, PROT_READ | PROT_WRITE) != 0) {
      int e = errno;
      munmap(p, size_ + ps);
      errno = e;
      return {};
    }
    std::lock_guard lk(mu_);
    ++live_;
    return stack{static_cast<char*>(p) + ps, size_};
  }
  std::lock_guard lk(mu_);
  if (pool_.empty()) refill_pool_locked();
  if (pool_.empty()) return {};
  stack s = pool_.back();
  pool_.pop_back();
  // No canary to write (none is checked in madvise mode): the bottom
  // stack_canary_bytes are zero, as the
  // mapping came (or as the stack's last G left them: an overflow into them
  // is fatal at its next switch, so no stack with a broken canary comes back
  // here). Writing would make the bottom page resident for every goroutine.
  ++live_;
  return s;
}

void stack_allocator::release(stack s) {
  if (!s) return;
  if (mode_ == guard_mode::mprotect) {
    const std::size_t ps = page_size();
    munmap(static_cast<char*>(s.lo) - ps, s.size + ps);
    std::lock_guard lk(mu_);
    --live_;
    return;
  }
  std::lock_guard lk(mu_);
  --live_;
  pool_.push_back(s);
}

}  // namespace goro::detail
