#!/usr/bin/env bash
# Builds goro and runs the showcase in examples/: a first look at goroutines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"
"$here/deps.sh" >/dev/null
# Its own build dir: switching tests off in build/release's cache would leave
# a later ci/test.sh there with nothing to run.
cmake --preset release -B build/demo -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_BENCH=OFF >/dev/null
cmake --build build/demo --target skynet hello >/dev/null
echo "== examples/hello.cpp"
build/demo/examples/hello
echo
echo "== examples/skynet.cpp"
build/demo/examples/skynet
