#!/usr/bin/env bash
# The simulation's teeth (spec/simulation.md, "Existing suites under the sim
# build"): mutants of the spinning and run-queue protocols that the
# simulation's random walk must catch within a stated number of seeds, and
# the control (no mutant) that must pass the same seeds.
#
#   ci/sim_mutants.sh            build build/sim-mutants, run the table
#   GORO_SIM_MUTANT_BUILD=dir    use that sim build (GORO_MUTANT=runtime; CI's
#                                sim stage) instead of configuring one
#   GORO_SIM_MUTANT_JOBS=N       build jobs (default 2)
#
# One build: the sim preset with GORO_MUTANT=runtime (every mutant site
# compiled in, the active one named by GORO_MUTANT_ACTIVE at run time), and
# only stress_test. Each row runs one stress test over the seeds
# GORO_SIM_SEED_BASE=1, 2, ... (one per goro::run, --gtest_repeat passes);
# a failing row prints the replay line the test printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"
build=${GORO_SIM_MUTANT_BUILD:-build/sim-mutants}
jobs=${GORO_SIM_MUTANT_JOBS:-2}
if [ -z "${GORO_SIM_MUTANT_BUILD:-}" ]; then
  cmake --preset sim -B "$build" -DGORO_MUTANT=runtime -DGORO_MUTANT_SOURCES= \
    -DGORO_BUILD_TESTS=ON -DGORO_BUILD_PROPS=OFF -DGORO_BUILD_STRESS=ON \
    -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF -Wno-dev >/dev/null
elif ! grep -q '^GORO_MUTANT:STRING=runtime$' "$build/CMakeCache.txt" 2>/dev/null; then
  # Its mutants would silently run the correct runtime.
  echo "sim_mutants.sh: GORO_SIM_MUTANT_BUILD=$build is not a GORO_MUTANT=runtime sim build" >&2
  exit 1
fi
cmake --build "$build" --target stress_test -j "$jobs" >"$build.build.log" 2>&1 || {
  cat "$build.build.log"
  exit 1
}
bin=$build/stress/stress_test

# mutant:test:passes. A pass of SpinRendezvous is 2 sessions (procs 2, 3),
# of StealFromOneProducer 1; every seed of these fails today (random walk).
rows="no_needspinning:SpinRendezvousNoLostWakeup:5
no_spin_recheck:SpinRendezvousNoLostWakeup:5
steal_plain_store:StealFromOneProducerExactlyOnce:5"

status=0
controlled=""
run_row() {  # mutant test passes -> exit status of the run
  local m=$1 t=$2 n=$3 rc=0
  env ${m:+GORO_MUTANT_ACTIVE=$m} GORO_SIM_REPLAY_DIR="$build" GORO_SIM_SEED_BASE=1 GORO_SIM_STRATEGY=random \
    timeout -k 5 300 "$bin" --gtest_filter="Stress.$t" --gtest_repeat="$n" \
    >"$build/$t.${m:-control}.log" 2>&1 || rc=$?
  return $rc
}
while IFS=: read -r m t n; do
  start=$SECONDS
  if run_row "$m" "$t" "$n"; then
    echo "sim_mutants: $m: Stress.$t passed $n passes: NOT CAUGHT"
    status=1
  else
    seed=$(grep -m1 -oE "GORO_SIM_SEED=[0-9]+" "$build/$t.$m.log" || true)
    echo "sim_mutants: $m: caught by Stress.$t (${seed:-no seed printed}) in $((SECONDS - start)) s"
  fi
  # The control, once per test.
  case " $controlled " in *" $t "*) continue ;; esac
  controlled="$controlled $t"
  start=$SECONDS
  if run_row "" "$t" "$n"; then
    echo "sim_mutants: control: Stress.$t passed $n passes in $((SECONDS - start)) s"
  else
    echo "sim_mutants: control: Stress.$t FAILED without a mutant (log: $build/$t.control.log)"
    status=1
  fi
done <<<"$rows"
exit $status
