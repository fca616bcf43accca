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

/*
 * Built field by field, without object spreads: this runs once per decision, and the spread version
 * measured ~15 µs per call against ~0.3 µs for this one (V8 takes a slow path for spreads of
 * conditionally built objects).
 */
export function decisionAuditEvent(record: DecisionRecord, check: CheckRequest): AuditEventInput {
  const http = check.attributes?.request?.http;
  const details: Record<string, unknown> = {
    status: record.status,
    method: (http?.method ?? "").toUpperCase(),
    path: clip(redactUrl(http?.path ?? ""), 4096),
    policy_revision: record.policy_revision,
  };
  if (record.dry_run) details.dry_run = true;
  const event: AuditEventInput = {
    tenant: UNKNOWN_TENANT,
    occurred_at: new Date(),
    source: "authz-server",
    action: DECISION_ACTION,
    actor: null,
    agent_id: null,
    agent_spiffe_id: null,
    user_id: null,
    delegation_id: null,
    decision: record.allow ? "allow" : "deny",
    reason: clip(record.reason, 2048),
    decision_id: record.decision_id,
    request_id: http?.id || null,
    resource_type: null,
    resource_id: null,
    upstream: null,
    model: null,
    latency_ms: record.eval_ns / 1e6,
    details,
  };
  const input = record.input;
  if (!input) {
    const presented = check.attributes?.source?.principal ?? "";
    if (presented) details.presented_identity = presented;
    event.resource_type = check.attributes?.contextExtensions?.kind || null;
    event.resource_id = check.attributes?.contextExtensions?.service || null;
    return event;
  }
  const { agent, delegation } = input;
  const spiffeId = input.source.spiffe_id;
  event.tenant = tenantOr(agent?.tenant ?? (delegation.valid ? delegation.user?.tenant : null));
  event.actor = spiffeId;
  event.agent_spiffe_id = spiffeId;
  // The audit column holds registry ids (uuids); any other agent id stays in the details.
  if (agent && UUID.test(agent.id)) event.agent_id = agent.id;
  else if (agent) details.agent_ref = agent.id;
  if (delegation.valid) {
    event.user_id = delegation.user?.id ?? null;
    event.delegation_id = delegation.id;
  }
  event.request_id = input.request.id || null;
  event.resource_type = input.destination.kind;
  event.resource_id = input.destination.service;
  event.upstream = input.request.host || input.destination.service;
  event.model = input.llm?.model ?? null;
  details.kya = input.kya.status;
  if (delegation.present) {
    // A refused delegation still says whose it claimed to be; never the token itself.
    details.delegation = delegation.valid
      ? { valid: true, error: null }
      : { valid: false, error: delegation.error, claimed_user: delegation.user?.id ?? null };
  }
  if (input.mcp)
    details.mcp = {
      method: input.mcp.method,
      name: input.mcp.name,
      arguments_digest: input.mcp.arguments_digest,
      kind: input.mcp.kind,
    };
  return event;
}
