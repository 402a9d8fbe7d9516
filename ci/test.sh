#!/usr/bin/env bash
# Builds goro and passes every test: the README's test command and what CI runs.
#
#   ci/test.sh            deps, then release (unit, props, stress, bench-smoke,
#                         tla, tla-trace, lint, c11), TSan with the auditor
#                         (unit) and without it (tsan-release: unit, props,
#                         stress), ASan+UBSan with it (unit, props, stress),
#                         the deterministic simulation (sim, tla-trace), and
#                         the mutant checks (ci/mutants.sh, ci/sim_mutants.sh)
#   GORO_TEST_QUICK=1     release build and its labels only (a fast local loop)
#   GORO_SKIP_LINT=1      lint (clang-format, clang-tidy) reported as skipped:
#                         local use only, for a tree knowingly unformatted
#
# Every check is a ctest test with a label; a failure anywhere fails the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"

"$here/deps.sh"

jobs=$(nproc)
step() { printf '\n== %s (%ss since start)\n' "$*" "$SECONDS"; }

# ctest_preset PRESET LABEL_REGEX [CMAKE_ARGS...]: configure, build and run
# one preset. Only the release preset runs bench-smoke and c11: the other
# presets do not build what they do not run
# (the Relacy checks at -O0 alone cost minutes of CI).
ctest_preset() {
  local preset=$1 labels=$2 parts; shift 2
  case $preset in
    release) parts=(-DGORO_BUILD_BENCH=ON -DGORO_BUILD_EXAMPLES=ON -DGORO_BUILD_STRESS=ON -DGORO_C11=ON) ;;
    # sim: GORO_MUTANT=runtime, so that ci/sim_mutants.sh runs its mutants
    # on this build's stress_test (no mutant is active unless it names one).
    sim) parts=(-DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_STRESS=ON -DGORO_C11=OFF
                -DGORO_MUTANT=runtime -DGORO_MUTANT_SOURCES=) ;;
    tsan) parts=(-DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_STRESS=OFF -DGORO_C11=OFF
                 -DGORO_BUILD_PROPS=OFF) ;;
    *) parts=(-DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_STRESS=ON -DGORO_C11=OFF) ;;
  esac
  # The sim preset builds what runs under the simulation only (labels sim
  # and tla-trace): the other suites assume wall-clock time and real
  # parallelism (spec/simulation.md, "Existing suites under the sim build").
  local targets=()
  if [ "$preset" = sim ]; then
    # sim_test, the stress suite and the whole-runtime property over many
    # seeds (sim.stress.*, sim.props.runtime.*), the counterexample replays
    # (tests/cex_*.cpp: TLC's trace of a TLA+ mutant run on the real code as
    # a forced schedule).
    # And the trace validation of simulated runs (tests/sim_trace.cpp, label
    # tla-trace here: each run's trace log checked by TLC, seven C++ mutants
    # rejected).
    targets=(--target sim_test stress_test runtime_props cex_runq cex_psyscall cex_runq_steal_plain_store
             cex_runq_publish_tail_first cex_runq_get_plain_store cex_psyscall_exitsyscall_no_cas
             sim_trace sim_trace_steal_plain_store sim_trace_get_plain_store
             sim_trace_steal_half_plus_one sim_trace_exitsyscall_no_cas
             sim_trace_no_needspinning sim_trace_no_spin_recheck sim_trace_ready_twice)
  fi
  step "configure + build: $preset"
  # Explicit ON: a cache left by someone's -DGORO_BUILD_TESTS=OFF must not
  # turn this run into one that tests nothing.
  cmake --preset "$preset" -DGORO_BUILD_TESTS=ON "${parts[@]}" "$@" >/dev/null
  cmake --build --preset "$preset" -j "$jobs" "${targets[@]}"
  step "ctest: $preset, labels $labels"
  local log="build/$preset/ctest-summary.log"
  ctest --test-dir "build/$preset" -L "$labels" --output-on-failure -j "$jobs" --timeout 900 \
    --no-tests=error | tee "$log"
  # set -o pipefail: a failing ctest fails the run here. Count what passed.
  local n skipped
  n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  skipped=$(grep -c '\*\*\*Skipped' "$log" || true)
  total_passed=$((total_passed + ${n:-0} - skipped))
  total_skipped=$((total_skipped + skipped))
}
total_passed=0
total_skipped=0

ctest_preset release 'unit|props|stress|bench-smoke|tla|tla-trace|lint|c11' -DGORO_TLA=ON
if [ "${GORO_TEST_QUICK:-0}" = 1 ]; then
  step "quick mode: done"
  echo "${total_passed} passed, 0 failed, ${total_skipped} skipped"
  exit 0
fi
# No debug (-O0) stage: its unit and property runs with the auditor are
# the ASan stage's too (clang -O2, the auditor on, plus the sanitizers), the
# runtime has no assert() that only -O0 would keep, and gcc with the auditor
# builds in the sim stage. The preset stays for local debugging.
# TSan with the invariant auditor over the unit tests: what it adds is that
# the auditor's own reads race with nothing. The properties and the stress
# suite run under TSan in tsan-release below (the shipped protocol) and with
# the auditor under ASan, so this run
# leaves them out to keep CI under its 30 minutes.
ctest_preset tsan 'unit'
# TSan again over the release protocol (GORO_CHECK_INVARIANTS off): the
# checks add no synchronization (spec/memory-model.md §9), and this run is
# what shows the shipped program, not only the checked one, is race-free.
ctest_preset tsan-release 'unit|props|stress'
ctest_preset asan 'unit|props|stress'
# The deterministic simulation (GORO_SIM): the same seed gives the same
# run, many seeds and both strategies complete, virtual time, and a planted
# race found and replayed from its seed.
ctest_preset sim 'sim|tla-trace'
if [ -x "$here/mutants.sh" ]; then
  step "mutants: each deliberate bug must be caught"
  "$here/mutants.sh"
fi
# The simulation's teeth: mutants its seeded runs of the stress suite must
# catch, on the sim stage's build (GORO_MUTANT=runtime).
step "sim mutants: each must be caught under the simulation"
GORO_SIM_MUTANT_BUILD=build/sim "$here/sim_mutants.sh"
step "all tests passed"
# One plain closing line for whoever reads the end of the log.
echo "${total_passed} passed, 0 failed, ${total_skipped} skipped"
