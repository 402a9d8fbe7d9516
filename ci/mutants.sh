#!/usr/bin/env bash
# Teeth: every deliberate bug (GORO_MUTANT) must be caught, and one table
# says which independent check catches it (spec/verification.md, "Mutants").
#
#   ci/mutants.sh                  every mutant, then the control; fails if
#                                  the control fails, a mutant goes uncaught
#                                  by the runtime's tests, a TLA+ twin goes
#                                  uncaught by TLC, or (below) c11 misses a
#                                  memory-order-sensitive mutant
#   GORO_MUTANTS="a b" ci/mutants.sh   only these mutants (and the control)
#   GORO_MUTANTS_FULL=1            run every check on every mutant: the full
#                                  table. By default (CI mode) the runtime's
#                                  checks stop at a mutant's first catch and
#                                  the columns they did not reach say "·".
#   GORO_MUTANTS_UPDATE_SPEC=1     also splice the table into
#                                  spec/verification.md (between the
#                                  "mutants:begin/end" markers), stamped with
#                                  the commit, the date and the mode
#   GORO_MUTANTS_REQUIRE_C11=0     do not fail when a memory-order-sensitive
#                                  mutant has no c11 teeth test or c11
#                                  misses it (default 1: fail)
#   GORO_MUTANTS_TLC=auto|run|off  TLC column: reuse a verdict of the same
#                                  inputs (tla/.results, left by the tla
#                                  label earlier in CI) or run ci/tlc.sh
#                                  (auto, the default); always run; skip
#   GORO_MUTANTS_BUILD=dir         build directory (default build/mutants)
#   GORO_MUTANTS_C11_BUILD=dir     where the c11 teeth are built and run
#                                  (default build/release if configured,
#                                  where CI's release run has built them
#                                  already; else the mutants build)
#
# The columns, one per independent oracle:
#   TLC      the TLA+ mutant that models the same bug (the tlc map below),
#            checked by ci/tlc.sh; n/a where no model covers the code.
#   c11      every ctest named c11.<check>.teeth.<mutant> (c11/CMakeLists.txt:
#            the shipped source compiled for Relacy with -DGORO_MUTANT_<NAME>);
#            found by name, so a new teeth test joins with no edit here. Such
#            a test passes when Relacy reports the failure it names, so a
#            passing test is a catch.
#   props    RunqConcurrent.* (props/)    stress  Stress.* (stress/)
#   unit     the tests/ checks (SysmonTest, NetTest, DeadlockProcs)
#   auditor  a run of any of those that failed through the invariant
#            auditor (src/sched/audit.hpp, GORO_CHECK_INVARIANTS): its
#            "goro: fatal error: invariant violated: <Name>" is in the log. A
#            property of the run, so such a catch counts in both columns.
#
# One build directory (build/mutants: release, GORO_CHAOS=ON, the invariant
# auditor GORO_CHECK_INVARIANTS=ON, and GORO_MUTANT=runtime): every mutant
# site is compiled in and the environment variable GORO_MUTANT_ACTIVE picks
# the one a check runs with (src/base/build_config.hpp, mutant_on), so the
# library and the check binaries are built once for the whole table, the
# control included (GORO_MUTANT_ACTIVE unset). One library rebuild per mutant
# was most of this script's time. In production builds the sites are
# constants and fold away.
#
# Each mutant runs the checks in order (RapidCheck without shrinking, to save
# time) until one fails or times out: that check caught it. Last, the
# control: the correct runtime, with chaos, must pass every check and the
# whole stress label (also CI's chaos stress run), and a failing control
# fails the run whatever the mutants did. A check that fails on the control
# cannot count as catching anything, which is what makes a hang caught by a
# deadline (no_spin_recheck) a real catch. The control runs the same
# binaries with no mutant active.
set -euo pipefail
# The control must be the correct runtime whatever the caller's environment.
unset GORO_MUTANT_ACTIVE
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"

build=${GORO_MUTANTS_BUILD:-build/mutants}
full=${GORO_MUTANTS_FULL:-0}
require_c11=${GORO_MUTANTS_REQUIRE_C11:-1}
tlc_mode=${GORO_MUTANTS_TLC:-auto}
if [ -n "${GORO_MUTANTS_C11_BUILD:-}" ]; then
  c11_build=$GORO_MUTANTS_C11_BUILD
elif [ -f build/release/CMakeCache.txt ]; then
  c11_build=build/release
