#!/usr/bin/env bash
# Runs the go command ($GO, else go on PATH) with a build cache and a module
# cache even where HOME is unset (go has no default for either then): the
# trace checks build tools/tracecheck and run `go tool trace` through this,
# and ci/deps.sh downloads the module through it, so all three agree.
set -euo pipefail
if [ -z "${HOME:-}" ]; then
  : "${GOCACHE:=/tmp/goro-gocache}"
  : "${GOPATH:=/tmp/goro-gopath}"
  export GOCACHE GOPATH
fi
exec "${GO:-go}" "$@"
