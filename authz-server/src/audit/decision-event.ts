import { UNKNOWN_TENANT, type AuditEventInput } from "../../../lib/src/audit/event.js";
import type { CheckRequest } from "../../../lib/src/envoy/services.js";
import { redactUrl } from "../../../lib/src/redact-url.js";
import type { DecisionRecord } from "../authorizer.js";

/**
 * One authorization decision as an audit event (action `authz.decision`): who asked (agent SPIFFE ID,
 * registry id, tenant, user and delegation), what for (destination, method, path with secret query
 * values redacted, model, MCP method) and the verdict with its reason and decision id. Pure.
 *
 * A refusal before the facts were known (an unverifiable certificate, a malformed request) has no
 * policy input: its path and method come from the CheckRequest and the principal Envoy reported is
 * kept as `details.presented_identity` (not verified, hence not `agent_spiffe_id`).
 */
export const DECISION_ACTION = "authz.decision";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TENANT_SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Paths and policy reasons are bounded by Envoy, not by us: keep a row within the audit limits. */
const clip = (value: string, max: number): string =>
  value.length <= max ? value : `${value.slice(0, max - 1)}…`;

const tenantOr = (tenant: string | null | undefined): string =>
  tenant && TENANT_SLUG.test(tenant) ? tenant : UNKNOWN_TENANT;

export function decisionAuditEvent(record: DecisionRecord, check: CheckRequest): AuditEventInput {
  const http = check.attributes?.request?.http;
  const common = {
    occurred_at: new Date(),
    source: "authz-server" as const,
    action: DECISION_ACTION,
    decision: record.allow ? ("allow" as const) : ("deny" as const),
    reason: clip(record.reason, 2048),
    decision_id: record.decision_id,
    latency_ms: record.eval_ns / 1e6,
  };
  const request = {
    status: record.status,
    method: (http?.method ?? "").toUpperCase(),
    path: clip(redactUrl(http?.path ?? ""), 4096),
    policy_revision: record.policy_revision,
    ...(record.dry_run ? { dry_run: true } : {}),
  };
  const input = record.input;
  if (!input) {
    const presented = check.attributes?.source?.principal ?? "";
    return {
      ...common,
      tenant: UNKNOWN_TENANT,
      request_id: http?.id || null,
      resource_type: check.attributes?.contextExtensions?.kind || null,
      resource_id: check.attributes?.contextExtensions?.service || null,
      details: { ...request, ...(presented ? { presented_identity: presented } : {}) },
    };
  }
  const { agent, delegation } = input;
  const spiffeId = input.source.spiffe_id;
  return {
    ...common,
    tenant: tenantOr(agent?.tenant ?? (delegation.valid ? delegation.user?.tenant : null)),
    actor: spiffeId,
    agent_id: agent && UUID.test(agent.id) ? agent.id : null,
    agent_spiffe_id: spiffeId,
    user_id: delegation.valid ? (delegation.user?.id ?? null) : null,
    delegation_id: delegation.valid ? delegation.id : null,
    request_id: input.request.id || null,
    resource_type: input.destination.kind,
    resource_id: input.destination.service,
    upstream: input.request.host || input.destination.service,
    model: input.llm?.model ?? null,
    details: {
      ...request,
      kya: input.kya.status,
      ...(agent && !UUID.test(agent.id) ? { agent_ref: agent.id } : {}),
      ...(delegation.present
        ? {
            delegation: {
              valid: delegation.valid,
              error: delegation.error,
              // A refused delegation still says whose it claimed to be; never the token itself.
              ...(delegation.valid ? {} : { claimed_user: delegation.user?.id ?? null }),
            },
          }
        : {}),
      ...(input.mcp ? { mcp: { method: input.mcp.method, tool: input.mcp.tool } } : {}),
    },
  };
}
