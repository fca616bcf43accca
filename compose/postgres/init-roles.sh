#!/bin/bash
# Runs once, when the official postgres image initialises an empty data volume
# (/docker-entrypoint-initdb.d). Creates the warden database and one login per component, each with
# the least it needs (control-plane/README.md, "Database"):
#   warden_owner          owns the database; the control plane runs the migrations as it (not a superuser)
#   warden_authz          in warden_dataplane and warden_audit_writer: reads the registry (migration
#                         004), appends its decisions to the audit log (migration 008)
#   warden_extproc_login  in warden_extproc: appends usage and audit rows (migration 005)
# The group roles are created here so the logins can join them before the migrations run; the
# migrations create them only if missing and grant their rights. Passwords are Docker secrets, read
# by psql itself (backquotes in \set), so they appear on no command line.
set -euo pipefail
: "${WARDEN_SECRETS_DIR:=/run/secrets}"
export WARDEN_SECRETS_DIR

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\set owner_password `cat "$WARDEN_SECRETS_DIR/db-owner-password"`
\set authz_password `cat "$WARDEN_SECRETS_DIR/db-authz-password"`
\set extproc_password `cat "$WARDEN_SECRETS_DIR/db-extproc-password"`
CREATE ROLE warden_app NOLOGIN;
CREATE ROLE warden_dataplane NOLOGIN;
CREATE ROLE warden_extproc NOLOGIN;
CREATE ROLE warden_audit_writer NOLOGIN;
CREATE ROLE warden_owner LOGIN PASSWORD :'owner_password';
-- Row-level security (migration 029, docs/tenancy.md): these may act for every tenant; the owner too,
-- since the control plane runs as it and forced RLS holds the owner.
CREATE ROLE warden_all_tenants NOLOGIN;
GRANT warden_all_tenants TO warden_app, warden_dataplane, warden_extproc, warden_audit_writer, warden_owner;
CREATE ROLE warden_authz LOGIN PASSWORD :'authz_password' IN ROLE warden_dataplane, warden_audit_writer;
CREATE ROLE warden_extproc_login LOGIN PASSWORD :'extproc_password' IN ROLE warden_extproc;
CREATE DATABASE warden OWNER warden_owner;
REVOKE ALL ON DATABASE warden FROM PUBLIC;
GRANT CONNECT ON DATABASE warden TO warden_owner, warden_authz, warden_extproc_login;
SQL
