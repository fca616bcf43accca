-- Lifecycle webhooks and the SIEM push (docs/integrations.md). The audit log is the source of truth:
-- a dispatcher follows each tenant's audit chain (audit_events.chain_seq, gap-free and committed in
-- order per tenant, because appends hold the tenant's chain head lock) from a cursor kept here, and
-- turns rows into deliveries. Every table carries tenant_id and every query filters on it.

CREATE TABLE webhook_subscriptions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       text NOT NULL,
  url             text NOT NULL,
  description     text,
  event_types     text[] NOT NULL CHECK (cardinality(event_types) > 0),
  -- The signing secret sealed with the tenant's OpenBao transit key (`vault:v1:...`): a database
  -- read alone yields nothing usable. The plain secret is shown once, at creation.
  secret_sealed   text NOT NULL CHECK (secret_sealed LIKE 'vault:%'),
  state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
  disabled_reason text,
  -- Failed attempts in a row (any success resets it); at the configured limit the subscription is
  -- disabled.
  consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  -- The tenant's audit chain position when the subscription was made: only later events are sent.
  start_seq       bigint NOT NULL CHECK (start_seq >= 0),
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_subscriptions_tenant ON webhook_subscriptions (tenant_id, created_at, id);

CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        text NOT NULL,
  subscription_id  uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  -- The event: its id (the same on every attempt, for the receiver's deduplication), type, the audit
  -- row it came from (null for a test event) and the body sent (audit rows carry no secrets).
  event_id         uuid NOT NULL,
  event_type       text NOT NULL,
  audit_seq        bigint,
  payload          jsonb NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  timestamptz,
  last_status      integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  CONSTRAINT webhook_deliveries_pending_due CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL)),
  -- One delivery per subscription, audit row and event type: re-reading the audit log after a
  -- restart never sends an event twice.
  CONSTRAINT webhook_deliveries_once UNIQUE (subscription_id, audit_seq, event_type)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (tenant_id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_history ON webhook_deliveries (tenant_id, subscription_id, created_at, id);

CREATE TABLE webhook_delivery_attempts (
  delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  tenant_id    text NOT NULL,
  attempt      integer NOT NULL CHECK (attempt > 0),
  started_at   timestamptz NOT NULL,
  duration_ms  double precision NOT NULL,
  status       integer,
  error        text,
  PRIMARY KEY (delivery_id, attempt)
);

-- Where each consumer of a tenant's audit chain stands (`webhooks`, `syslog`).
CREATE TABLE event_cursors (
  tenant_id   text NOT NULL,
  consumer    text NOT NULL,
  last_seq    bigint NOT NULL CHECK (last_seq >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, consumer)
);

-- Wakes the dispatcher when audit rows commit (payload: the tenant); a periodic poll is the safety net.
CREATE FUNCTION audit_events_announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT DISTINCT tenant FROM appended LOOP
    PERFORM pg_notify('warden_audit', t);
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER audit_events_announce AFTER INSERT ON audit_events
  REFERENCING NEW TABLE AS appended
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_announce();

REVOKE ALL ON webhook_subscriptions, webhook_deliveries, webhook_delivery_attempts, event_cursors FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_subscriptions, webhook_deliveries, webhook_delivery_attempts,
  event_cursors TO warden_app;
