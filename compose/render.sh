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
source_file="lib/src/envoy/bootstrap.ts"
if [ ! -f "$renderer" ] || [ "$source_file" -nt "$renderer" ]; then
  echo "render: building (dist/ is missing or older than $source_file)" >&2
  npm run --silent build
fi

out="compose/envoy.yaml"
node scripts/render-envoy.mjs compose/params.json >"$out.tmp"
mv "$out.tmp" "$out"
echo "render: wrote $out" >&2
