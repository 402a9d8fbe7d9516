#!/usr/bin/env bash
# Teeth: every deliberate bug (GORO_MUTANT) must be caught by props or stress.
#
#   ci/mutants.sh                  control run + every mutant; fails if the
#                                  control fails or a mutant goes uncaught
#   GORO_MUTANTS="a b" ci/mutants.sh   only these mutants
#   GORO_MUTANTS_FULL=1            run every check on every mutant (the full
#                                  table; by default a mutant's checks stop
#                                  at its first catch)
#   GORO_MUTANTS_UPDATE_SPEC=1     also splice the catch table into
#                                  spec/verification.md (between the
#                                  "mutants:begin/end" markers)
#   GORO_MUTANTS_BUILD=dir         build directory (default build/mutants)
#
# One build directory (build/mutants: release, GORO_CHAOS=ON and the
# invariant auditor GORO_CHECK_INVARIANTS=ON, only the
# targets the checks need). The mutant's macro is a PRIVATE definition of the
# goro library, so switching mutants recompiles the library only.
#
# First the control: the correct runtime, with chaos, must pass every check
# below and the whole stress label (this is also CI's chaos stress run). A
# check that fails on the control cannot count as catching anything, which
# is what makes a hang caught by a deadline (no_spin_recheck) a real catch.
# Then each mutant runs the checks in order (RapidCheck without shrinking, to
# save time) until one fails or times out: that check caught it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"

build=${GORO_MUTANTS_BUILD:-build/mutants}
jobs=$(nproc)
# no_needspinning's lost wakeup needs a narrow interleaving (TLC's
# PHandoff_no_needspinning trace); Stress.NeedspinningCounterexampleNoLostWakeup
# drives the runtime through it with the chaos hooks and catches it every
# time, in its first round.
mutants=${GORO_MUTANTS:-"steal_plain_store publish_tail_first get_plain_store no_spin_recheck wg_stale_wake exitsyscall_no_cas preempt_anywhere no_needspinning resize_drops_runnext timer_early preempt_no_xrstor netpoll_no_latch no_checkdead checkdead_ignores_threads uncounted_foreign_ready"}
targets="runq_concurrent_props stress_test sysmon_test net_test deadlock_test"
# The checks, as ctest names (gtest_discover_tests: Suite.Name).
# Quick checks first: a mutant's run stops at its first catch.
checks="SysmonTest.AsyncPreemptionRefusesRuntimeAndLibraryCode
SysmonTest.ShortBlockingCallsRacingRetakeKeepOneMPerP
RunqConcurrent.OwnerAndThievesLinearizable
Stress.TimersAndAsyncPreemptionUnderResize
Stress.StealFromOneProducerExactlyOnce
Stress.SpawnTreesMorePsThanCores
Stress.TokenRingOfWaitGroupParks
Stress.NeedspinningCounterexampleNoLostWakeup
Stress.SpinRendezvousNoLostWakeup
SysmonTest.AsyncPreemptionNeverLandsInsideMalloc
Stress.GomaxprocsChurnUnderLoad
NetTest.AnEdgeThatArrivesBeforeTheReaderWaitsIsNotLost
NetTest.EchoServerWithAThousandConcurrentConnections
Procs/DeadlockProcs.MainReceivingFromAChannelNobodySendsOnIsReported/procs2
Procs/DeadlockProcs.AStdThreadFeedingAChannelAfterAPauseIsNotADeadlock/procs2
Stress.CountedSchedulingEventsConserve"
# Checks a mutant tries before the list above (the order only saves time: a
# mutant counts as caught by whichever check fails, and the control must
# pass every check). The network and deadlock checks catch their mutants by
# hanging, so trying the others first would cost minutes of passing runs.
declare -A aimed=(
  [netpoll_no_latch]="NetTest.AnEdgeThatArrivesBeforeTheReaderWaitsIsNotLost"
  [no_checkdead]="Procs/DeadlockProcs.MainReceivingFromAChannelNobodySendsOnIsReported/procs2"
  [checkdead_ignores_threads]="Procs/DeadlockProcs.AStdThreadFeedingAChannelAfterAPauseIsNotADeadlock/procs2"
  [uncounted_foreign_ready]="Stress.CountedSchedulingEventsConserve"
)
# Per-check limit for mutants: a correct run takes ~2-5 s; a hang past this
# counts as a catch only because the control passed the same check.
mutant_timeout=40
# Races are caught by chance: against a mutant each stress check runs three
# times its CI budget (GORO_SOAK_SECONDS; plus its own 10 s lost-wakeup
# deadline, within mutant_timeout) and a check that passes gets one more
# attempt.
mutant_soak=6
mutant_attempts=2

