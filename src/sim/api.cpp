// goro::sim, the users' simulation API (goro/sim.hpp): explore() and
// replay() over the controller (sim/controller.hpp). Compiled into both
// libraries: in goro::sim (GORO_SIM) it runs the simulation; in goro::goro
// every entry point but available() throws std::logic_error, so that a
// program linked with the wrong one is told so at its first call, not by a
// missing symbol.
#include "goro/sim.hpp"

#include <cinttypes>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

#include "base/build_config.hpp"
#include "goro/deadlock.hpp"
#include "goro/goro.hpp"
#include "sim/controller.hpp"

namespace goro::sim {

namespace {

namespace ctl = detail::simulator;

void need_sim(const char* fn) {
  if constexpr (!detail::sim)
    throw std::logic_error(std::string("goro::sim::") + fn +
                           ": this program is linked with goro::goro, the runtime without the "
                           "simulation; link goro::sim instead (target_link_libraries(... "
                           "goro::sim), not both)");
}

[[noreturn]] void bad(const char* fn, const std::string& what) {
  throw std::invalid_argument(std::string("goro::sim::") + fn + ": " + what);
}

void validate(const char* fn, const options& o, bool sweep) {
  if (sweep) {
    if (o.seeds < 1 || o.seeds > 1'000'000'000)
      bad(fn, "options::seeds = " + std::to_string(o.seeds) + ": must be in 1 .. 1000000000");
    if (o.first_seed > UINT64_MAX - (o.seeds - 1))
      bad(fn, "options::first_seed = " + std::to_string(o.first_seed) + " with seeds = " +
                  std::to_string(o.seeds) + ": the last seed would pass 2^64 - 1");
  }
  if (o.strat != strategy::random && o.strat != strategy::pct)
    bad(fn, "options::strat = " + std::to_string(static_cast<int>(o.strat)) +
                ": must be strategy::random or strategy::pct");
  if (o.pct_depth < 1 || o.pct_depth > 64)
    bad(fn, "options::pct_depth = " + std::to_string(o.pct_depth) + ": must be in 1 .. 64");
  if (o.pct_steps < 1 || o.pct_steps > 1'000'000'000'000)
    bad(fn,
        "options::pct_steps = " + std::to_string(o.pct_steps) + ": must be in 1 .. 1000000000000");
  if (o.run.procs < 1 || o.run.procs > 1024)
    bad(fn, "options::run.procs = " + std::to_string(o.run.procs) +
                ": must be in 1 .. 1024 (0, the machine's core count, would not replay "
                "elsewhere)");
}

const char* name(strategy s) { return s == strategy::pct ? "pct" : "random"; }

// One run of fn under `seed`; fills r's failure, decisions and hash.
// The controller's session functions exist only with GORO_SIM: every call
// to them is behind `if constexpr (detail::sim)`.
void run_once(const options& o, std::uint64_t seed, const std::function<bool()>& fn, report& r) {
  if constexpr (detail::sim) {
    ctl::options so;
    so.seed = seed;
    so.strat = o.strat == strategy::pct ? ctl::strategy::pct : ctl::strategy::random;
    so.pct_depth = o.pct_depth;
    so.pct_steps = o.pct_steps;
    ctl::set_options(so);
    std::string why;
    try {
      bool ok = goro::run(
          [&] {
            // Caught here, inside the session, so that the run ends as any other.
            try {
              return fn();
            } catch (const std::exception& e) {
              why = std::string("threw: ") + e.what();
            } catch (...) {
              why = "threw an exception not derived from std::exception";
            }
            return false;
          },
          o.run);
      if (!ok && why.empty()) why = "returned false";
    } catch (const goro::deadlock& d) {
      why = std::string("deadlock: ") + d.what();
    }
    ctl::session_stats st = ctl::last_stats();
    r.runs++;
    r.seed = st.seed;  // GORO_SIM_SEED / GORO_SIM_REPLAY may have replaced ours
    r.strat = st.strat == ctl::strategy::pct ? strategy::pct : strategy::random;
    r.failed = !why.empty();
    r.why = why;
    r.decisions = st.decisions;
    r.log_hash = st.hash;
    r.checked = st.replay_checked;
    r.reproduced = st.replay_ok;
    r.mismatch = st.replay_detail;
  } else {
    (void)o, (void)seed, (void)fn, (void)r;
  }
}

}  // namespace

bool available() noexcept { return detail::sim; }

report explore(const options& opts, const std::function<bool()>& fn) {
  need_sim("explore");
  validate("explore", opts, true);
  if (!fn) bad("explore", "fn is empty");
  report r;
  // A replay from the environment runs once: every seed would be replaced
  // by the same one.
  std::uint64_t env;
  const char* env_file = std::getenv("GORO_SIM_REPLAY");
  bool once = ctl::env_seed(env) || (env_file && *env_file);
  for (std::uint64_t i = 0; i < opts.seeds; i++) {
    run_once(opts, opts.first_seed + i, fn, r);
    if (r.failed || once) break;
  }
  if (!r.failed) return r;
  if constexpr (detail::sim)
    if (!r.checked)
      r.replay_file = ctl::write_replay(ctl::last_stats(), ctl::last_log(), r.why, opts.replay_dir);
  if (opts.verbose) {
    std::fprintf(stderr, "goro sim: seed %" PRIu64 " (strategy %s, run %" PRIu64 ") failed: %s\n",
                 r.seed, name(r.strat), r.runs, r.why.c_str());
    std::fprintf(stderr,
                 "goro sim: replay with GORO_SIM_SEED=%" PRIu64 " GORO_SIM_STRATEGY=%s%s%s\n",
                 r.seed, name(r.strat),
                 r.replay_file.empty() ? "" : ", or GORO_SIM_REPLAY=", r.replay_file.c_str());
  }
  return r;
}

report replay(const std::string& file, const std::function<bool()>& fn, goro::options run) {
  need_sim("replay");
  if (!fn) bad("replay", "fn is empty");
  ctl::replay_spec spec;
  std::string err;
  if (!ctl::read_replay(file, spec, err)) bad("replay", file + ": " + err);
  if (run.procs == 0) run.procs = spec.procs;
  else if (spec.procs != 0 && run.procs != spec.procs)
    bad("replay", file + " ran with procs " + std::to_string(spec.procs) + ", run.procs is " +
                      std::to_string(run.procs));
  options o;
  o.strat = spec.strat == ctl::strategy::pct ? strategy::pct : strategy::random;
  o.pct_depth = static_cast<unsigned>(spec.pct_depth);
  o.pct_steps = spec.pct_steps;
  o.run = run;
  validate("replay", o, false);
  if constexpr (detail::sim) ctl::expect_replay(spec, file);
  report r;
  run_once(o, spec.seed, fn, r);
  return r;
}

report replay(std::uint64_t seed, const options& opts, const std::function<bool()>& fn) {
  need_sim("replay");
  validate("replay", opts, false);
  if (!fn) bad("replay", "fn is empty");
  report r;
  run_once(opts, seed, fn, r);
  return r;
}

}  // namespace goro::sim
