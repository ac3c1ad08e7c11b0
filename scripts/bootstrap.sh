#!/usr/bin/env bash
# Installs what Taskstream needs into .venv: exactly the versions (and hashes) of
# requirements/dev.lock, then the project itself in editable mode. Installs use uv, pinned below
# and kept in the cache outside the repository with its download cache; nothing is installed when
# the lock and pyproject.toml are unchanged since the last install.
#
# To change a dependency: edit pyproject.toml, then `scripts/lock.sh` (re-resolves both locks).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${TASKSTREAM_CACHE:-$HOME/.cache/taskstream}"
PYTHON="${PYTHON:-python3}"
UV_VERSION=0.13.8
export UV_CACHE_DIR="$CACHE/uv"
export PIP_CACHE_DIR="$CACHE/pip"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Taskstream needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

UV="$CACHE/uv-$UV_VERSION/bin/uv"
if [ ! -x "$UV" ]; then
  echo "==> installing uv $UV_VERSION into $CACHE/uv-$UV_VERSION"
  rm -rf "$CACHE/uv-$UV_VERSION"
  "$PYTHON" -m venv "$CACHE/uv-$UV_VERSION"
  "$CACHE/uv-$UV_VERSION/bin/python" -m pip install --quiet "uv==$UV_VERSION"
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  # --seed: pip inside the venv, which pip-audit uses to list what is installed.
  "$UV" venv --quiet --seed --python "$PYTHON" .venv
fi
stamp=.venv/.installed-$(cat requirements/dev.lock pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> installing Python packages from requirements/dev.lock (cache: $UV_CACHE_DIR)"
  "$UV" pip install --quiet --python .venv/bin/python --require-hashes -r requirements/dev.lock
  "$UV" pip install --quiet --python .venv/bin/python --no-deps -e .
  rm -f .venv/.installed-*
  touch "$stamp"
fi
