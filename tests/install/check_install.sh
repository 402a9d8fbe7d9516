#!/usr/bin/env bash
# Installs the goro in build dir $1 into a scratch prefix, then configures,
# builds and runs tests/install/consumer against it with find_package(goro).
# Fails if the install, the package config, the exported target or the
# README's example breaks.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$here/consumer" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/build" >/dev/null
"$scratch/build/app"
echo "find_package(goro) consumer built and ran against $scratch/prefix"
