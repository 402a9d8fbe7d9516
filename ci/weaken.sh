#!/usr/bin/env bash
# The weakening table (spec/memory-model.md §11): every atomic operation the
# c11/ checks reach, weakened one step at a time under Relacy. See ci/weaken.py
# for the options; CI runs `ci/weaken.sh --sample SECONDS`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/weaken.py" "$@"
