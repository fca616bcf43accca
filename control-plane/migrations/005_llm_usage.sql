-- LLM usage and budgets (issue 7). extproc-server records one usage row per LLM request: it appends
-- an audit event (action `llm.request`) and, in the same transaction, the row below, so a usage row
-- exists exactly when its audit event does (both are delivered through the audit spool when the
-- database is down). Costs are whole pico-dollars (10^-12 USD): list prices have up to six decimals
-- per million tokens, so every cost is an exact integer (lib/src/llm/money.ts).
CREATE TABLE llm_usage (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id            uuid NOT NULL,
  tenant              text NOT NULL,
  occurred_at         timestamptz NOT NULL,
  agent_id            text,
  agent_spiffe_id     text,
  team                text,
  user_id             text,
  delegation_id       text,
  decision_id         text NOT NULL,
  provider            text NOT NULL,
  operation           text NOT NULL,
  -- What the agent asked for (possibly an alias), what was sent upstream, what the provider answered.
  requested_model     text,
  model               text,
  response_model      text,
  stream              boolean NOT NULL,
  -- completed: the answer arrived whole; cut: the client or the upstream ended it early (usage is
  -- what was seen); not_forwarded: Warden refused it (budget, key store) and nothing went upstream.
  outcome             text NOT NULL CHECK (outcome IN ('completed', 'cut', 'not_forwarded')),
  -- The status the agent got: the upstream's, or Warden's own refusal (402, 503, ...).
  status              integer NOT NULL,
  error_code          text,
  input_tokens        bigint NOT NULL CHECK (input_tokens >= 0),
  cached_input_tokens bigint NOT NULL CHECK (cached_input_tokens >= 0),
  cache_write_tokens  bigint NOT NULL CHECK (cache_write_tokens >= 0),
  output_tokens       bigint NOT NULL CHECK (output_tokens >= 0),
  reasoning_tokens    bigint NOT NULL CHECK (reasoning_tokens >= 0),
  usage_source        text NOT NULL CHECK (usage_source IN ('body', 'stream', 'none')),
  -- NULL: the price table has no price for this model (the row is flagged, never dropped).
  cost_pico_usd       bigint CHECK (cost_pico_usd >= 0),
  price_version       text,
  latency_ms          double precision NOT NULL,
  ttfb_ms             double precision,
  -- The extproc-server instance and its own sequence: a sidecar re-reading spend from the database
  -- leaves out its own rows that it already counts in memory (lib/src/llm/budget-store.ts).
  recorded_by         text NOT NULL,
  record_seq          bigint NOT NULL,
  CONSTRAINT llm_usage_event_id_key UNIQUE (event_id)
);

CREATE INDEX llm_usage_tenant_time ON llm_usage (tenant, occurred_at);
CREATE INDEX llm_usage_time ON llm_usage (occurred_at);
CREATE INDEX llm_usage_agent ON llm_usage (agent_id, occurred_at) WHERE agent_id IS NOT NULL;
CREATE INDEX llm_usage_user ON llm_usage (user_id, occurred_at) WHERE user_id IS NOT NULL;
CREATE INDEX llm_usage_recorder ON llm_usage (recorded_by, record_seq);

CREATE FUNCTION llm_usage_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'llm_usage is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER llm_usage_no_update_or_delete
  BEFORE UPDATE OR DELETE ON llm_usage
  FOR EACH ROW EXECUTE FUNCTION llm_usage_append_only();

CREATE TRIGGER llm_usage_no_truncate
  BEFORE TRUNCATE ON llm_usage
  FOR EACH STATEMENT EXECUTE FUNCTION llm_usage_append_only();

-- Budgets per tenant, team, agent or user, per calendar period (UTC). Limits in micro-dollars.
CREATE TABLE llm_budgets (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant       text NOT NULL,
  scope        text NOT NULL CHECK (scope IN ('tenant', 'team', 'agent', 'user')),
  subject      text NOT NULL,
  period       text NOT NULL CHECK (period IN ('daily', 'monthly')),
  limit_micros bigint NOT NULL CHECK (limit_micros > 0),
  enforcement  text NOT NULL CHECK (enforcement IN ('hard', 'soft')),
  description  text,
  version      integer NOT NULL DEFAULT 1,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT llm_budgets_scope_key UNIQUE (tenant, scope, subject, period),
  CONSTRAINT llm_budgets_tenant_subject CHECK (scope <> 'tenant' OR subject = tenant)
);

REVOKE ALL ON llm_usage FROM PUBLIC;
REVOKE ALL ON llm_budgets FROM PUBLIC;
GRANT SELECT ON llm_usage TO warden_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON llm_budgets TO warden_app;

-- extproc-server's role: append audit events and usage rows, read budgets and usage (its spend
-- counters). It cannot read other audit events (only the two columns an append needs), change a
-- budget, or touch the registry. Deployments create a login role in it, e.g.
--   CREATE ROLE warden_extproc_login LOGIN PASSWORD '...' IN ROLE warden_extproc;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warden_extproc') THEN
    CREATE ROLE warden_extproc NOLOGIN;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO warden_extproc;
GRANT SELECT (id, event_id), INSERT ON audit_events TO warden_extproc;
GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO warden_extproc;
GRANT SELECT, INSERT ON llm_usage TO warden_extproc;
GRANT SELECT ON llm_budgets TO warden_extproc;
