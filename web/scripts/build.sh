#!/usr/bin/env bash
# Builds the web app into web/dist (served by `taskstream up` at /). Installs npm packages
# first when they are missing; the npm cache lives outside the repository.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$WEB_DIR"
ensure_node_deps
echo "==> web: vite build"
nice npx vite build --logLevel warn
echo "==> web: built $WEB_DIR/dist"
