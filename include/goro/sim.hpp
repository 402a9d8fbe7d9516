// goro::sim: test your own goroutines under goro's deterministic simulation
// (spec/simulation.md): each run is a function of a seed, one runtime
// thread runs at a time between scheduling points, in an order the seed
// picks, and time is virtual (a sleep takes no wall time). Go's
// testing/synctest gives virtual time; this adds schedule exploration and
// exact replay.
//
//   find_package(goro) ... target_link_libraries(my_test PRIVATE goro::sim)
//
//   goro::sim::report r = goro::sim::explore({.seeds = 200}, [] {
//     ...start goroutines, wait for them...
//     return invariant_holds;        // false (or an exception): a failure
//   });
//   if (r.failed) ... r.seed, r.replay_file ...
//   goro::sim::replay(r.replay_file, same_fn).reproduced   // true
//
// The simulation is a separate build of the runtime: link goro::sim
// instead of goro::goro (never both: they define the same symbols). The
// headers are the same for both. With goro::goro these functions exist but
// throw std::logic_error saying so (available() is false), so one test
// source builds against either library and can skip itself.
//
// What the seed schedules: the runtime's threads at the runtime's
// scheduling points (its locks, kernel waits, run queue operations and
// atomics). Your goroutine is interleaved with another wherever it calls
// into goro out of line: a channel operation, go(), sleep, yield, a
// contended mutex, a wait_group wait. Plain memory accesses and the inline
// fast paths (an uncontended mutex lock) are not points, so a race whose
// two steps have no goro call between them is not found.
//
// A failing run prints its seed and writes a replay file (below). Failures
// that end the process — a goro fatal error, the simulator's own deadlock
// or no-end report — write the file and print its path before the process
// ends; explore() does not return from those.
//
// Environment, which wins over the options (so a printed line replays the
// run whatever the program asks): GORO_SIM_SEED=N runs seed N only;
// GORO_SIM_STRATEGY=random|pct; GORO_SIM_PCT_DEPTH; GORO_SIM_REPLAY=<file>
// replays that file (every run of the process); GORO_SIM_REPLAY_DIR: where
// replay files go (default: the current directory).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "goro/detail/export.hpp"
#include "goro/options.hpp"

namespace goro::sim {

enum class strategy : std::uint8_t {
  random,  // a uniform choice among the runnable threads at every point
  pct,     // Probabilistic Concurrency Testing (priorities, pct_depth - 1 change points)
};

struct options {
  // explore() runs seeds first_seed, first_seed + 1, ... (seeds of them)
  // until one fails. Ranges: seeds 1 .. 1e9; first_seed + seeds must not
  // pass 2^64.
  std::uint64_t first_seed = 1;
  std::uint64_t seeds = 100;
  strategy strat = strategy::random;
  // PCT: d, the bug depth it targets (1 .. 64), and k, the step range its
  // change points are drawn from (1 .. 10^12; about a run's length in
  // scheduling decisions).
  unsigned pct_depth = 3;
  std::uint64_t pct_steps = 1000;
  // goro::run's options for each run. procs must be set (1 .. 1024): 0,
  // "the machine's core count", would not replay on another machine.
  goro::options run{.procs = 2};
  // Where replay files go: "" means GORO_SIM_REPLAY_DIR, else the current
  // directory.
  std::string replay_dir;
  // Print a line per failure found (the seed, the replay file): true.
  bool verbose = true;
};

// What explore() or replay() found.
struct report {
  bool failed = false;     // a run failed
  std::uint64_t seed = 0;  // the failing seed (else the last one run)
  strategy strat = strategy::random;
  std::uint64_t runs = 0;       // how many runs
  std::string why;              // failed: "returned false", "threw: ...", "deadlock: ..."
  std::string replay_file;      // explore: the replay file of the failing seed ("" if unwritable)
  std::uint64_t decisions = 0;  // the failing (or last) run's scheduling decisions
  std::uint64_t log_hash = 0;   // and the hash of its event log
  // replay(file): whether the run repeated the file's exactly (same decision
  // count and log hash, same thread at every decision), and if not, what
  // differed.
  bool checked = false;
  bool reproduced = false;
  std::string mismatch;
};

// true in goro::sim, false in goro::goro.
GORO_API bool available() noexcept;

// Runs fn as goro::run's main goroutine under each seed in turn until a run
// fails: fn returns false or throws, or goro::run reports a deadlock
// (goro::deadlock). Writes the failing run's replay file. Throws
// std::invalid_argument naming the option for a bad one, std::logic_error
// with goro::goro.
GORO_API report explore(const options& opts, const std::function<bool()>& fn);

// Runs the replay file's seed, strategy and PCT parameters (and procs,
// when opts.run.procs is 0; another procs is an error) once, and checks the
// run against the file. Throws std::invalid_argument for a file that is not
// a readable replay file, naming the line.
GORO_API report replay(const std::string& file, const std::function<bool()>& fn,
                       goro::options run = {});
// Runs one seed (opts' strategy and PCT parameters; opts.seeds is ignored).
GORO_API report replay(std::uint64_t seed, const options& opts, const std::function<bool()>& fn);

}  // namespace goro::sim