else
  c11_build=$build
fi
jobs=$(nproc)
# no_needspinning's lost wakeup needs a narrow interleaving (TLC's
# PHandoff_no_needspinning trace); Stress.NeedspinningCounterexampleNoLostWakeup
# drives the runtime through it with the chaos hooks and catches it every
# time, in its first round.
# The table's order: the run-queue mutants, the syscall handoff, netpoll,
# spinning, then those in one source file each.
mutants=${GORO_MUTANTS:-"steal_plain_store publish_tail_first get_plain_store exitsyscall_no_cas netpoll_no_latch no_spin_recheck no_needspinning wg_stale_wake preempt_anywhere preempt_no_xrstor resize_drops_runnext timer_early no_checkdead checkdead_ignores_threads uncounted_foreign_ready"}
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
# The spinning and wait_group mutants go straight to the stress check that
# was their first catch in the list's order (CI run of f90bc7b), skipping
# ~50-75 s of passing stress runs each; GORO_MUTANTS_FULL=1 still runs all.
declare -A aimed=(
  [no_spin_recheck]="Stress.NeedspinningCounterexampleNoLostWakeup"
  [no_needspinning]="Stress.NeedspinningCounterexampleNoLostWakeup"
  [wg_stale_wake]="Stress.TokenRingOfWaitGroupParks"
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

# The memory-order-sensitive mutants: bugs in a lock-free protocol between
# threads (a CAS made a plain store, a store moved before the one it
# publishes, a re-check or a latch that a store/load race needs dropped).
# The C++ memory model is where they live, so c11 must catch each: with
# GORO_MUTANTS_REQUIRE_C11=1 (the default) a missing or missing-the-bug
# c11.<check>.teeth.<mutant> test fails the run.
declare -A order_sensitive=(
  [steal_plain_store]=1 [publish_tail_first]=1 [get_plain_store]=1
  [no_spin_recheck]=1 [no_needspinning]=1 [wg_stale_wake]=1
  [exitsyscall_no_cas]=1 [netpoll_no_latch]=1
)

# TLC: the TLA+ mutant (tla/mutants/NAME.cfg) that models the same bug in
# the model of the same code. A static map, since a model's actions are not
# the C++ functions one for one (tla/README.md, spec/traceability.md).
declare -A tlc=(
  [steal_plain_store]=RunQueue_steal_plain_store
  [publish_tail_first]=RunQueue_publish_tail_first
  [get_plain_store]=RunQueue_get_plain_store
  [no_spin_recheck]=PHandoff_no_spin_recheck
  [no_needspinning]=PHandoff_no_needspinning
  [exitsyscall_no_cas]=PHandoff_exitsyscall_no_cas
)
# Mutants no TLA+ model can express (the table says n/a), and why. A mutant
# in neither map shows "– (no TLA+ mutant)": a model covers the code but
# nobody has written the twin.
declare -A tlc_na=(
  [wg_stale_wake]="no model of wait_group"
  [preempt_anywhere]="PHandoff has no signals and no PCs"
  [resize_drops_runnext]="procresize is not modelled (tla/README.md)"
  [timer_early]="time is not modelled"
  [preempt_no_xrstor]="register state is not modelled"
  [netpoll_no_latch]="no model of netpoll"
  [no_checkdead]="checkdead is not modelled"
  [checkdead_ignores_threads]="checkdead is not modelled"
  [uncounted_foreign_ready]="sched_stats is not modelled"
)
# c11: a mutant with no teeth test is n/a there unless it is
# order-sensitive (then "– (no teeth test)"): a PC rule, register state,
# timing, or a rule kept under sched.lock or a stopped world is not a
# question of memory order.

# What a check belongs to (the table's columns).
column_of() {
  case $1 in
    RunqConcurrent.*) echo props ;;
    Stress.*) echo stress ;;
    *) echo unit ;;
  esac
}
binary_of() {
  case $1 in
    RunqConcurrent.*) echo props/runq_concurrent_props ;;
    Stress.*) echo stress/stress_test ;;
    SysmonTest.*) echo tests/sysmon_test ;;
    NetTest.*) echo tests/net_test ;;
    Procs/DeadlockProcs.*) echo tests/deadlock_test ;;
    *) echo "" ;;
  esac
}

