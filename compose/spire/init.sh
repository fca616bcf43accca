#!/usr/bin/env bash
# spire-init: runs once at every `docker compose up`, before the SPIRE agent starts (the same steps as
# test/harness/spire.ts and spire/run-local.sh):
#   1. waits for the SPIRE server's admin API;
#   2. writes the server's CA bundle, which the agent trusts on its first connection;
#   3. writes a fresh join token (single use, 10 minutes) whose node alias is the parent of every entry;
#      an agent that still holds a valid SVID from an earlier run ignores it;
#   4. makes sure Warden's components have their registration entries (unix:uid selectors).
# Nothing here is a long-lived secret: the token is useless once the agent attested with it.
set -euo pipefail

: "${SPIRE_SERVER_BIN:=spire-server}"
: "${SPIRE_SERVER_SOCKET:=/run/spire/server/private/api.sock}"
: "${SPIRE_BOOTSTRAP_DIR:=/run/spire/bootstrap}"
: "${WARDEN_TRUST_DOMAIN:=warden.local}"
: "${SPIRE_WAIT_SECONDS:=60}"

td="$WARDEN_TRUST_DOMAIN"
node_alias="spiffe://$td/node/compose"

# Warden's components, the uid each container runs under (docker-compose.yml `user:`) and the DNS
# names its SVID carries. Same uids as the tests' WORKLOAD_UIDS (test/harness/stack.ts), plus the
# control plane's. Envoy's SVID also names `envoy` and `localhost`, so an agent whose TLS client
# checks host names (most SDKs) accepts https://envoy:10000 and https://localhost:10000.
components=(
  "envoy 10001 envoy localhost"
  "authz 10002"
  "extproc 10003"
  "control-plane 10004"
)

server() {
  local command=$1 subcommand=$2
  shift 2
  "$SPIRE_SERVER_BIN" "$command" "$subcommand" -socketPath "$SPIRE_SERVER_SOCKET" "$@"
}

log() { printf 'spire-init: %s\n' "$*" >&2; }

deadline=$((SECONDS + SPIRE_WAIT_SECONDS))
until "$SPIRE_SERVER_BIN" healthcheck -socketPath "$SPIRE_SERVER_SOCKET" >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "the SPIRE server did not become healthy within ${SPIRE_WAIT_SECONDS}s"
    exit 1
  fi
  sleep 0.5
done

umask 077
mkdir -p "$SPIRE_BOOTSTRAP_DIR"
server bundle show -format pem >"$SPIRE_BOOTSTRAP_DIR/bundle.pem.tmp"
mv "$SPIRE_BOOTSTRAP_DIR/bundle.pem.tmp" "$SPIRE_BOOTSTRAP_DIR/bundle.pem"

token_json="$(server token generate -spiffeID "$node_alias" -ttl 600 -output json)"
token="$(printf '%s' "$token_json" | sed -n 's/.*"value": *"\([^"]*\)".*/\1/p')"
if [ -z "$token" ]; then
  log "could not read the join token from 'spire-server token generate'"
  exit 1
fi
printf '%s' "$token" >"$SPIRE_BOOTSTRAP_DIR/join-token.tmp"
mv "$SPIRE_BOOTSTRAP_DIR/join-token.tmp" "$SPIRE_BOOTSTRAP_DIR/join-token"
log "wrote the bootstrap bundle and a join token for $node_alias"

# Every token adds a node-alias entry parented to the agent it would attest. Drop the ones whose
# agent never attested (tokens of earlier runs that a running agent did not need), except this run's.
new_agent="spiffe://$td/spire/agent/join_token/$token"
attested="$(server agent list | sed -n 's/^SPIFFE ID *: *//p')"
server entry show -spiffeID "$node_alias" |
  awk '/^Entry ID/ {id=$NF} /^Parent ID/ {print id, $NF}' |
  while read -r entry_id parent; do
    if [ "$parent" != "$new_agent" ] && ! grep -qxF "$parent" <<<"$attested"; then
      server entry delete -entryID "$entry_id" >/dev/null
    fi
  done

for component in "${components[@]}"; do
  read -r name uid dns_names <<<"$component"
  spiffe_id="spiffe://$td/warden/$name"
  selector="unix:uid:$uid"
  dns_flags=()
  for dns in $dns_names; do dns_flags+=(-dns "$dns"); done
  # Captured first: `grep -q` stops reading early, and under pipefail the writer's SIGPIPE would fail
  # the test and create a duplicate.
  existing="$(server entry show -spiffeID "$spiffe_id" -selector "$selector" -parentID "$node_alias")"
  if grep -q '^Entry ID' <<<"$existing"; then
    log "entry exists: $spiffe_id ($selector)"
  else
    server entry create -spiffeID "$spiffe_id" -parentID "$node_alias" -selector "$selector" \
      "${dns_flags[@]}" >/dev/null
    log "entry created: $spiffe_id ($selector)"
  fi
done
