#!/usr/bin/env bash
# Re-resolves the Python dependency locks from pyproject.toml (run after changing a dependency):
#   requirements/dev.lock      what `make up`, `make test` and `make bench` install (all extras)
#   requirements/runtime.lock  what the container images install (no extras: no embedded PostgreSQL)
# Both are universal (valid on every platform and Python >= 3.11) and carry every file's hash.
# Pass --upgrade to move every package to its newest allowed version.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh >/dev/null
CACHE="${TASKSTREAM_CACHE:-$HOME/.cache/taskstream}"
UV="$(ls -d "$CACHE"/uv-*/bin/uv | sort -V | tail -1)"
export UV_CACHE_DIR="$CACHE/uv"
compile() {
  "$UV" pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes \
    --no-header "$@"
}
compile --extra dev --extra bench --extra local -o requirements/dev.lock "${@}"
compile -o requirements/runtime.lock "${@}"
