#!/bin/sh
# Entrypoint of the Warden image (compose/Dockerfile). The components read a PostgreSQL URL without
# a password; node-postgres takes it from PGPASSWORD, which this sets from the Docker secret named by
# PGPASSWORD_FILE, so the password is in no compose file, image or command line.
set -eu
if [ -n "${PGPASSWORD_FILE:-}" ]; then
  PGPASSWORD="$(cat "$PGPASSWORD_FILE")"
  export PGPASSWORD
  unset PGPASSWORD_FILE
fi
exec "$@"
