#!/usr/bin/env bash
# Runs clang-tidy-14 with the top-level .clang-tidy over goro's sources; any
# finding fails (WarningsAsErrors there).
#
#   ci/tidy.sh           src/, tests/, props/ and stress/ (every TU in the
#                        compile database; headers through them)
#   ci/tidy.sh REGEX...  only the TUs whose path matches one (e.g. src/sync/)
#
# It configures its own build tree, build/tidy, for compile_commands.json
# only: nothing is compiled. clang++-14, so clang-tidy sees the flags clang
# understands, and the invariant auditor on, so that code is checked too.
# Without goro::sim's second compilation of src/ (GORO_BUILD_SIM_LIB): it
# would add each library source again, for the few #ifdef GORO_SIM lines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"

tidy=${CLANG_TIDY:-clang-tidy-14}
runner=${RUN_CLANG_TIDY:-run-clang-tidy-14}
for t in "$tidy" "$runner" clang++-14; do
  command -v "$t" >/dev/null || { echo "tidy.sh: $t not found (ci/deps.sh installs it)" >&2; exit 2; }
done
dir=build/tidy
cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DGORO_CHECK_INVARIANTS=ON -DGORO_BUILD_TESTS=ON \
  -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF -DGORO_TLA=OFF -DGORO_BUILD_SIM_LIB=OFF >/dev/null
test -s "$dir/compile_commands.json" || { echo "tidy.sh: no $dir/compile_commands.json" >&2; exit 2; }

if [ $# -eq 0 ]; then set -- "$top/(src|tests|props|stress)/"; fi
jobs=${GORO_TIDY_JOBS:-$(nproc)}
log="$dir/tidy.log"
start=$SECONDS
# run-clang-tidy prints each command line before its findings; keep the
# findings. Its exit status is clang-tidy's: non-zero on any finding.
set +e
# -header-filter: .clang-tidy's pattern, anchored at this tree.
"$runner" -quiet -clang-tidy-binary "$(command -v "$tidy")" -p "$dir" -j "$jobs" \
  -header-filter="^$top/(src|include|tests|props|stress)/" "$@" >"$log" 2>&1
rc=$?
set -e
sed 's/\x1b\[[0-9;]*m//g' "$log" \
  | grep -v -E "^(/[^ ]*/)?$tidy |^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^$" || true
if [ "$rc" -ne 0 ]; then
  n=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -cE '(warning|error): .*\[[a-z]' || true)
  echo "tidy.sh: clang-tidy failed ($n findings; full log in $log)" >&2
  exit 1
fi
echo "tidy.sh: clean ($((SECONDS - start)) s, -j $jobs)"
