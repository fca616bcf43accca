-- Account linking bound to the browser that started it (issue 17, RFC 6749 §10.12, RFC 9700 §4.7).
-- A connection flow starts and ends in the same browser: the start sets a random nonce in a
-- `__Host-` cookie and only its SHA-256 is kept here; the callback and the confirmation must present
-- it. The callback no longer stores the connection: it keeps the sealed tokens (transit ciphertext
-- under the tenant's key, never plaintext) and the provider account it found, until the same user,
-- from the same browser, confirms that account. Rows started before this migration have no binding
-- and are refused.
ALTER TABLE oauth_connect_states
  ADD COLUMN browser_binding     text,
  ADD COLUMN link_id             uuid UNIQUE,
  ADD COLUMN pending_tokens      text,
  ADD COLUMN pending_account     jsonb,
  ADD COLUMN pending_provider_scopes text,
  ADD COLUMN pending_expires_at  timestamptz;
