-- The role our services run as. Deployments create a login role in it, e.g.
--   CREATE ROLE warden_control_plane LOGIN PASSWORD '...' IN ROLE warden_app;
-- Migrations run as the database owner; the services never need more than warden_app.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warden_app') THEN
    CREATE ROLE warden_app NOLOGIN;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO warden_app;
GRANT SELECT ON schema_migrations TO warden_app;

-- Agents and MCP servers share one table: they have the same identity, lifecycle and attestation.
CREATE TABLE agents (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind              text NOT NULL CHECK (kind IN ('agent', 'mcp_server')),
  name              text NOT NULL,
  spiffe_id         text NOT NULL,
  tenant            text NOT NULL,
  owner             text NOT NULL,
  team              text NOT NULL,
  type              text NOT NULL,
  environment       text NOT NULL,
  capabilities      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(capabilities) = 'array'),
  external_services jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(external_services) = 'array'),
  status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked', 'archived')),
  metadata          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  version           integer NOT NULL DEFAULT 1,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT agents_spiffe_id_key UNIQUE (spiffe_id),
  CONSTRAINT agents_spiffe_id_matches_kind CHECK (
    (kind = 'agent' AND spiffe_id LIKE 'spiffe://%/agent/%') OR (kind = 'mcp_server' AND spiffe_id LIKE 'spiffe://%/mcp/%')
  )
);

CREATE INDEX agents_page ON agents (kind, created_at, id);
CREATE INDEX agents_tenant_page ON agents (tenant, kind, created_at, id);
CREATE INDEX agents_capabilities ON agents USING gin (capabilities);

-- No DELETE: an entry is archived, so audit rows keep pointing at something.
GRANT SELECT, INSERT, UPDATE ON agents TO warden_app;
