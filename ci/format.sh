#!/usr/bin/env bash
# Formats goro's C++ sources with clang-format-14 and the top-level .clang-format.
#
#   ci/format.sh             reformat every source in place
#   ci/format.sh --check     change nothing; list the files that differ and
#                            fail if there is one (the CI gate)
#   ci/format.sh [--check] FILE...   only those files
#
# The sources are the tracked *.cpp and *.hpp under the directories below;
# tla/, spec/ and the Go peers are not C++.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"

check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
fmt=${CLANG_FORMAT:-clang-format-14}
command -v "$fmt" >/dev/null || { echo "format.sh: $fmt not found (ci/deps.sh installs it)" >&2; exit 2; }

dirs=(src include tests props stress bench examples c11)
if [ $# -gt 0 ]; then
  files=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- "${dirs[@]}" | grep -E '\.(cpp|hpp)$')
else
  mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.cpp' -o -name '*.hpp' \) | sort)
fi
[ ${#files[@]} -gt 0 ] || { echo "format.sh: no sources found" >&2; exit 2; }

if [ "$check" = 0 ]; then
  "$fmt" -i --style=file "${files[@]}"
  echo "format.sh: formatted ${#files[@]} files"
  exit 0
fi

bad=0
for f in "${files[@]}"; do
  # Count the lines that would change, so the list says how far off each is
  # (a change that only inserts lines counts the inserted ones).
  d=$("$fmt" --style=file "$f" | diff "$f" - || true)
  [ -n "$d" ] || continue
  n=$(grep -c '^<' <<<"$d" || true)
  [ "$n" -gt 0 ] || n=$(grep -c '^>' <<<"$d" || true)
  echo "$f: $n lines differ from .clang-format"
  bad=$((bad + 1))
done
if [ "$bad" -gt 0 ]; then
  echo "format.sh --check: $bad of ${#files[@]} files need formatting; run ci/format.sh (or see the diff with $fmt --dry-run FILE)" >&2
  exit 1
fi
echo "format.sh --check: ${#files[@]} files formatted"
