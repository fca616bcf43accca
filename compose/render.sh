#!/usr/bin/env bash
# Renders compose/envoy.yaml from compose/params.json with the project's one renderer
# (lib/src/envoy/bootstrap.ts, through scripts/render-envoy.mjs), the same function the tests and the
# demo use. test/integration/compose-config.test.ts fails when the committed file differs from what
# this produces, so run it after changing the parameters or the renderer:
#
#   compose/render.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

renderer="dist/lib/src/envoy/bootstrap.js"
sources="lib/src/envoy lib/src/saas/services.json"
# shellcheck disable=SC2086 # two paths, split on purpose
if [ ! -f "$renderer" ] || [ -n "$(find $sources -newer "$renderer" -print -quit)" ]; then
  echo "render: building (dist/ is missing or older than $sources)" >&2
  npm run --silent build
fi

out="compose/envoy.yaml"
node scripts/render-envoy.mjs compose/params.json >"$out.tmp"
mv "$out.tmp" "$out"
echo "render: wrote $out" >&2
