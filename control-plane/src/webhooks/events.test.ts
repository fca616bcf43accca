import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { deliveriesFor, eventIdOf } from "./dispatcher.js";
import { eventTypesOf } from "./events.js";
import type { SubscriptionRow } from "./repository.js";

const row = (action: string, decision: "allow" | "deny" | null = null, reason: string | null = null) => ({
  action,
  decision,
  reason,
});

test("control-plane actions become their lifecycle events, and every row is an audit.record", () => {
  expect(eventTypesOf(row("agent.created"))).toEqual(["agent.registered", "audit.record"]);
  expect(eventTypesOf(row("agent.archived"))).toEqual(["agent.revoked", "audit.record"]);
  expect(eventTypesOf(row("kya.approved"))).toEqual(["kya.approved", "audit.record"]);
  expect(eventTypesOf(row("mcp.approval.approved"))).toEqual(["approval.approved", "audit.record"]);
  expect(eventTypesOf(row("delegations.revoked_by_agent"))).toEqual(["security.revoke_all", "audit.record"]);
  expect(eventTypesOf(row("llm_budget.soft_limit_reached"))).toEqual(["budget.near_limit", "audit.record"]);
  expect(eventTypesOf(row("request.decision"))).toEqual(["audit.record"]);
});

test("data-plane refusals are security events, with budget and expiry refusals named", () => {
  expect(eventTypesOf(row("authz.decision", "deny", "certificate_untrusted"))).toEqual([
    "security.identity_failure",
    "security.access_denied",
    "audit.record",
  ]);
  expect(eventTypesOf(row("llm.request", "deny", "budget_exceeded"))).toEqual([
    "budget.exceeded",
    "security.access_denied",
    "audit.record",
  ]);
  expect(eventTypesOf(row("authz.decision", "deny", "delegation_expired"))).toEqual([
    "delegation.expired",
    "security.access_denied",
    "audit.record",
  ]);
  expect(eventTypesOf(row("authz.decision", "allow", "allowed"))).toEqual(["audit.record"]);
});

const record = {
  id: 7,
  event_id: "6f1c3a52-1d4e-4d7b-9a55-0b8a5d0c2f11",
  tenant: "acme",
  chain_seq: 12,
  occurred_at: "2026-12-07T12:00:00.000Z",
  action: "agent.created",
  decision: null,
  reason: null,
} as unknown as AuditRecord;
const subscription = (id: string, types: string[], startSeq = 0) =>
  ({ id, event_types: types, start_seq: startSeq }) as unknown as SubscriptionRow;

test("a row goes to each subscription that asked for one of its types and was made before it", () => {
  const made = deliveriesFor(record, [
    subscription("s1", ["agent.registered"]),
    subscription("s2", ["kya.approved"]),
    subscription("s3", ["agent.registered", "audit.record"]),
    subscription("s4", ["agent.registered"], 12),
  ]);
  expect(made.map((d) => [d.subscription_id, d.event_type])).toEqual([
    ["s1", "agent.registered"],
    ["s3", "agent.registered"],
    ["s3", "audit.record"],
  ]);
  expect(made[0]!.payload).toMatchObject({ type: "agent.registered", tenant: "acme", sequence: 12 });
});

test("an event's id is the same for every subscription and differs per type", () => {
  expect(eventIdOf(record.event_id, "agent.registered")).toBe(eventIdOf(record.event_id, "agent.registered"));
  expect(eventIdOf(record.event_id, "audit.record")).not.toBe(eventIdOf(record.event_id, "agent.registered"));
  expect(eventIdOf(record.event_id, "audit.record")).toMatch(
    /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
});
