-- Indexes for the admin portal's pages (issue 21), measured with 10,000 agents, 100,000 audit rows
-- and 100,000 usage rows (npm run bench -- portal; docs/benchmarks.md, Portal).
-- The policy revision in force reads the newest `authz.decision` events; the audit search filters
-- by action or by agent SPIFFE ID and pages in id order (keyset), so each is (column, id).
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_agent_spiffe ON audit_events (agent_spiffe_id, id) WHERE agent_spiffe_id IS NOT NULL;
-- The usage page's per-day series of its top agents and teams filter by these (users and registry
-- ids have their index since migration 005).
CREATE INDEX llm_usage_agent_spiffe ON llm_usage (agent_spiffe_id, occurred_at) WHERE agent_spiffe_id IS NOT NULL;
CREATE INDEX llm_usage_team ON llm_usage (team, occurred_at) WHERE team IS NOT NULL;
