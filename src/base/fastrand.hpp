// The runtime's cheap random numbers (Go's cheaprand): xorshift64* over a
// 64-bit state the caller owns, one state per M (m::fastrand), so no two
// threads ever share one and nothing needs to be atomic. The quality is
// ample for what it chooses (victim order in stealwork, select's poll
// order); it is not for anything that must be unpredictable.
#pragma once
#include <cstdint>

namespace goro::detail {

// A nonzero seed from an address and an id (xorshift's state must never be
// 0: it would stay 0). Distinct Ms get distinct streams.
inline std::uint64_t fastrand_seed(const void* p, std::int64_t id) noexcept {
  std::uint64_t s = reinterpret_cast<std::uintptr_t>(p) * 0x9E3779B97F4A7C15ull ^
                    static_cast<std::uint64_t>(id + 1) * 0xBF58476D1CE4E5B9ull;
  return s ? s : 1;
}

// Advances state (nonzero) and returns 64 random bits (xorshift64*: the
// high bits are the best ones).
inline std::uint64_t fastrand(std::uint64_t& state) noexcept {
  std::uint64_t x = state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

// A number in [0, n), from the high 32 bits by multiply-shift (Lemire's
// reduction: no division, and a bias below n / 2^32).
inline std::uint32_t fastrandn(std::uint64_t& state, std::uint32_t n) noexcept {
  auto r = static_cast<std::uint32_t>(fastrand(state) >> 32);
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(r) * n) >> 32);
}

}  // namespace goro::detail
