#!/usr/bin/env bash
# Builds the compose stack's images without an image registry (docker-compose.local.yml names them):
#   1. a base root file system from Debian packages (mmdebstrap, minbase, pinned suite), `docker import`ed;
#   2. per service an image FROM that base with the same pinned programs scripts/setup installs into
#      .tools/bin (Envoy, SPIRE, OpenBao, ratelimit), Debian's PostgreSQL and Redis packages (what
#      scripts/setup installs too), and Warden itself (dist/, production node_modules, the host's Node).
# An image is rebuilt only when its inputs change: each carries the hash of its inputs as a label.
#
#   compose/images/build.sh              all of them (scripts/docker-up runs it, with DOCKER_HOST set)
#   compose/images/build.sh envoy warden only those (and the base)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/compose/images"
BIN="$ROOT/.tools/bin"
CACHE="${WARDEN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/agent-warden}"
WORK="$CACHE/docker/build"

# The base: Debian 12. The suite the host runs and scripts/setup's apt packages come from, so the
# SPIRE binaries (cgo, glibc) and the host's Node run unchanged in it.
DEBIAN_SUITE="bookworm"
DEBIAN_MIRROR="${WARDEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_PACKAGES="ca-certificates"
REPO="agent-warden-local"
LABEL="org.agent-warden.inputs"

log() { printf '[images] %s\n' "$*" >&2; }

# Versions come from scripts/setup, the one place they are pinned.
pinned() { sed -n "s/^$1=\"\\([^\"]*\\)\".*/\\1/p" "$ROOT/scripts/setup"; }
ENVOY_VERSION="$(pinned ENVOY_VERSION)"
BAO_VERSION="$(pinned BAO_VERSION)"
SPIRE_VERSION="$(pinned SPIRE_VERSION)"
RATELIMIT_VERSION="$(pinned RATELIMIT_VERSION)"

need() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || { log "$f is missing: run scripts/setup (and npm run build) first"; exit 1; }
  done
}

sha() { sha256sum | cut -c1-16; }
current_inputs() { docker image inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }

mkdir -p "$WORK"

# --- 1. the base ----------------------------------------------------------------------------------
MMDEBSTRAP_OPTIONS=(--variant=minbase --include="$BASE_PACKAGES" --mode=root --format=tar
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*')
base_inputs="$(printf '%s\n' "$DEBIAN_SUITE" "${MMDEBSTRAP_OPTIONS[@]}" | sha)"
base_tag="$REPO/base:$DEBIAN_SUITE"
if [ "$(docker image inspect --format '{{.Comment}}' "$base_tag" 2>/dev/null || true)" != "inputs $base_inputs" ]; then
  log "base: mmdebstrap --variant=minbase $DEBIAN_SUITE (+ $BASE_PACKAGES)"
  rm -f "$WORK/base.tar"
  mmdebstrap --quiet "${MMDEBSTRAP_OPTIONS[@]}" "$DEBIAN_SUITE" "$WORK/base.tar" "$DEBIAN_MIRROR"
  # The comment carries the inputs: an import has no labels.
  docker import --message "inputs $base_inputs" "$WORK/base.tar" "$base_tag" >/dev/null
  rm -f "$WORK/base.tar"
fi
base_id="$(docker image inspect --format '{{.Id}}' "$base_tag")"

# --- 2. the images --------------------------------------------------------------------------------
# build_image NAME TAG CONTEXT: builds compose/images/NAME.Dockerfile with CONTEXT when its inputs
# (the Dockerfile, every file of CONTEXT, the base) changed.
SELECTED="$*"
wanted() { [ -z "$SELECTED" ] || [[ " $SELECTED " == *" $1 "* ]]; }
build_image() {
  local name=$1 tag=$2 context=$3 inputs
  inputs="$( {
    echo "$base_id"
    sha256sum "$HERE/$name.Dockerfile"
    (cd "$context" && find . -type f -o -type l | LC_ALL=C sort | xargs -r -d '\n' sha256sum)
  } | sha)"
  if [ "$(current_inputs "$tag")" = "$inputs" ]; then
    log "$tag: up to date"
    return
  fi
  log "$tag: building"
  # The legacy builder: no BuildKit front end to pull from a registry. Host network for the images
  # that install Debian packages (the engine has no default bridge).
  # Its output is shown on failure only (it always starts with the legacy builder's deprecation notice).
  if ! DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$base_tag" \
    --label "$LABEL=$inputs" -f "$HERE/$name.Dockerfile" -t "$tag" "$context" >"$WORK/$name.log" 2>&1; then
    tail -30 "$WORK/$name.log" >&2
    log "$tag: the build failed (log: $WORK/$name.log)"
    return 1
  fi
}

# stage NAME FILE...: a fresh build context with those files.
stage() {
  local dir="$WORK/context/$1"
  shift
  rm -rf "$dir"
  mkdir -p "$dir"
  need "$@"
  local f
  for f in "$@"; do cp -L --preserve=mode "$f" "$dir/"; done
  echo "$dir"
}

