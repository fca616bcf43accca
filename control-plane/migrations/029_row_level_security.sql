-- Row-level security on every tenant-owned table, beneath the API's own checks (docs/tenancy.md).
-- Numbered last on purpose: it covers every table that has a `tenant` (or `tenant_id`) column when
-- it runs. A later migration that adds such a table must enable and force RLS with the same policy
-- (test/integration/tenant-isolation.test.ts fails until it does).
--
-- Which tenant a statement may see is the setting `warden.tenant`, set by the process per
-- transaction (`set_config('warden.tenant', $1, true)`, the control plane per request) or per
-- connection (the data plane, `-c warden.tenant=...`), resolved by warden_tenant():
--   * missing or empty: NULL, no rows (fail closed);
--   * a login bound to a tenant in tenant_logins: that tenant, whatever it asks for ('*' or its own;
--     anything else: no rows), so a stolen sidecar login cannot read another tenant by asking;
--   * '*': every tenant, only for members of warden_all_tenants (else no rows);
--   * otherwise the tenant named.

-- The control plane serves every tenant (platform administrators); one data plane per machine serves
-- the agents of every tenant on it. A sidecar dedicated to one tenant gets a bound login instead.
-- The owner running this migration is a member too: where the control plane runs as the owner
-- (compose, `warden up`), forced RLS holds it as well. Deployments whose owner may not grant roles
-- create and grant the role beforehand (compose/postgres/init-roles.sh); then nothing is granted here.
DO $$
DECLARE
  grantee text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warden_all_tenants') THEN
    CREATE ROLE warden_all_tenants NOLOGIN;
  END IF;
  FOREACH grantee IN ARRAY ARRAY['warden_app', 'warden_dataplane', 'warden_extproc', 'warden_audit_writer', current_user::text]
  LOOP
    IF NOT pg_has_role(grantee, 'warden_all_tenants', 'MEMBER') THEN
      EXECUTE format('GRANT warden_all_tenants TO %I', grantee);
    END IF;
  END LOOP;
END
$$;

-- Logins confined to one tenant (a deployment's per-tenant data-plane logins). Owner-only: no
-- service can change its own binding.
CREATE TABLE tenant_logins (
  login        name PRIMARY KEY,
  bound_tenant text NOT NULL CHECK (bound_tenant ~ '^[A-Za-z0-9._-]{1,128}$'),
  created_at   timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON tenant_logins FROM PUBLIC;

CREATE FUNCTION warden_tenant() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
  requested text := nullif(current_setting('warden.tenant', true), '');
  bound text;
BEGIN
  IF requested IS NULL THEN
    RETURN NULL;
  END IF;
  -- session_user, not current_user: SET ROLE to a group role must not shed the binding.
  SELECT bound_tenant INTO bound FROM tenant_logins WHERE login = session_user;
  IF bound IS NOT NULL THEN
    RETURN CASE WHEN requested IN ('*', bound) THEN bound END;
  END IF;
  IF requested = '*' THEN
    RETURN CASE WHEN pg_has_role(session_user, 'warden_all_tenants', 'MEMBER') THEN '*' END;
  END IF;
  RETURN requested;
END
$$;

REVOKE ALL ON FUNCTION warden_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION warden_tenant() TO warden_app, warden_dataplane, warden_extproc, warden_audit_writer;

-- One policy per table, for every role (TO PUBLIC, so a role added later is covered too), and FORCE so
-- the tables' owner is held to it as well. `(SELECT warden_tenant())` is evaluated once per statement,
-- not per row, and keeps the tenant indexes usable.
CREATE FUNCTION warden_enable_tenant_rls(p_table regclass, p_column name) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  predicate text := format(
    '(%1$I = (SELECT warden_tenant()) OR (SELECT warden_tenant()) = %2$L)', p_column, '*');
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', p_table);
  EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', p_table);
  EXECUTE format('CREATE POLICY tenant_isolation ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING %s WITH CHECK %s',
                 p_table, predicate, predicate);
END
$$;

DO $$
DECLARE
  owned record;
BEGIN
  FOR owned IN
    SELECT c.oid::regclass AS tbl, a.attname AS col
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attname IN ('tenant', 'tenant_id')
       AND c.relname <> 'tenant_logins'
  LOOP
    PERFORM warden_enable_tenant_rls(owned.tbl, owned.col);
  END LOOP;
END
$$;

-- The tenants themselves: a tenant-limited session sees its own row only.
SELECT warden_enable_tenant_rls('tenants', 'id');
REVOKE ALL ON FUNCTION warden_enable_tenant_rls(regclass, name) FROM PUBLIC;
