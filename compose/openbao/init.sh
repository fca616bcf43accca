#!/bin/sh
# openbao-init: runs at every `docker compose up`, in the official OpenBao image, after the server
# started (sealed). Idempotent:
#   1. first start only: initialises OpenBao (one unseal key share) and keeps the unseal key and the
#      root token in the openbao-keys volume, which no other service mounts;
#   2. unseals it;
#   3. sets up what the tests set up (test/harness/vault.ts, vault-tls.ts): transit with the ECDSA
#      P-256 keys warden-signing and warden-tokens, KV v2 at warden/, the policies of vault/*.hcl,
#      cert auth with extproc-server's role (its SPIFFE ID, the `extproc` policy);
#   4. issues the control plane a fresh token with only the `control-plane` policy (a file in the
#      openbao-tokens volume, VAULT_TOKEN_FILE) and revokes the previous one.
# Secrets never go on a command line (other host users can read those): files and the environment.
set -eu

: "${BAO_ADDR:=https://openbao:8200}"
: "${BAO_CACERT:=/run/secrets/openbao-ca}"
: "${OPENBAO_KEYS_DIR:=/openbao/keys}"
: "${WARDEN_VAULT_POLICIES:=/warden/vault}"
: "${WARDEN_VAULT_TOKENS_DIR:=/run/warden/vault}"
: "${WARDEN_VAULT_CLIENT_CA:=/run/secrets/vault-client-ca}"
: "${WARDEN_TRUST_DOMAIN:=warden.local}"
: "${CONTROL_PLANE_UID:=10004}"
: "${CONTROL_PLANE_TOKEN_TTL:=768h}"
: "${OPENBAO_WAIT_SECONDS:=120}"
export BAO_ADDR BAO_CACERT

log() { printf 'openbao-init: %s\n' "$*" >&2; }

# `bao status`: 0 unsealed, 2 sealed, 1 unreachable or error.
status() {
  rc=0
  bao status >/dev/null 2>&1 || rc=$?
  echo "$rc"
}
answers() { [ "$(status)" != 1 ]; }
active() { [ "$(status)" = 0 ]; }
accepts_token() { bao token lookup >/dev/null 2>&1; }

# wait_for MESSAGE COMMAND...: runs COMMAND once a second until it succeeds; gives up with MESSAGE
# after OPENBAO_WAIT_SECONDS.
wait_for() {
  message=$1
  shift
  waited=0
  until "$@"; do
    if [ "$waited" -ge "$OPENBAO_WAIT_SECONDS" ]; then
      log "$message"
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

wait_for "OpenBao at $BAO_ADDR did not answer within ${OPENBAO_WAIT_SECONDS}s" answers

umask 077
mkdir -p "$OPENBAO_KEYS_DIR"
unseal_key="$OPENBAO_KEYS_DIR/unseal-key"
root_token="$OPENBAO_KEYS_DIR/root-token"

initialised=0
bao operator init -status >/dev/null 2>&1 || initialised=$?
if [ "$initialised" = 2 ]; then
  # Quick-start: one share, kept next to the server. Production: auto-unseal (a KMS or transit seal
  # stanza) or several shares held by different people (compose/README.md).
  init_output="$(bao operator init -key-shares=1 -key-threshold=1)"
  printf '%s\n' "$init_output" | awk '/^Unseal Key 1:/ {printf "%s", $NF}' >"$unseal_key"
  printf '%s\n' "$init_output" | awk '/^Initial Root Token:/ {printf "%s", $NF}' >"$root_token"
  unset init_output
  if [ ! -s "$unseal_key" ] || [ ! -s "$root_token" ]; then
    log "could not read the unseal key and root token from 'bao operator init'"
    exit 1
  fi
  log "initialised; unseal key and root token kept in the openbao-keys volume"
elif [ "$initialised" != 0 ]; then
  log "cannot tell whether OpenBao is initialised"
  exit 1
fi

if [ "$(status)" = 2 ]; then
  if [ ! -s "$unseal_key" ]; then
    log "OpenBao is sealed and $unseal_key is missing"
    exit 1
  fi
  bao write -format=json sys/unseal key=@"$unseal_key" >/dev/null
fi
wait_for "OpenBao did not become active (unsealed, raft leader) within ${OPENBAO_WAIT_SECONDS}s" active
log "unsealed"

BAO_TOKEN="$(cat "$root_token")"
export BAO_TOKEN
# Right after unsealing, the raft leader may still be settling: retry the first authenticated call.
wait_for "OpenBao does not accept the root token" accepts_token

secrets="$(bao secrets list)"
case "$secrets" in
  *"transit/ "*) ;;
  *) bao secrets enable transit >/dev/null && log "enabled transit" ;;
esac
case "$secrets" in
  *"warden/ "*) ;;
  *) bao secrets enable -path=warden -version=2 kv >/dev/null && log "enabled KV v2 at warden/" ;;
esac
for key in warden-signing warden-tokens; do
  if ! bao read -field=type "transit/keys/$key" >/dev/null 2>&1; then
    bao write -f "transit/keys/$key" type=ecdsa-p256 >/dev/null
    log "created transit key $key (ecdsa-p256)"
  fi
done

for file in "$WARDEN_VAULT_POLICIES"/*.hcl; do
  name="$(basename "$file" .hcl)"
  bao policy write "$name" "$file" >/dev/null
done
log "policies written from vault/*.hcl"

case "$(bao auth list)" in
  *"cert/ "*) ;;
  *) bao auth enable cert >/dev/null && log "enabled cert auth" ;;
esac
bao write auth/cert/certs/extproc \
  certificate=@"$WARDEN_VAULT_CLIENT_CA" \
  allowed_uri_sans="spiffe://$WARDEN_TRUST_DOMAIN/warden/extproc" \
  token_policies=extproc \
  token_no_default_policy=true \
  token_ttl=1h >/dev/null
log "cert auth role extproc bound to spiffe://$WARDEN_TRUST_DOMAIN/warden/extproc"

mkdir -p "$WARDEN_VAULT_TOKENS_DIR"
token_file="$WARDEN_VAULT_TOKENS_DIR/control-plane"
previous="$OPENBAO_KEYS_DIR/previous-control-plane-token"
[ -s "$token_file" ] && cp "$token_file" "$previous"
bao token create -orphan -policy=control-plane -no-default-policy \
  -ttl="$CONTROL_PLANE_TOKEN_TTL" -display-name=warden-control-plane -field=token >"$token_file.tmp"
if [ "$(id -u)" = 0 ]; then
  chown "$CONTROL_PLANE_UID" "$token_file.tmp"
fi
chmod 0400 "$token_file.tmp"
# The new token is in place before the old one stops working: the control plane re-reads the file
# when OpenBao refuses its token.
mv -f "$token_file.tmp" "$token_file"
if [ -s "$previous" ]; then
  # Revoked with the root token (the control plane's own token may not revoke itself: it has no
  # default policy); `token=@file` keeps it off the command line.
  bao write auth/token/revoke token=@"$previous" >/dev/null 2>&1 || log "the previous token was already invalid"
  rm -f "$previous"
fi
log "issued the control plane's token (policy control-plane, ttl $CONTROL_PLANE_TOKEN_TTL)"
