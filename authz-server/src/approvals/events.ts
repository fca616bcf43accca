import { UNKNOWN_TENANT, type AuditEventInput } from "../../../lib/src/audit/event.js";
import type { ApprovalBinding } from "../../../lib/src/mcp/approval.js";
import {
  APPROVAL_ACTIONS,
  APPROVAL_RESOURCE,
  approvalEventDetails,
} from "../../../lib/src/mcp/approval-events.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TENANT_SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * A transition the data plane makes (a call held, an approval used, a lapsed one expired) as an
 * audit event: the agent is the actor, the held or passing call's decision id correlates it with
 * the `authz.decision` row. The arguments are named by their digest only. Pure.
 */
export function approvalAuditEvent(
  transition: "requested" | "used" | "expired",
  binding: ApprovalBinding,
  approvalId: string,
  extra: Record<string, unknown> = {},
): AuditEventInput {
  return {
    tenant: binding.tenant && TENANT_SLUG.test(binding.tenant) ? binding.tenant : UNKNOWN_TENANT,
    occurred_at: new Date(),
    source: "authz-server",
    action: APPROVAL_ACTIONS[transition],
    actor: binding.agentSpiffeId,
    agent_id: binding.agentId !== null && UUID.test(binding.agentId) ? binding.agentId : null,
    agent_spiffe_id: binding.agentSpiffeId,
    user_id: binding.userId,
    delegation_id: binding.delegationId,
    decision: transition === "used" ? "allow" : transition === "requested" ? "deny" : null,
    reason: transition === "requested" ? "approval_required" : null,
    decision_id: binding.decisionId,
    request_id: null,
    resource_type: APPROVAL_RESOURCE,
    resource_id: approvalId,
    upstream: binding.server,
    model: null,
    details: {
      ...approvalEventDetails({
        approvalId,
        server: binding.server,
        method: binding.method,
        name: binding.name,
        argumentsDigest: binding.argumentsDigest,
      }),
      ...extra,
    },
  };
}
