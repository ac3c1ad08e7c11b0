# Shared by build.sh and test.sh: installs what the web app needs, from a fresh clone.
# shellcheck shell=bash

WEB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TASKSTREAM_CACHE:-$HOME/.cache/taskstream}"
export npm_config_cache="$CACHE/npm"
export npm_config_update_notifier=false
export npm_config_fund=false
export npm_config_audit=false

ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "web: Node.js 20.19+ and npm are needed (apt-get install nodejs npm, or your usual Node install)" >&2
    exit 1
  fi
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    echo "web: Node.js 20.19 or newer is needed, found $(node --version)" >&2
    exit 1
  fi
}

# npm ci only when node_modules is missing or older than the lockfile.
ensure_node_deps() {
  ensure_node
  local stamp="$WEB_DIR/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$WEB_DIR/package-lock.json" -nt "$stamp" ]; then
    echo "==> web: npm ci (cache: $npm_config_cache)"
    (cd "$WEB_DIR" && nice npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
  fi
}

ensure_chromium() {
  local chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
  if [ -x "$chromium" ]; then return; fi
  echo "==> web: installing Debian's chromium for the browser tests"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  if [ ! -x "$chromium" ]; then
    echo "web: $chromium is still missing after apt-get install chromium" >&2
    exit 1
  fi
}
