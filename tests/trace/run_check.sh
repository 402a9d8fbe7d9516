#!/usr/bin/env bash
# Runs a program with GORO_TRACE set, then a checker on the trace it wrote.
#
#   run_check.sh [--no-env] TRACE CHECKER [ARGS...] -- PROGRAM [ARGS...]
#
# --no-env: the program writes TRACE itself (goro::trace_start); GORO_TRACE
# stays unset. Fails if the program fails, wrote no trace, or the checker
# fails; the checker's output says what it counted.
set -euo pipefail
env_trace=1
if [ "${1:-}" = "--no-env" ]; then env_trace=0; shift; fi
trace=$1; shift
checker=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do checker+=("$1"); shift; done
[ "${1:-}" = "--" ] || { echo "run_check.sh: missing -- before the program" >&2; exit 2; }
shift
mkdir -p "$(dirname "$trace")"
rm -f "$trace"
if [ "$env_trace" = 1 ]; then
  GORO_TRACE=$trace "$@" >/dev/null
else
  "$@" >/dev/null
fi
[ -s "$trace" ] || { echo "run_check.sh: $* wrote no trace to $trace" >&2; exit 1; }
echo "run_check.sh: $(stat -c %s "$trace") bytes in $trace"
"${checker[@]}" "$trace" | tail -n 20
exit "${PIPESTATUS[0]}"
