#!/usr/bin/env bash
# Installs the goro in build dir $1 into a scratch prefix, then builds and runs
# tests/install/consumer against it twice: with find_package(goro), and with
# plain c++ and pkg-config (goro.pc). Also checks that both record the
# sanitizer goro was built with ($2, GORO_SANITIZE), and that a
# ThreadSanitizer application is refused by a goro built without it: by the
# package config, and at link time by the symbol goro/detail/export.hpp
# refers to. Fails if the install, the package config, goro.pc, the exported
# target or the README's example breaks.
set -euo pipefail
build=$1
sanitizer=${2:-none}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cxx=${CXX:-c++}
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$here/consumer" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$scratch/prefix" -DEXPECT_SANITIZER="$sanitizer" >/dev/null
cmake --build "$scratch/build" >/dev/null
"$scratch/build/app"
echo "find_package(goro) consumer built and ran against $scratch/prefix"
# goro::sim is installed when the build has it (GORO_BUILD_SIM_LIB): then the
# package must export it and its consumer must find and replay its race.
if [ -n "$(find "$scratch/prefix" -name 'libgoro_sim*' -print -quit)" ]; then
  [ -x "$scratch/build/app_sim" ] || { echo "libgoro_sim installed but find_package(goro) has no goro::sim" >&2; exit 1; }
  GORO_SIM_REPLAY_DIR="$scratch" "$scratch/build/app_sim" 2>/dev/null
  echo "goro::sim consumer built and ran against $scratch/prefix"
fi

pc=$(find "$scratch/prefix" -name goro.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || { echo "goro.pc not installed under $scratch/prefix" >&2; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
got=$(pkg-config --variable=sanitizer goro)
[ "$got" = "$sanitizer" ] || { echo "goro.pc: sanitizer=$got, expected $sanitizer" >&2; exit 1; }
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
"$cxx" -std=c++20 -O2 -o "$scratch/app_pc" "$here/consumer/main.cpp" \
       $(pkg-config --cflags goro) $(pkg-config --libs goro)
# A shared libgoro: plain c++ recorded no run path to the scratch prefix.
LD_LIBRARY_PATH="$(pkg-config --variable=libdir goro)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$scratch/app_pc"
echo "pkg-config consumer built and ran against $pc (sanitizer=$got)"

if [ "$sanitizer" = none ]; then
  # A TSan application against this goro: find_package refuses it...
  if cmake -S "$here/consumer" -B "$scratch/build_tsan" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
       -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_CXX_FLAGS=-fsanitize=thread \
       >"$scratch/tsan_config.log" 2>&1; then
    echo "find_package(goro) accepted a TSan application against a goro built without TSan" >&2
    exit 1
  fi
  grep -q "GORO_SANITIZE=thread" "$scratch/tsan_config.log"
  # ...and, flags set behind its back, the link names the mismatch.
  if "$cxx" -std=c++20 -fsanitize=thread -o "$scratch/app_tsan" "$here/consumer/main.cpp" \
       $(pkg-config --cflags goro) $(pkg-config --libs goro) >"$scratch/tsan_link.log" 2>&1; then
    echo "a TSan application linked against a goro built without TSan" >&2
    exit 1
  fi
  grep -q goro_app_uses_tsan_but_goro_built_without_it "$scratch/tsan_link.log"
  echo "a TSan application is refused by this goro (config and link)"
fi