# configure: the one build of the table (see above). Nothing is built here:
# run_check builds the binary it needs, once.
configure() {
  cmake --preset release -B "$build" -DGORO_CHAOS=ON -DGORO_CHECK_INVARIANTS=ON -DGORO_MUTANT=runtime \
    -DGORO_MUTANT_SOURCES= \
    -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF -Wno-dev >/dev/null 2>"$build.cmake.err" || {
    cat "$build.cmake.err"
    exit 1
  }
}
build_targets() {
  # shellcheck disable=SC2068
  cmake --build "$build" -j "$jobs" --target $@ >"$build/logs/build.$mutant.log" 2>&1 || {
    cat "$build/logs/build.$mutant.log"
    exit 1
  }
}

# run_check NAME TIMEOUT: runs one check (a gtest test, straight from its
# binary so the time limit is ours, not the TIMEOUT property ctest would
# honour) and prints pass / FAIL / TIMEOUT; the output is kept in the log.
run_check() {
  local name=$1 limit=$2 log="$build/logs/${1//\//_}.$mutant.log" bin rc=0
  bin=$(binary_of "$name")
  if [ -z "$bin" ]; then
    echo "MISSING"
    return
  fi
  build_targets "$(basename "$bin")"
  RC_PARAMS="noshrink=1" GORO_SOAK_SECONDS="${soak:-}" GORO_MUTANT_ACTIVE="$mutant" \
    timeout -k 5 "$limit" "$build/$bin" --gtest_filter="$name" >"$log" 2>&1 || rc=$?
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

# auditor_name LOG: the invariant the auditor reported in LOG, if it did.
auditor_name() {
  sed -n 's/.*goro: fatal error: invariant violated: \([A-Za-z0-9_]*\).*/\1/p' "$1" 2>/dev/null | head -1 || true
}

# tlc_cell MUTANT: sets tlc_c, the TLC column, and adds to tlc_bad when a mapped twin is not
# caught (or has no config).
tlc_cell() {
  local m=$1 name=${tlc[$1]:-} key row verdict
  if [ -z "$name" ]; then
    if [ -n "${tlc_na[$m]:-}" ]; then tlc_c="n/a"; else tlc_c="– (no TLA+ mutant)"; fi
    return
  fi
  if ! key=$("$here/tlc.sh" --key "$name" 2>/dev/null); then
    tlc_bad+=" $m"
    tlc_c="**no tla/mutants/$name.cfg**"
    return
  fi
  local rows=tla/.results how=cached
  if [ "$tlc_mode" = run ] || [ "$(cat "$rows/$name.key" 2>/dev/null)" != "$key" ]; then
    if [ "$tlc_mode" = off ]; then
      tlc_c="· \`$name\` (not run)"
      return
    fi
    how=ran
    TLC_RESULTS=0 "$here/tlc.sh" "$name" >"$build/logs/tlc.$name.log" 2>&1 || true
  fi
  if [ "$(cat "$rows/$name.key" 2>/dev/null)" != "$key" ]; then
    # TLC did not run (no java, no jar): say so, fail nothing.
    tlc_c="· \`$name\` (TLC did not run: $build/logs/tlc.$name.log)"
    return
  fi
  row=$(cat "$rows/$name.row")
  verdict=$(printf '%s' "$row" | cut -d'|' -f4 | sed 's/^ *//; s/ *$//')
  printf '   %-48s %s (%s)\n' "TLC $name" "$verdict" "$how"
  case $verdict in
    "pass: caught by "*) tlc_c="✓ \`$name\` (${verdict#pass: caught by })" ;;
    *)
      tlc_bad+=" $m"
      tlc_c="**–** \`$name\` (${verdict#FAIL: })"
      ;;
  esac
}

