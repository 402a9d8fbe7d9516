#!/usr/bin/env bash
# The public headers mean the same with and without the private build
# definitions (GORO_SIM, GORO_CHECK_INVARIANTS, GORO_CHAOS): a user's objects
# are then the same whether they link goro::goro or goro::sim, and no inline
# function of include/goro has two definitions (an ODR violation) between the
# library's objects and the user's. Preprocesses every header both ways and
# compares. --selftest: a header that tests GORO_SIM must be caught.
set -euo pipefail
cxx=${CXX:-c++}
inc=$1
if [ "${2:-}" = --selftest ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp -r "$inc/goro" "$tmp/goro"
  printf '#pragma once\n#ifdef GORO_SIM\ninline int goro_sim_selftest() { return 1; }\n#endif\n' \
    >"$tmp/goro/selftest.hpp"
  if "$0" "$tmp" >/dev/null 2>&1; then
    echo "selftest: a header testing GORO_SIM was not caught" >&2
    exit 1
  fi
  echo "selftest: a header testing GORO_SIM is caught"
  exit 0
fi
# One translation unit including every header, preprocessed both ways.
tu=$(cd "$inc" && find goro -name '*.hpp' | sort | sed 's/.*/#include <&>/')
n=$(echo "$tu" | wc -l)
a=$(echo "$tu" | "$cxx" -std=c++20 -x c++ -E -P -I"$inc" -)
b=$(echo "$tu" | "$cxx" -std=c++20 -x c++ -E -P -I"$inc" -DGORO_SIM -DGORO_CHECK_INVARIANTS -DGORO_CHAOS -)
if [ "$a" != "$b" ]; then
  echo "the public headers differ with GORO_SIM / GORO_CHECK_INVARIANTS / GORO_CHAOS defined:" >&2
  diff <(echo "$a") <(echo "$b") | head -20 >&2
  exit 1
fi
echo "$n public headers are the same with and without the build definitions"