# binary_image NAME TAG FILE...: an image of those files (a program and its entrypoint).
binary_image() {
  local name=$1 tag=$2 context
  shift 2
  wanted "$name" || return 0
  context="$(stage "$name" "$@")"
  build_image "$name" "$tag" "$context"
}

binary_image envoy "$REPO/envoy:v$ENVOY_VERSION" "$BIN/envoy"
binary_image openbao "$REPO/openbao:$BAO_VERSION" "$BIN/bao"
binary_image spire-server "$REPO/spire-server:${SPIRE_VERSION#v}" "$BIN/spire-server"
binary_image spire-agent "$REPO/spire-agent:${SPIRE_VERSION#v}" "$BIN/spire-agent"
# Tagged like the official images, with the commit's first 8 hex digits.
binary_image ratelimit "$REPO/ratelimit:${RATELIMIT_VERSION: -12:8}" "$BIN/ratelimit"
binary_image postgres "$REPO/postgres:15" "$HERE/postgres-entrypoint.sh"
binary_image redis "$REPO/redis:7.0" "$HERE/redis-entrypoint.sh"

# Warden: what compose/Dockerfile builds (dist/, the policy bundle compiled by the pinned opa,
# production node_modules), from this checkout's build, with the host's Node: Debian 12's nodejs is
# 18 and Warden needs 20; the host's binary is the one the tests run and needs only glibc and
# libstdc++ (both in the base).
build_warden() {
  local warden lock_hash modules policy_hash bundle
  need "$BIN/spire-server" "$BIN/opa" "$ROOT/dist/control-plane/src/main.js"
  warden="$WORK/context/warden"
  rm -rf "$warden"
  mkdir -p "$warden/app/dist" "$warden/app/lib" "$warden/app/control-plane" "$warden/app/extproc-server" \
    "$warden/app/policies" "$warden/app/compose"
  lock_hash="$(sha256sum "$ROOT/package-lock.json" | cut -c1-16)"
  modules="$WORK/node_modules-$lock_hash"
  if [ ! -d "$modules/node_modules" ]; then
    log "warden: production node_modules (npm ci --omit=dev)"
    rm -rf "$modules.tmp"
    mkdir -p "$modules.tmp"
    cp "$ROOT/package.json" "$ROOT/package-lock.json" "$modules.tmp/"
    (cd "$modules.tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
    rm -rf "$modules"
    mv "$modules.tmp" "$modules"
    # Older ones are of no further use.
    find "$WORK" -maxdepth 1 -name 'node_modules-*' ! -name "node_modules-$lock_hash" -exec rm -rf {} +
  fi
  cp -al "$modules/node_modules" "$warden/app/node_modules"
  cp "$ROOT/package.json" "$warden/app/"
  cp -r "$ROOT/dist/lib" "$ROOT/dist/authz-server" "$ROOT/dist/extproc-server" "$ROOT/dist/control-plane" "$warden/app/dist/"
  find "$warden/app/dist" \( -name '*.test.js' -o -name '*.map' \) -delete
  # Without their source map comments: a build of the test agents re-emits some of these files
  # without them (sourceMap off), which would otherwise rebuild the image for nothing.
  find "$warden/app/dist" -name '*.js' -exec sed -i '/^\/\/# sourceMappingURL=/d' {} +
  # The policy bundle compiled by the pinned opa, once per content of policies/ (a fresh build differs
  # in its timestamps only, which would rebuild the image every time).
  policy_hash="$( (cd "$ROOT" && find policies scripts/build-policy.mjs -type f | LC_ALL=C sort | xargs sha256sum; "$BIN/opa" version) | sha)"
  bundle="$WORK/policy-$policy_hash.tar.gz"
  if [ ! -s "$bundle" ]; then
    (cd "$ROOT" && node scripts/build-policy.mjs --out "$bundle.tmp" --quiet)
    mv -f "$bundle.tmp" "$bundle"
  fi
  mkdir -p "$warden/app/dist/policy"
  cp "$bundle" "$warden/app/dist/policy/bundle.tar.gz"
  cp -r "$ROOT/lib/proto" "$warden/app/lib/"
  mkdir -p "$warden/app/lib/src/saas"
  cp "$ROOT/lib/src/saas/services.json" "$warden/app/lib/src/saas/"
  cp -r "$ROOT/control-plane/migrations" "$ROOT/control-plane/openapi.yaml" "$warden/app/control-plane/"
  cp "$ROOT/extproc-server/llm-prices.json" "$warden/app/extproc-server/"
  cp "$ROOT/policies/data.json" "$warden/app/policies/"
  cp -r "$ROOT/compose/bin" "$warden/app/compose/"
  cp -L "$(command -v node)" "$warden/node"
  cp -L "$BIN/spire-server" "$warden/spire-server"
  build_image warden "$REPO/warden:dev" "$warden"
}
if wanted warden; then build_warden; fi

# The images these builds replaced.
docker image prune --force >/dev/null
log "images ready: $(docker image ls "$REPO/*" --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')"
