import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { IDENTITY_FAILURES } from "../audit/identity-reasons.js";

/**
 * Which audit rows are which lifecycle events. Pure: the dispatcher hands every audit row of a
 * tenant to `eventTypesOf` and creates one delivery per subscription that asked for a returned type.
 * `audit.record` is every row (the SIEM push).
 */
export const EVENT_TYPES = [
  "agent.registered",
  "agent.updated",
  "agent.suspended",
  "agent.reactivated",
  "agent.revoked",
  "mcp_server.registered",
  "mcp_server.updated",
  "mcp_server.revoked",
  "kya.submitted",
  "kya.approved",
  "kya.rejected",
  "kya.revoked",
  "delegation.granted",
  "delegation.revoked",
  "delegation.expired",
  "budget.exceeded",
  "budget.near_limit",
  "approval.requested",
  "approval.approved",
  "approval.rejected",
  "approval.used",
  "approval.expired",
  "security.identity_failure",
  "security.access_denied",
  "security.api_refused",
  "security.revoke_all",
  "audit.record",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Audit actions that are one event each, whatever their decision. */
const BY_ACTION: Readonly<Record<string, EventType>> = {
  "agent.created": "agent.registered",
  "agent.updated": "agent.updated",
  "agent.suspended": "agent.suspended",
  "agent.reactivated": "agent.reactivated",
  "agent.archived": "agent.revoked",
  "agent.revoked": "agent.revoked",
  "mcp_server.created": "mcp_server.registered",
  "mcp_server.updated": "mcp_server.updated",
  "mcp_server.archived": "mcp_server.revoked",
  "mcp_server.revoked": "mcp_server.revoked",
  "kya.submitted": "kya.submitted",
  "kya.approved": "kya.approved",
  "kya.rejected": "kya.rejected",
  "kya.revoked": "kya.revoked",
  "delegation.granted": "delegation.granted",
  "delegation.revoked": "delegation.revoked",
  "llm_budget.soft_limit_reached": "budget.near_limit",
  "mcp.approval.requested": "approval.requested",
  "mcp.approval.approved": "approval.approved",
  "mcp.approval.rejected": "approval.rejected",
  "mcp.approval.used": "approval.used",
  "mcp.approval.expired": "approval.expired",
  "api.request_refused": "security.api_refused",
};

const DATA_PLANE_DECISIONS = new Set(["authz.decision", "mcp.call", "llm.request"]);

export function eventTypesOf(record: Pick<AuditRecord, "action" | "decision" | "reason">): EventType[] {
  const types: EventType[] = [];
  const direct = BY_ACTION[record.action];
  if (direct) types.push(direct);
  // Revoking every delegation of an agent or a user at once (`delegations.revoked_by_agent|user`).
  if (record.action.startsWith("delegations.revoked_by_")) types.push("security.revoke_all");
  if (DATA_PLANE_DECISIONS.has(record.action) && record.decision === "deny") {
    const reason = record.reason ?? "";
    if (reason === "budget_exceeded") types.push("budget.exceeded");
    else if (reason === "delegation_expired") types.push("delegation.expired");
    if (IDENTITY_FAILURES.has(reason)) types.push("security.identity_failure");
    types.push("security.access_denied");
  }
  types.push("audit.record");
  return types;
}

/** The body of one event as a receiver gets it. `data` is the audit row (audit rows hold no secrets). */
export interface WebhookEvent {
  id: string;
  type: EventType | "webhook.test";
  tenant: string;
  occurred_at: string;
  /** The tenant's audit chain position of the row; null for a test event. */
  sequence: number | null;
  data: Record<string, unknown>;
}

/** The audit row as events carry it: the same fields as the NDJSON export. */
export function eventData(record: AuditRecord): Record<string, unknown> {
  return { ...record };
}
