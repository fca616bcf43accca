-- Indexes for the admin portal's pages (issue 21; docs/benchmarks.md, Portal), measured with 10,000
-- agents and 100,000 audit rows (npm run bench -- portal).
-- The policy revision in force reads the newest `authz.decision` events, and the audit search
-- filters by action, newest id order within it.
CREATE INDEX audit_events_action ON audit_events (action, id);
