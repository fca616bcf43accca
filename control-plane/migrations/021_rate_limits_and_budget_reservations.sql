-- Rate limits and budget reservations (docs/rate-limits.md).
--
-- rate_limits: one limit per tenant and subject, in requests or LLM tokens per minute, with what the
-- sidecar does while the shared rate-limit service is unreachable (open: let requests through;
-- closed: refuse them). The control plane renders every row into envoyproxy/ratelimit's YAML.
CREATE TABLE rate_limits (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    text NOT NULL,
  scope        text NOT NULL CHECK (scope IN ('tenant', 'team', 'agent', 'route', 'tool')),
  subject      text NOT NULL CHECK (subject ~ '^[A-Za-z0-9._:/@-]+$' AND char_length(subject) <= 256),
  unit         text NOT NULL CHECK (unit IN ('requests', 'tokens')),
  per_minute   integer NOT NULL CHECK (per_minute > 0),
  failure_mode text NOT NULL CHECK (failure_mode IN ('open', 'closed')),
  description  text,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT rate_limits_subject_key UNIQUE (tenant_id, scope, subject, unit),
  CONSTRAINT rate_limits_tenant_subject CHECK (scope <> 'tenant' OR subject = tenant_id)
);

-- Budget counters shared by every sidecar: one row per budget and period, spend and reservations
-- in pico-dollars. A sidecar reserves before it forwards a call with one conditional UPDATE
-- (spent + reserved + amount <= limit), so concurrent sidecars can never reserve past the limit;
-- after the response it moves the reservation to spent at the real cost.
CREATE TABLE budget_counters (
  tenant_id     text NOT NULL,
  budget_id     uuid NOT NULL REFERENCES llm_budgets (id) ON DELETE CASCADE,
  period_start  timestamptz NOT NULL,
  limit_pico    numeric(38, 0) NOT NULL CHECK (limit_pico > 0),
  spent_pico    numeric(38, 0) NOT NULL DEFAULT 0 CHECK (spent_pico >= 0),
  reserved_pico numeric(38, 0) NOT NULL DEFAULT 0 CHECK (reserved_pico >= 0),
  PRIMARY KEY (budget_id, period_start)
);
CREATE INDEX budget_counters_tenant ON budget_counters (tenant_id);

-- Open reservations: settled (deleted) after the response, or swept after expires_at when the
-- sidecar that made one never came back (crash, lost connection).
CREATE TABLE budget_reservations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     text NOT NULL,
  budget_id     uuid NOT NULL,
  period_start  timestamptz NOT NULL,
  amount_pico   numeric(38, 0) NOT NULL CHECK (amount_pico >= 0),
  reserved_by   text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  FOREIGN KEY (budget_id, period_start) REFERENCES budget_counters (budget_id, period_start) ON DELETE CASCADE
);
CREATE INDEX budget_reservations_expiry ON budget_reservations (expires_at);
CREATE INDEX budget_reservations_tenant ON budget_reservations (tenant_id);

REVOKE ALL ON rate_limits, budget_counters, budget_reservations FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO warden_app;
GRANT SELECT ON budget_counters, budget_reservations TO warden_app;
-- The data plane reserves, settles and sweeps; it reads limits (never writes them).
GRANT SELECT ON rate_limits TO warden_extproc;
GRANT SELECT, INSERT, UPDATE ON budget_counters TO warden_extproc;
GRANT SELECT, INSERT, DELETE ON budget_reservations TO warden_extproc;
