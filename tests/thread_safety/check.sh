#!/bin/sh
# The thread-safety annotations have teeth: clang (with the flags the clang
# presets build with) accepts tests/thread_safety/snippet.cpp's correct code
# and rejects each of its lock errors. Usage: check.sh CLANGXX SOURCE_DIR
set -u
cxx=$1
src=$2
flags="-std=c++20 -fsyntax-only -Wthread-safety -Werror=thread-safety -I$src/include -I$src/src"
snippet=$src/tests/thread_safety/snippet.cpp
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
if ! $cxx $flags "$snippet" >"$out" 2>&1; then
  echo "FAIL: the correct code does not compile:"; cat "$out"; status=1
fi
for c in 1 2 3 4; do
  if $cxx $flags -DGORO_TS_CASE=$c "$snippet" >"$out" 2>&1; then
    echo "FAIL: case $c compiled: the analysis missed a lock error"; status=1
  elif ! grep -q 'Werror,-Wthread-safety' "$out"; then
    echo "FAIL: case $c failed for another reason:"; cat "$out"; status=1
  else
    echo "ok: case $c rejected: $(grep -m1 'error:' "$out" | sed 's/.*error: //')"
  fi
done
exit $status