# c11_cell MUTANT: sets c11_c, the c11 column, from every ctest
# c11.<check>.teeth.MUTANT in the c11 build, and adds to c11_bad what
# GORO_MUTANTS_REQUIRE_C11 fails.
c11_refreshed=0
c11_cell() {
  local m=$1 tests t exe cell="" log caught
  if [ "$c11_refreshed" = 0 ]; then
    # CMake re-runs if c11/CMakeLists.txt changed (new teeth); nothing is built.
    if [ "$c11_build" = "$build" ]; then configure; fi
    cmake --build "$c11_build" --target build.ninja >/dev/null 2>&1 || true
    c11_refreshed=1
  fi
  # name <TAB> executable, from the CTest files (ctest --show-only gives no
  # command for a test whose executable is not built yet).
  tests=$(find "$c11_build/c11" -name CTestTestfile.cmake -exec cat {} + 2>/dev/null |
    sed -n "s/^add_test(\[=\[\(c11\.[A-Za-z0-9_]*\.teeth\.$m\)\]=\] \"\([^\"]*\)\".*/\1\t\2/p" || true)
  if [ -z "$tests" ]; then
    if [ -n "${order_sensitive[$m]:-}" ]; then
      c11_bad+=" $m(no-teeth)"
      c11_c="**– (no teeth test)**"
    else
      c11_c="n/a"
    fi
    return
  fi
  while IFS=$'\t' read -r t exe; do
    cmake --build "$c11_build" -j "$jobs" --target "$(basename "$exe")" \
      >"$build/logs/c11-build.$t.log" 2>&1 || {
      cat "$build/logs/c11-build.$t.log"
      exit 1
    }
    log="$build/logs/$t.log"
    if ctest --test-dir "$c11_build" -R "^${t//./\\.}\$" -V >"$log" 2>&1; then
      # What Relacy printed: the invariant an RL_ASSERT names, else its
      # report's title (DATA RACE, ...).
      caught=$(grep -m1 -E "ASSERT FAILED|DATA RACE|ACCESS TO|DEADLOCK|LIVELOCK|LEAK|USE AFTER|DOUBLE FREE" \
        "$log" | sed -e 's/^[0-9]*: //' -e 's/.*!"\([A-Za-z0-9_]*\).*/\1/' -e 's/ (.*//' || true)
      printf '   %-48s caught (%s)\n' "$t" "${caught:-?}"
      cell+="${cell:+; }✓ \`$t\` (${caught:-?})"
    else
      printf '   %-48s MISSED\n' "$t"
      c11_bad+=" $m(missed:$t)"
      cell+="${cell:+; }**–** \`$t\` (missed)"
    fi
  done <<<"$tests"
  c11_c=$cell
}

mkdir -p "$build/logs"
start=$SECONDS
# The one build: the library and every binary a check runs.
mutant=none
configure
build_targets runq_concurrent_props stress_test sysmon_test net_test deadlock_test
uncaught="" tlc_bad="" c11_bad=""
table="| mutant | the bug | order-sensitive | TLC | c11 | props | stress | auditor | unit | first symptom |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for mutant in $mutants; do
  printf '== mutant %s: %s (%ss)\n' "$mutant" "${what[$mutant]:-?}" "$((SECONDS - start))"
  [ -n "${what[$mutant]:-}" ] || {
    echo "mutants: unknown mutant '$mutant'"
    exit 1
  }
  tlc_cell "$mutant"
  c11_cell "$mutant"
  declare -A cell=([props]="" [stress]="" [unit]="" [auditor]="")
  declare -A ran=([props]=0 [stress]=0 [unit]=0 [auditor]=0)
  declare -A total=([props]=0 [stress]=0 [unit]=0 [auditor]=0)
  symptom="" stop=0
  while read -r c; do
    col=$(column_of "$c")
    total[$col]=$((total[$col] + 1)) total[auditor]=$((total[auditor] + 1))
    [ "$stop" = 0 ] || continue
    ran[$col]=$((ran[$col] + 1)) ran[auditor]=$((ran[auditor] + 1))
    for ((attempt = 1; attempt <= mutant_attempts; attempt++)); do
      v=$(soak=$mutant_soak run_check "$c" "$mutant_timeout")
      [ "$v" = pass ] || break
    done
    printf '   %-48s %s\n' "$c" "$v"
    if [ "$v" = FAIL ] || [ "$v" = TIMEOUT ]; then
      note=""
      [ "$v" = TIMEOUT ] && note=" (TIMEOUT)"
      cell[$col]+="${cell[$col]:+; }✓ \`$c\`$note"
      inv=$(auditor_name "$build/logs/${c//\//_}.$mutant.log")
      [ -z "$inv" ] || cell[auditor]+="${cell[auditor]:+; }✓ $inv (\`$c\`)"
      [ -n "$symptom" ] || symptom="\`$c\`: $v: $(why "$c" "$mutant")"
      # CI mode: one catch is enough; the other columns say "·".
      [ "$full" = 1 ] || stop=1
    elif [ "$v" = MISSING ]; then
      echo "mutants: check $c is missing from its binary"
      exit 1
    fi
  done < <(printf '%s\n' ${aimed[$mutant]:-} "$checks" | awk 'NF && !seen[$0]++')
  # Not caught: – if every check of the column ran, · if none did, else
  # how many ran (and passed).
  for col in props stress auditor unit; do
    if [ -z "${cell[$col]}" ]; then
      if [ "${ran[$col]}" = "${total[$col]}" ]; then
        cell[$col]="–"
      elif [ "${ran[$col]}" = 0 ]; then
        cell[$col]="·"
      else
        cell[$col]="– (${ran[$col]} of ${total[$col]} tried)"
      fi
    fi
  done
  if [ -z "$symptom" ]; then
    uncaught+=" $mutant"
    symptom="**NOT CAUGHT**"
  fi
  table+="
