-- User → agent delegations (issued as signed ID-JAG-shaped tokens; the token itself is never stored)
-- and the revocation list of the OAuth token service. Rows are never deleted: a delegation ends by
-- expiring or by being revoked, and audit rows keep pointing at it. See docs/delegations.md.
CREATE TABLE delegations (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant            text NOT NULL,
  user_id           text NOT NULL,
  agent_id          uuid NOT NULL REFERENCES agents (id),
  agent_spiffe_id   text NOT NULL,
  scopes            jsonb NOT NULL CHECK (jsonb_typeof(scopes) = 'array' AND jsonb_array_length(scopes) > 0),
  destinations      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(destinations) = 'array'),
  issued_at         timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL,
  signing_key_id    text NOT NULL,
  granted_by        text NOT NULL,
  revoked_at        timestamptz,
  revoked_by        text,
  revoked_via       text CHECK (revoked_via IN ('delegation', 'user', 'agent', 'tenant')),
  revocation_reason text,
  version           integer NOT NULL DEFAULT 1,
  CONSTRAINT delegations_lifetime CHECK (expires_at > issued_at),
  CONSTRAINT delegations_revocation_complete CHECK (
    (revoked_at IS NULL AND revoked_by IS NULL AND revoked_via IS NULL)
    OR (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revoked_via IS NOT NULL)
  )
);

CREATE INDEX delegations_user_page ON delegations (tenant, user_id, issued_at, id);
CREATE INDEX delegations_agent_page ON delegations (agent_id, issued_at, id);
CREATE INDEX delegations_tenant_page ON delegations (tenant, issued_at, id);
CREATE INDEX delegations_page ON delegations (issued_at, id);
-- Bulk revocations touch only live rows: revoked and expired ones accumulate (nothing is deleted)
-- and must not slow the incident button down.
CREATE INDEX delegations_live_by_agent ON delegations (agent_id, expires_at) WHERE revoked_at IS NULL;
CREATE INDEX delegations_live_by_user ON delegations (user_id, expires_at) WHERE revoked_at IS NULL;
CREATE INDEX delegations_live_by_tenant ON delegations (tenant, expires_at) WHERE revoked_at IS NULL;
-- The data plane reads back one bulk revocation by its time (every row of it has the same
-- revoked_at), and resyncs from the revoked, unexpired ones.
CREATE INDEX delegations_revoked ON delegations (revoked_at, expires_at) WHERE revoked_at IS NOT NULL;

GRANT SELECT, INSERT, UPDATE ON delegations TO warden_app;

-- RFC 7009: access tokens revoked before their expiry (the tokens themselves are not stored).
CREATE TABLE oauth_revoked_tokens (
  jti        uuid PRIMARY KEY,
  tenant     text NOT NULL,
  client_id  text NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz NOT NULL,
  revoked_by text NOT NULL
);

CREATE INDEX oauth_revoked_tokens_expiry ON oauth_revoked_tokens (expires_at);

GRANT SELECT, INSERT ON oauth_revoked_tokens TO warden_app;

-- The data plane (migration 004's read-only role, when present) reads which delegations and tokens
-- are revoked, and nothing about scopes, destinations or who granted them.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warden_dataplane') THEN
    GRANT SELECT (id, tenant, user_id, agent_spiffe_id, expires_at, revoked_at) ON delegations TO warden_dataplane;
    GRANT SELECT (jti, tenant, expires_at) ON oauth_revoked_tokens TO warden_dataplane;
  END IF;
END
$$;
