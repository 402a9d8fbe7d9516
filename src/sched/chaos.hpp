// Chaos mode (build option GORO_CHAOS): seeded random delays and yields at the
// scheduler's decision points, to widen race windows under stress.
//
// Where: before and after the atomics of runqput / runqputslow / runqget /
// runqgrab / runqsteal, around the spinning protocol (wakep's check-then-claim,
// ready_wake's StoreLoad fence, the spinning M's give-up and re-check,
// resetspinning), in startm's handoff, before each steal attempt, where
// findrunnable is about to drop its P, and in wait_group::add.
//
// Seed: GORO_CHAOS_SEED (decimal or 0x hex) if set, else a fresh random one;
// either way it is printed to stderr once per process ("goro: chaos mode,
// GORO_CHAOS_SEED=N").
//
// Decisions are a pure function of (seed, stream, site, visit)
// (chaos_decide):
//   stream  who is at the point: an M, by its runtime's generation and its
//           M id (m0 is M0 of every run; other ids count Ms in creation
//           order); a thread that is not an M (sysmon, a foreign thread
//           calling go()) gets a stream of its own, numbered in the order
//           such threads first reach a chaos point;
//   site    the point, by source file name and line;
//   visit   how many times this stream has passed this site before.
// So a run with the same seed injects the same delay at the k-th visit of
// M3 to the same line. What a replay cannot repeat is everything the OS
// decides: which M gets which id (creation order depends on the schedule,
// except for m0), how many times each M reaches each site, and how threads
// interleave between the points. A replay raises the odds of a failure; it
// does not guarantee it. spec/verification.md, "Replay", says what each
// family's replay reproduces.
#pragma once
#include <cstdint>
#include <vector>

#include "base/build_config.hpp"

namespace goro::detail {

// Points with a name, so that a fault-injection hook (tests) can act at
// one of them; every other point is `generic`.
enum class chaos_site : std::uint8_t {
  generic,
  startm_handoff,   // startm: P taken off the idle list, M not yet woken
  resetspinning,    // resetspinning: m.spinning cleared, nmspinning not yet decremented
  drop_p,           // findrunnable: a non-spinning M found no work, before the
                    // locked give-up (needspinning check, pidleput)
  drop_p_spinning,  // the same for a spinning M
  netpoll_wait,     // poll_wait: the caller's socket call said EAGAIN, and it is
                    // not yet registered as the socket's waiter
};

enum class chaos_action : std::uint8_t { none, yield, sleep, spin };
struct chaos_decision {
  chaos_action action = chaos_action::none;
  std::uint32_t amount = 0;  // sleep: nanoseconds; spin: loop iterations
  bool operator==(const chaos_decision&) const = default;
};

// The decision at one visit: 1/64 yield, 1/64 sleep up to 20 us, 6/64 spin
// up to 500 iterations, otherwise nothing. Pure; defined in every build.
chaos_decision chaos_decide(std::uint64_t seed, std::int64_t stream, std::uint32_t site,
                            std::uint64_t visit) noexcept;
// A site's id: from the file's base name and the line, so it is the same in
// every process running the same sources.
std::uint32_t chaos_site_id(const char* file, int line) noexcept;

// One decision as taken (chaos_trace).
struct chaos_trace_entry {
  std::int64_t stream;
  std::uint32_t site;
  std::uint64_t visit;
  chaos_decision d;
};

// A chaos point: compiled in every build (its site expression too), taken
// only in chaos builds. chaos_point and the functions below are defined only
// there (chaos.cpp); a call in a discarded `if constexpr` branch needs no
// definition.
void chaos_point(const char* file, int line, chaos_site site) noexcept;
// In sim builds every chaos point is also a scheduling point of the
// simulation (sim/controller.hpp; defined there, only with GORO_SIM).
namespace simulator {
void chaos_point(const char* file, int line) noexcept;
}
#define GORO_CHAOS_POINT() GORO_CHAOS_AT(::goro::detail::chaos_site::generic)
#define GORO_CHAOS_AT(site)                                                                        \
  do {                                                                                             \
    if constexpr (::goro::detail::chaos) ::goro::detail::chaos_point(__FILE__, __LINE__, site);    \
    if constexpr (::goro::detail::sim) ::goro::detail::simulator::chaos_point(__FILE__, __LINE__); \
  } while (0)

// The process's seed (GORO_CHAOS_SEED or fresh; printed on first use).
std::uint64_t chaos_seed() noexcept;

// Fault injection for tests: fn(site, m, arg) runs at every chaos point
// (before its decision), on the thread at the point, with the M running
// there (nullptr on a thread that is not an M). It may block for a bounded
// time to force an interleaving. nullptr removes it.
using chaos_hook_fn = void (*)(chaos_site site, const void* m, void* arg);
void chaos_set_hook(chaos_hook_fn fn, void* arg) noexcept;

// Records every decision taken from now on (tests of replay); the trace
// returns what was recorded so far, per stream in visit order.
void chaos_trace_enable(bool on) noexcept;
std::vector<chaos_trace_entry> chaos_trace();
}  // namespace goro::detail
