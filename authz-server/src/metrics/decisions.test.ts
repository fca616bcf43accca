import { metricsRegistry } from "../../../lib/src/metrics/registry.js";
import type { DecisionRecord } from "../authorizer.js";
import { outcomeOf, recordDecision } from "./decisions.js";

const record = (over: Partial<DecisionRecord>): DecisionRecord => ({
  decision_id: "d1",
  policy_revision: "r1",
  allow: true,
  status: 200,
  reason: "allowed",
  dry_run: false,
  agent_spiffe_id: "spiffe://warden.local/agent/a",
  service: "openai",
  eval_ns: 40_000,
  input: null,
  ...over,
});

test("a policy denial in dry-run counts as dry_run_deny, not as allow or deny", () => {
  expect(outcomeOf(record({}))).toBe("allow");
  expect(outcomeOf(record({ allow: false, status: 403 }))).toBe("deny");
  expect(outcomeOf(record({ allow: false, status: 403, dry_run: true }))).toBe("dry_run_deny");
});

test("decisions are counted by outcome, reason and service, and every stage is timed", async () => {
  recordDecision(record({ allow: false, status: 403, reason: "model_not_allowed" }), {
    decideNs: 100_000,
    delegationNs: 20_000,
    respondNs: 5_000,
  });
  const text = await metricsRegistry.metrics();
  expect(text).toContain(
    'warden_authz_decisions_total{outcome="deny",reason="model_not_allowed",service="openai"} 1',
  );
  // facts = the whole decision less the policy (40 µs) and the delegation (20 µs) = 40 µs.
  expect(text).toContain('warden_authz_stage_duration_seconds_sum{stage="facts"} 0.00004');
  expect(text).toContain('warden_authz_stage_duration_seconds_sum{stage="policy"} 0.00004');
  expect(text).toContain('warden_authz_stage_duration_seconds_sum{stage="delegation"} 0.00002');
  expect(text).toContain('warden_authz_stage_duration_seconds_sum{stage="response"} 0.000005');
});
