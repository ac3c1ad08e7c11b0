#!/usr/bin/env bash
# Installs what Taskstream needs into .venv (Python packages), reusing a download cache kept
# outside the repository, and only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${TASKSTREAM_CACHE:-$HOME/.cache/taskstream}"
export PIP_CACHE_DIR="$CACHE/pip"
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Taskstream needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> installing Python packages (cache: $PIP_CACHE_DIR)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev,bench]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
