import type { FastifyRequest } from "fastify";
import { normalizeAuditEvent, type AuditEventInput } from "../../../lib/src/audit/event.js";
import { appendAuditEntries } from "../../../lib/src/audit/store.js";
import type { Queryable } from "../../../lib/src/db/types.js";
import { principalOf } from "../http/routes.js";

/**
 * Control-plane actions are audited in the same transaction as the change itself: either both are
 * stored or neither is.
 */
export interface ActionRecord {
  tenant: string;
  action: string;
  agentId?: string | null;
  agentSpiffeId?: string | null;
  userId?: string | null;
  delegationId?: string | null;
  resourceType: string;
  resourceId: string;
  reason?: string | null;
  details?: Record<string, unknown>;
}

/** Records what the request's principal did; the request id ties the audit row to the request log. */
export async function recordAction(
  tx: Queryable,
  request: FastifyRequest,
  record: ActionRecord,
  now: Date,
): Promise<void> {
  const event: AuditEventInput = {
    tenant: record.tenant,
    occurred_at: now,
    source: "control-plane",
    action: record.action,
    actor: principalOf(request).subject,
    agent_id: record.agentId ?? null,
    agent_spiffe_id: record.agentSpiffeId ?? null,
    user_id: record.userId ?? null,
    delegation_id: record.delegationId ?? null,
    request_id: String(request.id),
    resource_type: record.resourceType,
    resource_id: record.resourceId,
    reason: record.reason ?? null,
    details: record.details ?? {},
  };
  await appendAuditEntries(tx, [normalizeAuditEvent(event)], now);
}
