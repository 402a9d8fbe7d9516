// Chaos mode: see chaos.hpp. Compiled always; does nothing unless GORO_CHAOS.
#include "sched/chaos.hpp"

#ifdef GORO_CHAOS
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace goro::detail {

namespace {
std::uint64_t chaos_seed() {
  static const std::uint64_t seed = [] {
    const char* s = std::getenv("GORO_CHAOS_SEED");
    std::uint64_t v;
    if (s && *s) {
      v = std::strtoull(s, nullptr, 0);
    } else {
      // A fresh seed per process, so repeated runs explore new streams; it is
      // printed below so a failing run can be replayed.
      timespec ts{};
      clock_gettime(CLOCK_REALTIME, &ts);
      v = static_cast<std::uint64_t>(ts.tv_nsec) * 0x9E3779B97F4A7C15ull ^
          static_cast<std::uint64_t>(ts.tv_sec) ^ static_cast<std::uint64_t>(getpid()) << 32;
    }
    std::fprintf(stderr, "goro: chaos mode, GORO_CHAOS_SEED=%llu\n", (unsigned long long)v);
    return v;
  }();
  return seed;
}
std::atomic<std::uint64_t> thread_counter{0};
}  // namespace

void chaos_point() noexcept {
  // Each thread draws from its own stream, seeded by the global seed and the
  // order in which threads first reach a chaos point.
  thread_local std::uint64_t state =
      chaos_seed() ^ ((thread_counter.fetch_add(1, std::memory_order_relaxed) + 1) *
                      0x9E3779B97F4A7C15ull);
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  unsigned r = static_cast<unsigned>(state % 64);
  if (r == 0) {
    sched_yield();
  } else if (r == 1) {
    timespec ts{0, static_cast<long>((state >> 8) % 20000)};
    nanosleep(&ts, nullptr);
  } else if (r < 8) {
    for (volatile unsigned i = 0; i < (state >> 16) % 500; i = i + 1) {
    }
  }
}

}  // namespace goro::detail
#endif
