-- OAuth account connections (issue 8). A user connects a SaaS account (Google Drive, GitHub, ...)
-- once; the tokens live in Vault (KV v2 `warden/oauth/<tenant>/<user>/<service>`, encrypted with the
-- tenant's transit key). This table holds only metadata: which scopes were granted, until when the
-- access token is good, and whether the connection still works.
CREATE TABLE oauth_connections (
  id               uuid PRIMARY KEY,
  tenant           text NOT NULL,
  user_id          text NOT NULL,
  service          text NOT NULL,
  -- active: usable; needs_reconsent: the provider refused a refresh (the user must connect again);
  -- revoked: disconnected (tokens revoked at the provider when it can, and deleted from Vault).
  status           text NOT NULL CHECK (status IN ('active', 'needs_reconsent', 'revoked')),
  scopes           jsonb NOT NULL,
  provider_scopes  text NOT NULL,
  expires_at       timestamptz,
  connected_at     timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  revoked_at       timestamptz,
  status_reason    text,
  version          integer NOT NULL DEFAULT 1,
  CONSTRAINT oauth_connections_user_service UNIQUE (tenant, user_id, service)
);

CREATE INDEX oauth_connections_tenant ON oauth_connections (tenant, user_id);

GRANT SELECT, INSERT, UPDATE ON oauth_connections TO warden_app;

-- Pending authorization requests: `state` is single-use, bound to the user, tenant and service that
-- started the flow, and short-lived. Only its SHA-256 is stored (the state in a leaked row cannot be
-- replayed); the PKCE verifier is transit ciphertext under the tenant's key.
CREATE TABLE oauth_connect_states (
  state_hash       text PRIMARY KEY,
  tenant           text NOT NULL,
  user_id          text NOT NULL,
  service          text NOT NULL,
  scopes           jsonb NOT NULL,
  code_verifier    text NOT NULL,
  redirect_uri     text NOT NULL,
  created_at       timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  used_at          timestamptz
);

CREATE INDEX oauth_connect_states_expiry ON oauth_connect_states (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_connect_states TO warden_app;

-- extproc-server refreshes tokens; when a provider refuses a refresh for good it must be able to say
-- so here, and nothing more. Rather than an UPDATE grant on the table (which would let a compromised
-- sidecar re-activate a revoked connection or rewrite its scopes), it gets EXECUTE on this one
-- function, which can only move an active connection to needs_reconsent.
CREATE FUNCTION oauth_connection_needs_reconsent(p_tenant text, p_user_id text, p_service text, p_reason text)
RETURNS boolean
LANGUAGE sql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
  WITH changed AS (
    UPDATE oauth_connections
       SET status = 'needs_reconsent', status_reason = left(p_reason, 512), updated_at = now(), version = version + 1
     WHERE tenant = p_tenant AND user_id = p_user_id AND service = p_service AND status = 'active'
     RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM changed)
$$;

REVOKE ALL ON FUNCTION oauth_connection_needs_reconsent(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth_connection_needs_reconsent(text, text, text, text) TO warden_app;
GRANT EXECUTE ON FUNCTION oauth_connection_needs_reconsent(text, text, text, text) TO warden_extproc;
