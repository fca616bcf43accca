-- One audit log for the whole system: control-plane actions, data-plane decisions, credential
-- accesses. Append-only (trigger + privileges) and hash-chained per tenant; see lib/src/audit/.
CREATE TABLE audit_chain_heads (
  tenant     text PRIMARY KEY,
  last_seq   bigint NOT NULL,
  last_hash  text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_events (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id        uuid NOT NULL,
  tenant          text NOT NULL,
  chain_seq       bigint NOT NULL CHECK (chain_seq > 0),
  occurred_at     timestamptz NOT NULL,
  recorded_at     timestamptz NOT NULL,
  source          text NOT NULL,
  action          text NOT NULL,
  actor           text,
  agent_id        uuid,
  agent_spiffe_id text,
  user_id         text,
  delegation_id   text,
  decision        text CHECK (decision IN ('allow', 'deny')),
  reason          text,
  decision_id     text,
  request_id      text,
  resource_type   text,
  resource_id     text,
  upstream        text,
  model           text,
  tokens_in       bigint,
  tokens_out      bigint,
  cost_micros     bigint,
  latency_ms      double precision,
  details         jsonb NOT NULL DEFAULT '{}',
  prev_hash       text NOT NULL,
  hash            text NOT NULL,
  -- Client-generated: a redelivered event (from a spool) is recognised and stored once.
  CONSTRAINT audit_events_event_id_key UNIQUE (event_id),
  CONSTRAINT audit_events_chain_key UNIQUE (tenant, chain_seq)
);

CREATE INDEX audit_events_tenant_time ON audit_events (tenant, occurred_at, id);
CREATE INDEX audit_events_time ON audit_events (occurred_at, id);
CREATE INDEX audit_events_agent ON audit_events (agent_id, occurred_at, id) WHERE agent_id IS NOT NULL;
CREATE INDEX audit_events_user ON audit_events (user_id, occurred_at, id) WHERE user_id IS NOT NULL;

CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_no_update_or_delete
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

REVOKE ALL ON audit_events FROM PUBLIC;
REVOKE ALL ON audit_chain_heads FROM PUBLIC;
GRANT SELECT, INSERT ON audit_events TO warden_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM warden_app;
GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO warden_app;
