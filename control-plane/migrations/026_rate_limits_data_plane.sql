-- authz-server reads the rate limits (docs/rate-limits.md): it hands the policy the limits that apply
-- to a request (`input.rate_limits`) and routes a request under a fail-closed limit through the
-- sidecar's fail-closed stage. It reads them (never writes them), and learns of every change through
-- NOTIFY warden_rate_limits (a full reload: there are few rows), with a periodic resync as a safety net.
GRANT SELECT ON rate_limits TO warden_dataplane;

CREATE FUNCTION rate_limits_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('warden_rate_limits', json_build_object('v', 1, 'op', lower(TG_OP))::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER rate_limits_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rate_limits
  FOR EACH STATEMENT EXECUTE FUNCTION rate_limits_notify();
