-- The role authz-server appends its decisions to the audit log with (docs/security.md "Audit and
-- logs"). Kept apart from warden_dataplane, which stays read-only on the registry: authz-server's
-- login is a member of both, e.g.
--   CREATE ROLE warden_authz LOGIN PASSWORD '...' IN ROLE warden_dataplane, warden_audit_writer;
-- It may append (INSERT) events and extend the chain heads, and read back only the two columns an
-- append needs (the ids of events already stored, to skip redelivered ones): never an event's content,
-- never UPDATE or DELETE (the append-only triggers refuse those to everyone anyway).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warden_audit_writer') THEN
    CREATE ROLE warden_audit_writer NOLOGIN;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO warden_audit_writer;
GRANT SELECT (id, event_id), INSERT ON audit_events TO warden_audit_writer;
GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO warden_audit_writer;