| \`$mutant\` | ${what[$mutant]} | ${order_sensitive[$mutant]:+yes} | $tlc_c | $c11_c | ${cell[props]} | ${cell[stress]} | ${cell[auditor]} | ${cell[unit]} | $symptom |"
  unset cell ran total
done

printf '== mutants: control (GORO_MUTANT_ACTIVE=none, GORO_CHAOS=ON) (%ss)\n' "$((SECONDS - start))"
mutant=none
control_ok=1
# The stress checks' control is the whole stress label below (each Stress.*
# check is one of its tests, run the same way): running them one by one too
# would run them twice.
# -V: keep every test's output, so the chaos seeds of the control are logged.
stress_log=$build/logs/stress.none.log
stress_ok=1
if ! ctest --test-dir "$build" -L stress --timeout 300 -V >"$stress_log" 2>&1; then
  cat "$stress_log"
  control_ok=0
  stress_ok=0
fi
while read -r c; do
  case $c in
    Stress.*)
      if grep -qE "Test +#[0-9]+: $c \.+ +Passed" "$stress_log"; then v=pass; else v="FAIL (or missing)"; fi
      v="$v (stress label)"
      ;;
    *) v=$(run_check "$c" 120) ;;
  esac
  printf '   %-48s %s\n' "$c" "$v"
  case $v in pass*) ;; *) control_ok=0 ;; esac
done <<<"$checks"
printf '   whole stress label under chaos: %s; seeds: %s\n' \
  "$([ "$stress_ok" = 1 ] && echo passed || echo FAILED)" \
  "$(grep -ho 'GORO_CHAOS_SEED=[0-9]*' "$stress_log" | cut -d= -f2 | tr '\n' ' ')"
printf '   (replay one: GORO_CHAOS_SEED=N ctest --test-dir %s -R <test>)\n' "$build"

legend="✓ caught (by the check named), – not caught, n/a the oracle cannot express this bug, · not tried (CI mode stops at the first catch; \"k of n tried\": the others were not). The auditor column counts the runs of the other columns' checks."
printf '\n%s\n\n%s\n' "$table" "$legend" | tee "$build/catch-table.md"
if [ "$control_ok" != 1 ]; then
  echo "mutants: the control run FAILED: the correct runtime does not pass the checks (logs in $build/logs)"
  exit 1
fi
if [ "${GORO_MUTANTS_UPDATE_SPEC:-0}" = 1 ]; then
  spec=spec/verification.md
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  git diff --quiet HEAD -- src include 2>/dev/null || commit+=" (plus uncommitted changes)"
  if [ "$full" = 1 ]; then mode="every check on every mutant"; else mode="CI mode: first catch only"; fi
  stamp="Produced by \`GORO_MUTANTS_FULL=$full GORO_MUTANTS_UPDATE_SPEC=1 ci/mutants.sh\` ($mode) on $(date -u +%Y-%m-%d) at commit $commit (release, GORO_CHAOS=ON, $(nproc) cores, $((SECONDS - start)) s in all)."
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
rc=0
if [ -n "$uncaught" ]; then
  echo "mutants: NOT CAUGHT by the runtime's checks:$uncaught"
  rc=1
fi
if [ -n "$tlc_bad" ]; then
  echo "mutants: the TLA+ twin is missing or TLC does not catch it:$tlc_bad"
  rc=1
fi
if [ -n "$c11_bad" ]; then
  if [ "$require_c11" = 1 ]; then
    echo "mutants: c11 does not catch these memory-order-sensitive mutants:$c11_bad (GORO_MUTANTS_REQUIRE_C11=0 to report only)"
    rc=1
  else
    echo "mutants: (not required) c11 does not catch:$c11_bad"
  fi
fi
[ "$rc" != 0 ] || echo "mutants: every mutant was caught"
exit "$rc"
