-- The role of the data plane (authz-server's registry feed): it reads the registry and the KYA
-- attestations, and nothing else. It can neither change them nor read the audit log, so a
-- compromised sidecar cannot approve itself or learn what other agents did. LISTEN needs no grant.
-- Deployments create a login role in it, e.g.
--   CREATE ROLE warden_authz LOGIN PASSWORD '...' IN ROLE warden_dataplane;
-- Later migrations that add tables the data plane must read grant SELECT on them to this role.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warden_dataplane') THEN
    CREATE ROLE warden_dataplane NOLOGIN;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO warden_dataplane;
GRANT SELECT ON agents, kya_attestations TO warden_dataplane;
