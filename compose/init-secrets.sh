#!/usr/bin/env bash
# Generates the secrets of the compose stack into compose/.secrets/ (git-ignored), once: a file that
# exists is kept, so re-running is safe. Needs bash and openssl on the host. docker-compose.yml hands
# each file only to the services that need it, as a Docker secret under /run/secrets/.
#
#   compose/init-secrets.sh                 # before the first `docker compose up`
#   compose/init-secrets.sh <dir>           # somewhere else (the tests do this)
#
# What it makes (compose/README.md, "Secrets"):
#   database passwords       postgres (superuser), warden_owner (control plane, runs the migrations),
#                            warden_authz (authz-server, read-only registry), warden_extproc_login
#   OpenBao TLS              a CA and the server certificate for `openbao` (cert auth needs TLS)
#   OpenBao cert auth        a CA and extproc-server's client certificate (URI SAN = its SPIFFE ID)
#   policy bundle signing    an ES256 key pair: the signing key signs the bundle at start-up,
#                            authz-server verifies with the public half
# To rotate a group, delete its files and run this again, then `docker compose up` (openbao-init
# re-reads the cert auth CA at every start).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$ROOT/.secrets}"
: "${WARDEN_TRUST_DOMAIN:=warden.local}"
# Certificate lifetimes in days: the OpenBao server certificate, extproc-server's client certificate.
: "${OPENBAO_TLS_DAYS:=365}"
: "${VAULT_CLIENT_DAYS:=90}"

command -v openssl >/dev/null || {
  echo "init-secrets: openssl is required" >&2
  exit 1
}

# The folder is private to its owner. The files in it are readable by any user (0644) because
# `docker compose` (outside swarm) bind-mounts a secret file with its host owner and mode, and each
# service runs under its own uid (README: "Secrets"); the folder's 0700 keeps other host users out.
mkdir -p "$out"
chmod 700 "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log() { printf 'init-secrets: %s\n' "$*" >&2; }

missing() {
  local name
  for name in "$@"; do [ -s "$out/$name" ] || return 0; done
  return 1
}

publish() {
  local from=$1 name=$2
  install -m 0644 "$from" "$out/$name"
}

password() {
  local name=$1
  missing "$name" || return 0
  openssl rand -hex 24 | tr -d '\n' >"$work/$name"
  publish "$work/$name" "$name"
  log "wrote $name"
}

# An ECDSA P-256 key in PKCS#8 PEM.
ec_key() {
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/$1.sec1"
  openssl pkcs8 -topk8 -nocrypt -in "$work/$1.sec1" -out "$work/$1"
}

# A self-signed CA: ca <file prefix> <common name> <days>; leaves $work/<prefix>.pem and .key.
ca() {
  local prefix=$1 cn=$2 days=$3
  ec_key "$prefix.key"
  cat >"$work/$prefix.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = $cn
O = Agent Warden (compose)
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  openssl req -x509 -new -key "$work/$prefix.key" -config "$work/$prefix.cnf" -extensions ca \
    -days "$days" -out "$work/$prefix.pem" 2>/dev/null
}

# A leaf signed by a CA: leaf <prefix> <ca prefix> <common name> <days> <extensions...>
leaf() {
  local prefix=$1 issuer=$2 cn=$3 days=$4
  shift 4
  ec_key "$prefix.key"
  openssl req -new -key "$work/$prefix.key" -subj "/CN=$cn" -out "$work/$prefix.csr" 2>/dev/null
  {
    echo "[leaf]"
    printf '%s\n' "$@"
  } >"$work/$prefix.ext"
  openssl x509 -req -in "$work/$prefix.csr" -CA "$work/$issuer.pem" -CAkey "$work/$issuer.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" \
    -extfile "$work/$prefix.ext" -extensions leaf -out "$work/$prefix.pem" 2>/dev/null
}

password postgres-password
password db-owner-password
password db-authz-password
password db-extproc-password

# The CA keys are not kept: a rotation makes a new CA with its certificates.
if missing openbao-ca.pem openbao-tls-cert.pem openbao-tls-key.pem; then
  ca openbao-ca "Warden compose OpenBao CA" "$OPENBAO_TLS_DAYS"
  leaf openbao-tls openbao-ca openbao "$OPENBAO_TLS_DAYS" \
    "basicConstraints = critical, CA:FALSE" \
    "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = serverAuth" \
    "subjectAltName = DNS:openbao, DNS:localhost, IP:127.0.0.1"
  publish "$work/openbao-ca.pem" openbao-ca.pem
  publish "$work/openbao-tls.pem" openbao-tls-cert.pem
  publish "$work/openbao-tls.key" openbao-tls-key.pem
  log "wrote openbao-ca.pem, openbao-tls-cert.pem, openbao-tls-key.pem"
fi

# Stands in for extproc-server's X.509-SVID at the cert auth login, as in the tests
# (test/harness/vault-tls.ts): extproc-server reads its Vault client certificate from files.
if missing vault-client-ca.pem extproc-vault-cert.pem extproc-vault-key.pem; then
  ca vault-client-ca "Warden compose OpenBao cert auth CA" "$VAULT_CLIENT_DAYS"
  leaf extproc-vault vault-client-ca extproc "$VAULT_CLIENT_DAYS" \
    "basicConstraints = critical, CA:FALSE" \
    "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = clientAuth" \
    "subjectAltName = URI:spiffe://$WARDEN_TRUST_DOMAIN/warden/extproc"
  publish "$work/vault-client-ca.pem" vault-client-ca.pem
  publish "$work/extproc-vault.pem" extproc-vault-cert.pem
  publish "$work/extproc-vault.key" extproc-vault-key.pem
  log "wrote vault-client-ca.pem, extproc-vault-cert.pem, extproc-vault-key.pem"
fi

if missing policy-signing-key.pem policy-verification-key.pem; then
  ec_key policy-signing.key
  openssl ec -in "$work/policy-signing.key" -pubout -out "$work/policy-verification.pem" 2>/dev/null
  publish "$work/policy-signing.key" policy-signing-key.pem
  publish "$work/policy-verification.pem" policy-verification-key.pem
  log "wrote policy-signing-key.pem, policy-verification-key.pem"
fi

log "secrets are in $out"