declare -A what=(
  [steal_plain_store]="runqgrab claims the stolen Gs with a plain store to runqhead, not a CAS"
  [publish_tail_first]="runqput stores runqtail before the slot holds the G"
  [get_plain_store]="runqget (owner) claims its G with a plain store to runqhead, not a CAS"
  [no_spin_recheck]="a spinning M that gives up skips the re-check of every run queue"
  [wg_stale_wake]="wait_group: the add() reaching zero locks and wakes the list even with no waiter registered (the old protocol)"
  [exitsyscall_no_cas]="exitsyscall takes its old P back with a load and a store, not a CAS, racing sysmon's retake"
  [preempt_anywhere]="the SIGURG handler ignores the PC rule and may preempt inside malloc or other library code"
  [no_needspinning]="findrunnable drops its P without Go 1.21's needspinning check (goro's first spinning protocol)"
  [resize_drops_runnext]="procresize forgets the runnext G of a P it removes (runnable, in no queue)"
  [timer_early]="run_timers fires a timer up to 200 us before it is due"
  [preempt_no_xrstor]="the asynchronous preemption trampoline does not restore the interrupted goroutine's x87/SSE/AVX state (no XRSTOR)"
  [netpoll_no_latch]="netpoll drops a readiness edge that finds no goroutine waiting instead of latching it"
  [no_checkdead]="checkdead never declares a deadlock: a program whose goroutines are all asleep hangs"
  [checkdead_ignores_threads]="checkdead ignores threads outside the runtime (the rule before issue 10): a goroutine a std::thread will feed is reported as deadlocked"
  [uncounted_foreign_ready]="goready from a thread without a P is not counted in sched_stats"
)

configure() {
  cmake --preset release -B "$build" -DGORO_CHAOS=ON -DGORO_CHECK_INVARIANTS=ON -DGORO_MUTANT="$1" \
    -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF -Wno-dev >/dev/null 2>"$build.cmake.err" || {
    cat "$build.cmake.err"
    exit 1
  }
  # shellcheck disable=SC2086
  cmake --build "$build" -j "$jobs" --target $targets >/dev/null
}

# run_check NAME TIMEOUT: runs one check (a gtest test, straight from its
# binary so the time limit is ours, not the TIMEOUT property ctest would
# honour) and prints pass / FAIL / TIMEOUT; the output is kept in the log.
run_check() {
  local name=$1 limit=$2 log="$build/logs/${1//\//_}.$mutant.log" bin rc=0
  case $name in
    RunqConcurrent.*) bin=$build/props/runq_concurrent_props ;;
    Stress.*) bin=$build/stress/stress_test ;;
    SysmonTest.*) bin=$build/tests/sysmon_test ;;
    NetTest.*) bin=$build/tests/net_test ;;
    Procs/DeadlockProcs.*) bin=$build/tests/deadlock_test ;;
    *) echo "MISSING"; return ;;
  esac
  RC_PARAMS="noshrink=1" GORO_SOAK_SECONDS="${soak:-}" \
    timeout -k 5 "$limit" "$bin" --gtest_filter="$name" >"$log" 2>&1 || rc=$?
  if [ "$rc" = 0 ]; then
    if grep -q "\[  PASSED  \] 1 test" "$log"; then
      echo "pass"
    elif grep -q "\[ RUN      \] $name" "$log"; then
      # The process left with status 0 in the middle of the test (a broken
      # runtime can run main's exit path twice): it did not pass.
      echo "crashed: the process exited (status 0) before the test finished" >>"$log"
      echo "FAIL"
    else
      echo "MISSING"
    fi
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "Timeout after ${limit}s" >>"$log"
    echo "TIMEOUT"
  else
    if [ "$rc" -gt 128 ]; then echo "crashed: killed by signal $((rc - 128))" >>"$log"; fi
    echo "FAIL"
  fi
}

