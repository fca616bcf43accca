#!/usr/bin/env bash
# The backup and restore procedures of docs/deployment.md, run for real on this machine against the
# pinned tools (PostgreSQL from scripts/setup, OpenBao from .tools/bin), in a scratch folder:
#   1. PostgreSQL: a database with Warden's migrations and rows, pg_dumpall --globals-only (the roles)
#      + pg_dump -Fc, restored into a NEW cluster; then pg_basebackup of the same cluster, started
#      as a copy. Each restore is checked: same migrations, same rows, the roles present.
#   2. OpenBao: raft storage, transit key + KV secret, `bao operator raft snapshot save`, a new
#      OpenBao initialised from nothing, `bao operator raft snapshot restore -force`, unsealed with
#      the ORIGINAL unseal key; the same key versions sign-verify and the same secret reads back.
# Needs `npm run build` (the migrations run through dist/). Run as root (PostgreSQL runs as the
# postgres user). Prints one line per check and "backup-roundtrip: ok" at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
# PostgreSQL's own tools (pg_dump, pg_basebackup...) from the installation scripts/setup links.
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
WORK="$(mktemp -d /tmp/warden-backup.XXXXXX)"
chmod 0755 "$WORK"
PORT_A=$((20000 + RANDOM % 10000)); PORT_B=$((PORT_A + 1)); PORT_C=$((PORT_A + 2)); BAO_PORT=$((PORT_A + 3))
pids=()
cleanup() {
  for d in a b c; do [ -d "$WORK/pg-$d" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg-$d" -m immediate stop >/dev/null 2>&1 || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
check() { echo "backup-roundtrip: $*"; }
as_pg() { runuser -u postgres -- "$@"; }
psql_at() { as_pg "$PGBIN/psql" -h "$WORK" -p "$1" -U postgres -d "${2:-warden}" -Atqc "$3"; }

# --- PostgreSQL ------------------------------------------------------------------------------------
chown postgres "$WORK"
start_pg() { as_pg "$PGBIN/pg_ctl" -D "$WORK/pg-$1" -o "-p $2 -k $WORK -c listen_addresses=''" -l "$WORK/pg-$1.log" -w start >/dev/null; }
as_pg "$PGBIN/initdb" -D "$WORK/pg-a" -U postgres --auth=trust >/dev/null
# pg_basebackup streams over a replication connection: allowed locally (trust) in this scratch cluster.
echo "local replication postgres trust" >>"$WORK/pg-a/pg_hba.conf"
start_pg a "$PORT_A"
as_pg "$PGBIN/createdb" -h "$WORK" -p "$PORT_A" -U postgres warden
DATABASE_URL="postgresql://postgres@/warden?host=$WORK&port=$PORT_A" node --input-type=module -e "
  const { createPostgresDatabase } = await import('$ROOT/dist/lib/src/db/postgres.js');
  const { migrate } = await import('$ROOT/dist/lib/src/db/migrate.js');
  const db = createPostgresDatabase(process.env.DATABASE_URL);
  const applied = await migrate(db, '$ROOT/control-plane/migrations');
  await db.close();
  console.log('backup-roundtrip: source database migrated (' + applied.length + ' migrations)');"
psql_at "$PORT_A" warden "CREATE ROLE warden_authz LOGIN IN ROLE warden_dataplane, warden_audit_writer;
  INSERT INTO tenants (id, display_name, signing_key, sealing_key, created_by)
  SELECT 'tenant-' || g, 'Tenant ' || g, 'warden-signing', 'tenant-' || g, 'backup-roundtrip' FROM generate_series(1, 500) g;"
fingerprint() {
  psql_at "$1" warden "SELECT (SELECT string_agg(version::text || ':' || checksum, ',' ORDER BY version) FROM schema_migrations)
    || '|' || (SELECT count(*) FROM tenants) || '|' || (SELECT md5(string_agg(id || display_name, ',' ORDER BY id)) FROM tenants)
    || '|' || (SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'warden%')"
}
source_fp="$(fingerprint "$PORT_A")"

# Logical: the roles first (pg_dump leaves them out), then the database in the custom format.
as_pg "$PGBIN/pg_dumpall" -h "$WORK" -p "$PORT_A" -U postgres --globals-only --no-role-passwords -f "$WORK/globals.sql"
as_pg "$PGBIN/pg_dump" -h "$WORK" -p "$PORT_A" -U postgres -Fc -f "$WORK/warden.dump" warden
check "pg_dump: $(stat -c %s "$WORK/warden.dump") bytes, globals $(grep -c '^CREATE ROLE' "$WORK/globals.sql") roles"
as_pg "$PGBIN/initdb" -D "$WORK/pg-b" -U postgres --auth=trust >/dev/null
start_pg b "$PORT_B"
as_pg "$PGBIN/psql" -h "$WORK" -p "$PORT_B" -U postgres -d postgres -q -v ON_ERROR_STOP=0 -f "$WORK/globals.sql" >/dev/null 2>&1
as_pg "$PGBIN/createdb" -h "$WORK" -p "$PORT_B" -U postgres warden
as_pg "$PGBIN/pg_restore" -h "$WORK" -p "$PORT_B" -U postgres -d warden --exit-on-error "$WORK/warden.dump"
[ "$(fingerprint "$PORT_B")" = "$source_fp" ] || { echo "pg_restore: the restored database differs" >&2; exit 1; }
check "pg_dump + pg_restore into a new cluster: same migrations, rows and roles"

# Physical: a base backup with its WAL, started as a cluster of its own.
as_pg "$PGBIN/pg_basebackup" -h "$WORK" -p "$PORT_A" -U postgres -D "$WORK/pg-c" -Fp -Xstream --checkpoint=fast
as_pg "$PGBIN/pg_verifybackup" "$WORK/pg-c" >/dev/null
start_pg c "$PORT_C"
[ "$(fingerprint "$PORT_C")" = "$source_fp" ] || { echo "pg_basebackup: the copy differs" >&2; exit 1; }
check "pg_basebackup (verified by pg_verifybackup) started as a copy: same migrations, rows and roles"

# --- OpenBao ---------------------------------------------------------------------------------------
bao_start() {
  mkdir -p "$WORK/bao-$1"
  cat >"$WORK/bao-$1.hcl" <<EOF
ui = false
disable_mlock = true
api_addr = "http://127.0.0.1:$BAO_PORT"
cluster_addr = "http://127.0.0.1:$((BAO_PORT + 100))"
storage "raft" {
  path = "$WORK/bao-$1"
  node_id = "openbao-0"
}
listener "tcp" {
  address = "127.0.0.1:$BAO_PORT"
  cluster_address = "127.0.0.1:$((BAO_PORT + 100))"
  tls_disable = true
}
EOF
  "$BIN/bao" server -config="$WORK/bao-$1.hcl" >"$WORK/bao-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do bao status >/dev/null 2>&1 && return 0; [ $? -eq 2 ] && return 0; sleep 0.1; done
}
bao() { VAULT_ADDR="http://127.0.0.1:$BAO_PORT" "$BIN/bao" "$@"; }
wait_active() { for _ in $(seq 1 100); do bao read -field=data sys/leader >/dev/null 2>&1 && [ "$(bao read -field=is_self sys/leader 2>/dev/null)" = true ] && return 0; sleep 0.1; done; return 1; }

bao_start a
bao operator init -key-shares=1 -key-threshold=1 -format=json >"$WORK/init-a.json"
unseal_a="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).unseal_keys_b64[0])' "$WORK/init-a.json")"
root_a="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).root_token)' "$WORK/init-a.json")"
bao operator unseal "$unseal_a" >/dev/null
export VAULT_TOKEN="$root_a"
wait_active
bao secrets enable transit >/dev/null
bao secrets enable -path=warden kv-v2 >/dev/null
bao write -f transit/keys/warden-signing type=ecdsa-p256 >/dev/null
bao write -f transit/keys/warden-signing/rotate >/dev/null
bao kv put warden/llm/acme/openai api_key=sk-backup-roundtrip >/dev/null
input="$(printf 'backup' | base64)"
signature="$(bao write -field=signature transit/sign/warden-signing input="$input")"
bao operator raft snapshot save "$WORK/openbao.snap"
check "bao operator raft snapshot save: $(stat -c %s "$WORK/openbao.snap") bytes"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# A new OpenBao from nothing (a lost volume): initialised, then the snapshot restored over it.
bao_start b
bao operator init -key-shares=1 -key-threshold=1 -format=json >"$WORK/init-b.json"
bao operator unseal "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).unseal_keys_b64[0])' "$WORK/init-b.json")" >/dev/null
VAULT_TOKEN="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).root_token)' "$WORK/init-b.json")" wait_active
VAULT_TOKEN="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).root_token)' "$WORK/init-b.json")" \
  bao operator raft snapshot restore -force "$WORK/openbao.snap"
# The restored data is sealed with the ORIGINAL keys: the new node's own unseal key no longer fits.
for _ in $(seq 1 50); do [ "$(bao status -format=json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).sealed))')" = true ] && break; sleep 0.1; done
bao operator unseal "$unseal_a" >/dev/null
wait_active
[ "$(bao kv get -field=api_key warden/llm/acme/openai)" = sk-backup-roundtrip ] || { echo "restored KV secret differs" >&2; exit 1; }
[ "$(bao read -field=latest_version transit/keys/warden-signing)" = 2 ] || { echo "restored transit key lost a version" >&2; exit 1; }
[ "$(bao write -field=valid transit/verify/warden-signing input="$input" signature="$signature")" = true ] || { echo "a signature from before the snapshot no longer verifies" >&2; exit 1; }
check "raft snapshot restored into a new OpenBao, unsealed with the original key: KV secret, transit key (2 versions) and an old signature verify"
echo "backup-roundtrip: ok"
