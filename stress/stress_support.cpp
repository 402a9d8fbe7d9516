// The stress suite's shared plumbing: its time budget, its seed, and the
// replay line printed for a failing test (stress_support.hpp).
#include "stress_support.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "sched/chaos.hpp"
#include "sim/controller.hpp"

namespace goro_stress {

double budget_seconds() {
  static const double s = [] {
    const char* env = std::getenv("GORO_SOAK_SECONDS");
    double v = env && *env ? std::strtod(env, nullptr) : 0;
    return v > 0 ? v : stress_default_seconds;
  }();
  return s;
}

std::uint64_t stress_seed() {
  static const std::uint64_t seed = [] {
    const char* env = std::getenv("GORO_STRESS_SEED");
    std::uint64_t v = env && *env
                          ? std::strtoull(env, nullptr, 0)
                          : static_cast<std::uint64_t>(clk::now().time_since_epoch().count()) *
                                0x9E3779B97F4A7C15ull;
    std::printf("GORO_STRESS_SEED=%llu\n", (unsigned long long)v);
    return v;
  }();
  return seed;
}

int sim_rounds() {
  static const int n = [] {
    const char* env = std::getenv("GORO_SIM_ROUNDS");
    int v = env && *env ? std::atoi(env) : 0;
    return v > 0 ? v : sim_default_rounds;
  }();
  return n;
}

std::string sim_replay_env() {
  std::string env;
  // The controller exists in the sim build only (the release, sanitizer and
  // chaos builds of this suite have nothing to print here).
  if constexpr (goro::detail::sim) {
    const char* strat = std::getenv("GORO_SIM_STRATEGY");
    env = "GORO_SIM_SEED=" + std::to_string(goro::detail::simulator::current_seed()) + " ";
    if (strat && *strat) env += std::string("GORO_SIM_STRATEGY=") + strat + " ";
    if (const char* r = std::getenv("GORO_SIM_ROUNDS"); r && *r)
      env += std::string("GORO_SIM_ROUNDS=") + r + " ";
  }
  return env;
}

namespace {

// On a failure: the command that replays the test with the same seeds
// (spec/verification.md, "Replay", says what that reproduces).
struct replay_printer : testing::EmptyTestEventListener {
  void OnTestEnd(const testing::TestInfo& t) override {
    if (!t.result()->Failed()) return;
    std::string env;
#ifdef GORO_CHAOS
    env += "GORO_CHAOS_SEED=" + std::to_string(goro::detail::chaos_seed()) + " ";
#endif
    // The simulation: the seed of the session running at the failure, or
    // of the last one to finish (an assertion after goro::run returned).
    if constexpr (goro::detail::sim) env += sim_replay_env();
    if (std::string(t.name()) == "TimersAndAsyncPreemptionUnderResize")
      env += "GORO_STRESS_SEED=" + std::to_string(stress_seed()) + " ";
    std::printf("replay: %sstress_test --gtest_filter=%s.%s\n", env.c_str(), t.test_suite_name(),
                t.name());
  }
};
const bool replay_printer_installed = [] {
  testing::UnitTest::GetInstance()->listeners().Append(new replay_printer);
  return true;
}();

}  // namespace

}  // namespace goro_stress

// The sanitizers' defaults for this binary (the environment's *SAN_OPTIONS
// still override them): the first report fails the test at once, with the
// report as its output (TSan would otherwise only change the exit code at
// the end), and ASan checks for leaks at exit. Compiled in rather than set
// through ctest's ENVIRONMENT, whose list splitting dropped all but the
// first variable. No suppressions: every report is a bug to fix.
extern "C" const char* __tsan_default_options() { return "halt_on_error=1"; }
extern "C" const char* __asan_default_options() { return "detect_leaks=1:halt_on_error=1"; }
