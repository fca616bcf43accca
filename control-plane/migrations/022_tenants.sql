-- Tenants as a resource of their own (docs/tenancy.md). Every tenant-owned row names its tenant by
-- this id (the `tenant` column of the other tables, the `tenant` claim of people's tokens). A tenant
-- is created by a platform administrator, with a signing and a sealing key of its own in OpenBao
-- transit (only their names are stored here), and can be suspended: the data plane then refuses
-- every agent of the tenant (reason `tenant_suspended`).
-- Nothing is deleted: audit rows keep pointing at the tenant.
CREATE TABLE tenants (
  id                text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._-]{1,128}$' AND id <> '*'),
  display_name      text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  signing_key       text NOT NULL,
  sealing_key       text NOT NULL,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  suspended_at      timestamptz,
  suspended_by      text,
  suspension_reason text,
  version           integer NOT NULL DEFAULT 1,
  CONSTRAINT tenants_suspension_complete CHECK (
    (status = 'active' AND suspended_at IS NULL AND suspended_by IS NULL)
    OR (status = 'suspended' AND suspended_at IS NOT NULL AND suspended_by IS NOT NULL)
  )
);

CREATE INDEX tenants_page ON tenants (created_at, id);

-- Tenants that already own rows become resources, active, with the key names the lifecycle gives new
-- ones (the keys themselves are created by `warden tenants create` or on first use).
INSERT INTO tenants (id, display_name, signing_key, sealing_key, created_by)
SELECT DISTINCT t, t, 'warden-tenant-' || t || '-signing', 'tenant-' || t, 'migration'
  FROM (SELECT tenant AS t FROM agents UNION SELECT tenant FROM delegations
        UNION SELECT tenant FROM oauth_connections UNION SELECT tenant FROM llm_budgets) existing
 WHERE t ~ '^[A-Za-z0-9._-]{1,128}$';

REVOKE ALL ON tenants FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON tenants TO warden_app;
-- The data plane learns which tenants are suspended with the registry, and nothing else about them.
GRANT SELECT (id, status) ON tenants TO warden_dataplane;

-- A change of a tenant's state reaches authz-server through the registry feed: a full resync (rare).
CREATE FUNCTION tenants_notify_registry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify('warden_registry', json_build_object('v', 1, 'entity', 'tenant', 'op', 'upsert', 'id', NEW.id)::text);
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER tenants_notify_registry AFTER UPDATE ON tenants
  FOR EACH ROW EXECUTE FUNCTION tenants_notify_registry();
