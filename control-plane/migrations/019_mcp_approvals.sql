-- Human approval of one exact MCP call (lib/src/mcp/approval.ts). A row is created pending when the
-- policy holds a call, decided by the delegating user or an admin, and consumed by the identical
-- retry: single use (one atomic UPDATE from approved to used) and bound to agent, delegation, server,
-- method, name and the arguments' digest. Rows are never deleted; audit rows point at them.
CREATE TABLE mcp_approvals (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant            text,
  agent_spiffe_id   text NOT NULL,
  agent_id          uuid,
  delegation_id     uuid,
  user_id           text,
  server            text NOT NULL,
  method            text NOT NULL,
  name              text NOT NULL,
  arguments_digest  text NOT NULL CHECK (arguments_digest LIKE 'sha256:%'),
  state             text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'approved', 'rejected', 'used', 'expired')),
  requested_decision_id text NOT NULL,
  requested_at      timestamptz NOT NULL DEFAULT now(),
  -- A pending request lapses at expires_at; an approval must be used before it (approve resets it
  -- to a short window).
  expires_at        timestamptz NOT NULL,
  decided_by        text,
  decided_at        timestamptz,
  decision_note     text,
  used_at           timestamptz,
  used_decision_id  text,
  version           integer NOT NULL DEFAULT 1,
  -- Approved, rejected and used rows name who decided: the data plane cannot write decided_by, so
  -- it can never approve a call itself.
  CONSTRAINT mcp_approvals_decided CHECK (
    state NOT IN ('approved', 'rejected', 'used') OR (decided_by IS NOT NULL AND decided_at IS NOT NULL)
  ),
  CONSTRAINT mcp_approvals_used CHECK ((state = 'used') = (used_at IS NOT NULL))
);

-- Only forward moves: pending → approved | rejected | expired, approved → used | expired.
CREATE FUNCTION mcp_approvals_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state <> OLD.state AND NOT (
    (OLD.state = 'pending' AND NEW.state IN ('approved', 'rejected', 'expired')) OR
    (OLD.state = 'approved' AND NEW.state IN ('used', 'expired'))
  ) THEN
    RAISE EXCEPTION 'mcp approval % cannot move from % to %', OLD.id, OLD.state, NEW.state
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER mcp_approvals_transition BEFORE UPDATE ON mcp_approvals
  FOR EACH ROW EXECUTE FUNCTION mcp_approvals_transition();

-- One open request per exact call: the held agent's retries find the same row.
CREATE UNIQUE INDEX mcp_approvals_one_open ON mcp_approvals
  (agent_spiffe_id, coalesce(delegation_id::text, ''), server, method, name, arguments_digest)
  WHERE state IN ('pending', 'approved');
CREATE INDEX mcp_approvals_page ON mcp_approvals (requested_at, id);
CREATE INDEX mcp_approvals_tenant_page ON mcp_approvals (tenant, requested_at, id);
CREATE INDEX mcp_approvals_user_page ON mcp_approvals (user_id, requested_at, id);

GRANT SELECT, INSERT, UPDATE ON mcp_approvals TO warden_app;

-- The data plane creates the pending row and consumes an approved one, nothing else: it can never
-- approve (no UPDATE of decided_by/decided_at) or read another tenant's notes.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warden_dataplane') THEN
    GRANT SELECT (id, tenant, agent_spiffe_id, delegation_id, server, method, name, arguments_digest,
                  state, expires_at, requested_at) ON mcp_approvals TO warden_dataplane;
    GRANT INSERT (tenant, agent_spiffe_id, agent_id, delegation_id, user_id, server, method, name,
                  arguments_digest, requested_decision_id, expires_at) ON mcp_approvals TO warden_dataplane;
    GRANT UPDATE (state, used_at, used_decision_id, version) ON mcp_approvals TO warden_dataplane;
  END IF;
END
$$;
