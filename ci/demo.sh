#!/usr/bin/env bash
# Builds goro and runs the showcase in examples/: a first look at goroutines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"
"$here/deps.sh" >/dev/null
cmake --preset release -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_BENCH=OFF >/dev/null
cmake --build --preset release --target skynet hello >/dev/null
echo "== examples/hello.cpp"
build/release/examples/hello
echo
echo "== examples/skynet.cpp"
build/release/examples/skynet