# What the check saw first: the runtime's or the check's own message if there
# is one, else the first gtest failure (two lines).
why() {
  local log="$build/logs/${1//\//_}.$2.log" line
  line=$(grep -m1 -A1 -E "property failure|lost wakeup|panic:|fatal error|HANG|crashed|Timeout after|watchdog:" \
    "$log" 2>/dev/null || true)
  # Keep the second line only when the first announces it (ends with ':').
  case $line in *:$'\n'*) ;; *) line=${line%%$'\n'*} ;; esac
  [ -n "$line" ] || line=$(grep -m1 -A2 -E "Failure$" "$log" 2>/dev/null | tail -n +2 || true)
  printf '%s' "$line" | sed -e 's/^[[:space:]]*//' -e 's/|/\\|/g' | tr '\n' ' ' | cut -c1-120
}

mkdir -p "$build/logs"
start=$SECONDS
printf '== mutants: control (GORO_MUTANT=none, GORO_CHAOS=ON)\n'
mutant=none
configure none
control_ok=1
while read -r c; do
  v=$(run_check "$c" 120)
  printf '   %-48s %s\n' "$c" "$v"
  [ "$v" = pass ] || control_ok=0
done <<<"$checks"
# -V: keep every test's output, so the chaos seeds of the control are logged.
if ! ctest --test-dir "$build" -L stress --timeout 300 -V >"$build/logs/stress.none.log" 2>&1; then
  cat "$build/logs/stress.none.log"
  control_ok=0
fi
printf '   whole stress label under chaos: passed; seeds: %s\n' \
  "$(grep -ho 'GORO_CHAOS_SEED=[0-9]*' "$build/logs/stress.none.log" | cut -d= -f2 | tr '\n' ' ')"
printf '   (replay one: GORO_CHAOS_SEED=N ctest --test-dir %s -R <test>)\n' "$build"
if [ "$control_ok" != 1 ]; then
  echo "mutants: the control run FAILED: the correct runtime does not pass the checks (logs in $build/logs)"
  exit 1
fi

table="| mutant | the bug | caught | catching checks (first symptom) |
| --- | --- | --- | --- |"
uncaught=""
for mutant in $mutants; do
  printf '== mutant %s: %s (%ss)\n' "$mutant" "${what[$mutant]:-?}" "$((SECONDS - start))"
  configure "$mutant"
  caught=""
  while read -r c; do
    for ((attempt = 1; attempt <= mutant_attempts; attempt++)); do
      v=$(soak=$mutant_soak run_check "$c" "$mutant_timeout")
      [ "$v" = pass ] || break
    done
    printf '   %-48s %s\n' "$c" "$v"
    if [ "$v" = FAIL ] || [ "$v" = TIMEOUT ]; then
      caught+="${caught:+; }\`$c\` ($v: $(why "$c" "$mutant"))"
      # One catch is enough unless the full table is wanted.
      [ "${GORO_MUTANTS_FULL:-0}" = 1 ] || break
    fi
  done < <(printf '%s\n' ${aimed[$mutant]:-} "$checks" | awk 'NF && !seen[$0]++')
  if [ -n "$caught" ]; then
    table+="
| \`$mutant\` | ${what[$mutant]:-?} | yes | $caught |"
  else
    table+="
| \`$mutant\` | ${what[$mutant]:-?} | **NO** | - |"
    uncaught+=" $mutant"
  fi
done
# Leave the directory as a correct (chaos) build.
configure none

printf '\n%s\n' "$table" | tee "$build/catch-table.md"
if [ "${GORO_MUTANTS_UPDATE_SPEC:-0}" = 1 ]; then
  spec=spec/verification.md
  stamp="Produced by \`GORO_MUTANTS_FULL=${GORO_MUTANTS_FULL:-0} GORO_MUTANTS_UPDATE_SPEC=1 ci/mutants.sh\` on $(date -u +%Y-%m-%d) (release, GORO_CHAOS=ON, $(nproc) cores)."
  python3 - "$spec" "$build/catch-table.md" "$stamp" <<'EOF'
import sys
spec, table, stamp = sys.argv[1], open(sys.argv[2]).read().strip(), sys.argv[3]
s = open(spec).read()
b, e = "<!-- mutants:begin -->", "<!-- mutants:end -->"
i, j = s.index(b) + len(b), s.index(e)
open(spec, "w").write(s[:i] + "\n" + stamp + "\n\n" + table + "\n" + s[j:])
EOF
fi
printf 'mutants: %ss in all\n' "$((SECONDS - start))"
if [ -n "$uncaught" ]; then
  echo "mutants: NOT CAUGHT:$uncaught"
  exit 1
fi
echo "mutants: every mutant was caught"
