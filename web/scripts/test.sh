#!/usr/bin/env bash
# Every web test, from a fresh clone: npm packages, Chromium, typecheck, generated-types check,
# unit/component tests (Vitest), production build, then the browser end-to-end tests against a
# private `taskstream up` (Debian Chromium via playwright-core).
# TASKSTREAM_WEB_SKIP_E2E=1 skips the browser part.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$WEB_DIR"
ensure_node_deps

echo "==> web: typecheck (tsc --noEmit)"
nice npx tsc --noEmit -p tsconfig.json

echo "==> web: generated GraphQL types match ../graphql_schema/schema.graphql"
if ! nice npx graphql-codegen --config codegen.ts --check >/dev/null 2>&1; then
  echo "web: src/gql/graphql.ts is stale: run 'cd web && npm run codegen' and commit it" >&2
  exit 1
fi

echo "==> web: trusted-documents manifest matches src/gql (the gateway's registered documents)"
nice node scripts/trusted-documents.mjs --check

mkdir -p e2e/.tmp
echo "==> web: vitest"
nice npx vitest run --reporter=default --reporter=json --outputFile.json=e2e/.tmp/vitest.json
unit_pass=$(node -e 'const r=require("./e2e/.tmp/vitest.json");console.log(r.numPassedTests)')
unit_fail=$(node -e 'const r=require("./e2e/.tmp/vitest.json");console.log(r.numFailedTests)')

echo "==> web: vite build"
nice npx vite build --logLevel warn

e2e_pass=0
e2e_fail=0
if [ "${TASKSTREAM_WEB_SKIP_E2E:-0}" != 1 ]; then
  ensure_chromium
  if [ ! -x ../.venv/bin/taskstream ]; then ../scripts/bootstrap.sh; fi
  echo "==> web: browser end-to-end (node --test, headless Chromium)"
  set +e
  node --test --test-concurrency=1 --test-reporter=tap e2e/ 2>&1 | tee e2e/.tmp/e2e.tap
  e2e_rc=${PIPESTATUS[0]}
  set -e
  e2e_pass=$(grep -E '^# pass [0-9]+' e2e/.tmp/e2e.tap | awk '{print $3}' | tail -1)
  e2e_fail=$(grep -E '^# fail [0-9]+' e2e/.tmp/e2e.tap | awk '{print $3}' | tail -1)
  e2e_pass=${e2e_pass:-0}
  e2e_fail=${e2e_fail:-0}
  if [ "$e2e_rc" != 0 ] && [ "$e2e_fail" = 0 ]; then e2e_fail=1; fi
  echo "    screenshots: $WEB_DIR/e2e/screenshots/"
fi

echo "web: $((unit_pass + e2e_pass)) passed, $((unit_fail + e2e_fail)) failed"
[ "$((unit_fail + e2e_fail))" = 0 ]
