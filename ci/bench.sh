#!/usr/bin/env bash
# Peer benchmarks: goro beside Go, Tokio and Boost.Fiber on the same
# workloads, in one run.
#
#   ci/bench.sh                         everything, BENCH_REPS (default 3) repetitions
#   BENCH_REPS=5 ci/bench.sh            more repetitions
#   ci/bench.sh --filter 'chan|yield'   extra arguments go to bench/compare.py
#
# Builds goro's release benchmark binary (build/release/bench/goro_bench) and
# the Go peer (bench/go -> build/go-peer/peer), the Boost.Fiber peer
# (bench/fiber -> build/release/bench/fiber_peer) and the Tokio peer
# (bench/tokio -> build/tokio-peer/release/goro-tokio-peer), checks compare.py's parsers on
# their fixtures, then runs both binaries interleaved (goro, Go, goro, Go...)
# and prints the goro/Go table, also written to bench/RESULTS.md, then draws
# it as bench/results.svg (bench/plot.py, matplotlib).
# Exits non-zero if a build fails, either binary crashes or exits non-zero, or
# the plot cannot be drawn.
# Set BENCH_SKIP_DEPS=1 to skip ci/deps.sh (the Debian packages) on a machine
# that already has them, and BENCH_GORO=PATH to use an already built
# goro_bench instead of building it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"

if [ "${BENCH_SKIP_DEPS:-0}" != 1 ]; then
  "$here/deps.sh"
fi

# The Go toolchain lives in /usr/local/go on these machines; PATH may lack it.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null 2>&1 || { echo "bench.sh: no Go toolchain (go) found" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "bench.sh: python3 not found" >&2; exit 1; }

if [ -n "${BENCH_GORO:-}" ]; then
  goro_bin=$(cd "$(dirname "$BENCH_GORO")" && pwd)/$(basename "$BENCH_GORO")
  echo "== goro: using BENCH_GORO=$goro_bin (not rebuilt)"
else
  echo "== goro: release build of goro_bench"
  cmake --preset release
  cmake --build --preset release --target goro_bench
  goro_bin="$top/build/release/bench/goro_bench"
fi
test -x "$goro_bin" || { echo "bench.sh: $goro_bin is missing or not executable" >&2; exit 1; }

echo "== Go peer: $(go version)"
go_bin="$top/build/go-peer/peer"
mkdir -p "$(dirname "$go_bin")"
# Standard library only: never fetch a toolchain or a module.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off
(cd bench/go && go vet ./... && go build -buildvcs=false -o "$go_bin" .)

# The further peers: Boost.Fiber (bench/fiber, Debian's libboost-fiber-dev)
# and Tokio (bench/tokio, from crates.io at the versions Cargo.lock pins).
echo "== Boost.Fiber peer"
if [ -n "${BENCH_GORO:-}" ]; then
  cmake --preset release >/dev/null
fi
cmake --build --preset release --target fiber_peer
fiber_bin="$top/build/release/bench/fiber_peer"
echo "== Tokio peer: $(cargo --version 2>/dev/null || echo 'no cargo')"
command -v cargo >/dev/null 2>&1 || { echo "bench.sh: no Rust toolchain (cargo) found" >&2; exit 1; }
tokio_dir="$top/build/tokio-peer"
(cd bench/tokio && cargo build --release --locked --quiet --target-dir "$tokio_dir")
tokio_bin="$tokio_dir/release/goro-tokio-peer"

echo "== compare.py self-test"
python3 bench/compare.py --self-test

echo "== running (BENCH_REPS=${BENCH_REPS:-3})"
rc=0
python3 bench/compare.py --reps "${BENCH_REPS:-3}" --goro "$goro_bin" --go "$go_bin" \
  --peer "Tokio=$tokio_bin" --peer "Fiber=$fiber_bin" --out bench/RESULTS.md "$@" || rc=$?

# The plot is drawn from the table just written, even when a run failed (the
# table then says which), so the two always agree. Debian's matplotlib is for
# /usr/bin/python3, which a pyenv or venv python3 on PATH would not see.
echo "== plot: bench/results.svg"
plot_py=python3; [ -x /usr/bin/python3 ] && plot_py=/usr/bin/python3
"$plot_py" bench/plot.py bench/RESULTS.md -o bench/results.svg || rc=1
# How cost grows: bench/scaling_goroutines.svg and bench/scaling_procs.svg.
# A --filter that leaves out the scaling rows leaves the old curves alone.
if [ $# -eq 0 ]; then
  echo "== plot: bench/scaling_*.svg"
  "$plot_py" bench/plot_scaling.py bench/RESULTS.md -o bench || rc=1
fi
exit "$rc"
