#!/bin/sh
# Stores a tenant's LLM provider API key where extproc-server reads it (KV v2
# warden/llm/<tenant>/<provider>, field api_key). The key is read from stdin, never from the command
# line. Runs in the openbao-init service, which holds the root token (quick-start; compose/README.md):
#
#   docker compose -f compose/docker-compose.yml run --rm -T openbao-init \
#     sh /warden/openbao/put-llm-key.sh acme openai < openai-key.txt
set -eu

: "${BAO_ADDR:=https://openbao:8200}"
: "${BAO_CACERT:=/run/secrets/openbao-ca}"
: "${OPENBAO_KEYS_DIR:=/openbao/keys}"
export BAO_ADDR BAO_CACERT

if [ "$#" -ne 2 ]; then
  echo "usage: put-llm-key.sh <tenant> <provider> < key-file" >&2
  exit 2
fi
tenant=$1
provider=$2
case "$tenant$provider" in
  *[!A-Za-z0-9._-]*)
    echo "put-llm-key: tenant and provider are letters, digits, '.', '_' and '-'" >&2
    exit 2
    ;;
esac

BAO_TOKEN="$(cat "$OPENBAO_KEYS_DIR/root-token")"
export BAO_TOKEN
# `api_key=-` reads the value from stdin; the key goes through printf, a shell builtin (no process, no
# command line), without the trailing newline a key file usually ends with.
api_key="$(cat)"
if [ -z "$api_key" ]; then
  echo "put-llm-key: no key on stdin" >&2
  exit 2
fi
printf '%s' "$api_key" | bao kv put -mount=warden "llm/$tenant/$provider" api_key=- >/dev/null
echo "put-llm-key: stored warden/llm/$tenant/$provider" >&2
