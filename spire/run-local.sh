#!/usr/bin/env bash
# Starts a local SPIRE server + agent for trying Warden by hand (tests use test/harness/spire.ts).
#   spire/run-local.sh            foreground; Ctrl-C stops both
# Then, in another shell:
#   export SPIFFE_ENDPOINT_SOCKET=unix://$PWD/.run/spire/agent.sock WARDEN_SPIRE_SERVER_SOCKET=$PWD/.run/spire/server.sock
#   npm run warden -- spire register --agent my-bot --selector unix:uid:$(id -u)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=spire/local.env
. spire/local.env
BIN="$ROOT/.tools/bin"
mkdir -p "$WARDEN_SPIRE_DATA_DIR"

"$BIN/spire-server" run -config spire/server.conf -expandEnv &
server_pid=$!
trap 'kill ${agent_pid:-} $server_pid 2>/dev/null; wait' EXIT INT TERM
until "$BIN/spire-server" healthcheck -socketPath "$WARDEN_SPIRE_SERVER_SOCKET" >/dev/null 2>&1; do sleep 0.2; done

"$BIN/spire-server" bundle show -socketPath "$WARDEN_SPIRE_SERVER_SOCKET" >"$WARDEN_SPIRE_DATA_DIR/bootstrap-bundle.pem"
token="$("$BIN/spire-server" token generate -socketPath "$WARDEN_SPIRE_SERVER_SOCKET" \
  -spiffeID "spiffe://$WARDEN_TRUST_DOMAIN/node/local" -output json | sed -n 's/.*"value": *"\([^"]*\)".*/\1/p')"
"$BIN/spire-agent" run -config spire/agent.conf -expandEnv -joinToken "$token" &
agent_pid=$!
echo "SPIRE up: trust domain $WARDEN_TRUST_DOMAIN, Workload API unix://$WARDEN_SPIRE_AGENT_SOCKET" >&2
wait "$agent_pid"
