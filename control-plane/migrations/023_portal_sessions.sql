-- Server-side sessions of the web portal (issue 21, control-plane/src/portal/README.md).
-- The browser holds only a random session id in the `__Host-warden_session` cookie; this table keeps
-- its SHA-256, never the id itself, so a copy of the table cannot be replayed as a cookie. The OIDC
-- tokens are kept here sealed (AES-256-GCM) under a key derived from that same id: only a request
-- presenting the cookie can open them, and they never reach the browser.
-- Not tenant-owned (no `tenant` column): a session is looked up before its principal is known; the
-- pages then run as that principal, under the same row-level security as the API.
CREATE TABLE portal_sessions (
  id_hash       bytea PRIMARY KEY CHECK (length(id_hash) = 32),
  subject       text NOT NULL,
  sealed_tokens text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);

-- A login under way: the `state` sent to the identity provider is also set in the browser's
-- `__Host-warden_login` cookie; only its SHA-256 is kept, with the PKCE verifier and the nonce, for
-- ten minutes, and the row is deleted when the callback uses it.
CREATE TABLE portal_logins (
  state_hash    bytea PRIMARY KEY CHECK (length(state_hash) = 32),
  code_verifier text NOT NULL,
  nonce         text NOT NULL,
  return_to     text NOT NULL,
  expires_at    timestamptz NOT NULL
);
CREATE INDEX portal_logins_expiry ON portal_logins (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON portal_sessions, portal_logins TO warden_app;
