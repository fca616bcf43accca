import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { apiActivityOf, toOcsf } from "./ocsf.js";

const base = {
  id: 1,
  event_id: "6f1c3a52-1d4e-4d7b-9a55-0b8a5d0c2f11",
  tenant: "acme",
  chain_seq: 4,
  occurred_at: "2026-12-07T12:00:00.000Z",
  recorded_at: "2026-12-07T12:00:00.005Z",
  source: "control-plane",
  action: "agent.created",
  actor: "carl",
  agent_id: null,
  agent_spiffe_id: null,
  user_id: null,
  delegation_id: null,
  decision: null,
  reason: null,
  decision_id: null,
  request_id: "req-1",
  resource_type: "agent",
  resource_id: "a1",
  upstream: null,
  model: null,
  tokens_in: null,
  tokens_out: null,
  cost_micros: null,
  latency_ms: null,
  details: {},
  prev_hash: "p",
  hash: "h",
} as unknown as AuditRecord;
const row = (changes: Partial<Record<keyof AuditRecord, unknown>>) =>
  ({ ...base, ...changes }) as AuditRecord;

test("a control-plane change is API Activity with the verb as its activity", () => {
  expect(toOcsf(base)).toMatchObject({
    class_uid: 6003,
    category_uid: 6,
    activity_id: 1,
    type_uid: 600301,
    status_id: 1,
    severity_id: 1,
    time: Date.parse(base.occurred_at),
    actor: { user: { uid: "carl" }, app_name: "control-plane" },
    api: { operation: "agent.created", request: { uid: "req-1" } },
    resources: [{ uid: "a1", type: "agent" }],
    metadata: { version: "1.3.0", uid: base.event_id, sequence: 4, tenant_uid: "acme" },
  });
  expect([
    apiActivityOf("kya.approved").id,
    apiActivityOf("delegation.revoked").id,
    apiActivityOf("delegations.revoked_by_agent").id,
    apiActivityOf("authz.decision").id,
  ]).toEqual([3, 4, 4, 99]);
});

test("an identity refusal and a token issued are Authentication (Logon), failed or not", () => {
  const refused = toOcsf(
    row({
      source: "authz-server",
      action: "authz.decision",
      decision: "deny",
      reason: "agent_unregistered",
      actor: null,
      agent_spiffe_id: "spiffe://x/agent/a",
    }),
  );
  expect(refused).toMatchObject({
    class_uid: 3002,
    category_uid: 3,
    activity_id: 1,
    type_uid: 300201,
    status_id: 2,
    status_detail: "agent_unregistered",
    severity_id: 3,
    user: { uid: "spiffe://x/agent/a" },
  });
  expect(toOcsf(row({ action: "oauth.token_issued" }))).toMatchObject({ class_uid: 3002, status_id: 1 });
  expect(
    toOcsf(row({ action: "api.request_refused", decision: "deny", reason: "unauthenticated" })),
  ).toMatchObject({
    class_uid: 3002,
    status_id: 2,
  });
  // A policy refusal of a known caller is not an authentication failure.
  expect(toOcsf(row({ action: "authz.decision", decision: "deny", reason: "tier_denied" }))).toMatchObject({
    class_uid: 6003,
    status_id: 2,
  });
});

test("nothing of the row is lost: what OCSF has no field for is under unmapped.warden", () => {
  const mapped = toOcsf(row({ model: "gpt-4o", tokens_in: 12, cost_micros: 30, details: { path: "/x" } }));
  expect(mapped.unmapped).toMatchObject({
    warden: { model: "gpt-4o", tokens_in: 12, cost_micros: 30, details: { path: "/x" } },
  });
});
