#!/bin/bash
# What the compose stack uses of the official postgres image's entrypoint: on an empty data volume,
# initdb with the superuser POSTGRES_USER and the password from POSTGRES_PASSWORD_FILE, password
# (scram-sha-256) logins over the network, then the scripts of /docker-entrypoint-initdb.d run
# against a server listening on its Unix socket only; then the server, listening on every address.
set -euo pipefail

if [ "${1:-}" != "postgres" ]; then exec "$@"; fi
shift

: "${POSTGRES_USER:=postgres}"
export POSTGRES_USER
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD_FILE:-}" ] || [ ! -s "$POSTGRES_PASSWORD_FILE" ]; then
    echo "postgres-entrypoint: POSTGRES_PASSWORD_FILE must name a non-empty file" >&2
    exit 1
  fi
  initdb --username="$POSTGRES_USER" --pwfile="$POSTGRES_PASSWORD_FILE" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  pg_ctl --wait --silent -o "-c listen_addresses=''" start
  for script in /docker-entrypoint-initdb.d/*; do
    case "$script" in
      *.sh) echo "postgres-entrypoint: running $script" >&2; bash "$script" ;;
      *.sql) echo "postgres-entrypoint: running $script" >&2; psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres -f "$script" ;;
      *) ;;
    esac
  done
  pg_ctl --wait --silent -m fast stop
  echo "postgres-entrypoint: initialised $PGDATA" >&2
fi
exec postgres -c listen_addresses='*' "$@"
