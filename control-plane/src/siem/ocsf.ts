import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { AUTHENTICATION_FAILURES } from "../audit/identity-reasons.js";

/**
 * Audit rows as OCSF events (Open Cybersecurity Schema Framework 1.3), for SIEMs that read OCSF
 * (Amazon Security Lake, Splunk, Sentinel...). Two classes:
 *
 * - Authentication (3002, category 3 Identity & Access Management): a caller proving who it is, or
 *   failing to: tokens issued or exchanged by the token service, refusals of an unknown or
 *   unverifiable identity (data plane and API).
 * - API Activity (6003, category 6 Application Activity): everything else: control-plane changes
 *   (create, update, delete) and data-plane decisions (other).
 *
 * Pure. Fields OCSF has no place for are kept under `unmapped.warden`, so nothing of the row is lost.
 */
export const OCSF_VERSION = "1.3.0";
const PRODUCT = { name: "Agent Warden", vendor_name: "Agent Warden", version: "0.1.0" };

export const AUTHENTICATION = {
  class_uid: 3002,
  class_name: "Authentication",
  category_uid: 3,
  category_name: "Identity & Access Management",
} as const;
export const API_ACTIVITY = {
  class_uid: 6003,
  class_name: "API Activity",
  category_uid: 6,
  category_name: "Application Activity",
} as const;

const TOKEN_ISSUANCE = new Set(["oauth.token_issued", "oauth.token_exchanged", "mcp.token_minted"]);

type Json = Record<string, unknown>;

function isAuthentication(record: AuditRecord): boolean {
  if (TOKEN_ISSUANCE.has(record.action)) return true;
  return record.decision === "deny" && AUTHENTICATION_FAILURES.has(record.reason ?? "");
}

/** API Activity's activity from the action's verb: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other. */
export function apiActivityOf(action: string): { id: number; name: string } {
  const verb = action.slice(action.lastIndexOf(".") + 1);
  if (/^(created|registered|granted|submitted|subscribed|minted|connected|requested)$/.test(verb))
    return { id: 1, name: "Create" };
  if (/^(read|listed|accessed)$/.test(verb)) return { id: 2, name: "Read" };
  if (/^(updated|approved|rejected|reactivated|suspended|superseded|used|disabled)$/.test(verb))
    return { id: 3, name: "Update" };
  if (
    /^(revoked|archived|deleted|removed|disconnected|expired)$/.test(verb) ||
    verb.startsWith("revoked_by_")
  )
    return { id: 4, name: "Delete" };
  return { id: 99, name: "Other" };
}

function status(record: AuditRecord): Json {
  if (record.decision === "deny")
    return { status_id: 2, status: "Failure", ...(record.reason ? { status_detail: record.reason } : {}) };
  if (record.decision === "allow") return { status_id: 1, status: "Success" };
  // Control-plane actions are recorded once they are done.
  return record.source === "control-plane" || record.source === "cli"
    ? { status_id: 1, status: "Success" }
    : { status_id: 0, status: "Unknown" };
}

/** Informational, or Medium for a refusal. */
function severity(record: AuditRecord): Json {
  return record.decision === "deny"
    ? { severity_id: 3, severity: "Medium" }
    : { severity_id: 1, severity: "Informational" };
}

function who(record: AuditRecord): Json {
  const uid = record.actor ?? record.agent_spiffe_id ?? record.user_id ?? "unknown";
  return {
    uid,
    name: uid,
    type_id: record.agent_spiffe_id !== null && uid === record.agent_spiffe_id ? 3 : 99,
    type: record.agent_spiffe_id !== null && uid === record.agent_spiffe_id ? "System" : "Other",
  };
}

function remoteAddress(record: AuditRecord): string | undefined {
  const value = record.details.remote_address;
  return typeof value === "string" ? value : undefined;
}

function metadata(record: AuditRecord): Json {
  return {
    version: OCSF_VERSION,
    product: PRODUCT,
    uid: record.event_id,
    sequence: record.chain_seq,
    tenant_uid: record.tenant,
    logged_time: Date.parse(record.recorded_at),
    ...(record.decision_id ? { correlation_uid: record.decision_id } : {}),
    labels: [record.action],
  };
}

function unmapped(record: AuditRecord): Json {
  return {
    warden: {
      action: record.action,
      source: record.source,
      agent_id: record.agent_id,
      agent_spiffe_id: record.agent_spiffe_id,
      user_id: record.user_id,
      delegation_id: record.delegation_id,
      resource_type: record.resource_type,
      resource_id: record.resource_id,
      upstream: record.upstream,
      model: record.model,
      tokens_in: record.tokens_in,
      tokens_out: record.tokens_out,
      cost_micros: record.cost_micros,
      latency_ms: record.latency_ms,
      details: record.details,
      hash: record.hash,
    },
  };
}

export function toOcsf(record: AuditRecord): Json {
  const time = Date.parse(record.occurred_at);
  const common = {
    time,
    ...severity(record),
    ...status(record),
    message: record.action,
    metadata: metadata(record),
  };
  const address = remoteAddress(record);
  if (isAuthentication(record)) {
    const failed = record.decision === "deny";
    const activity =
      failed || TOKEN_ISSUANCE.has(record.action) ? { id: 1, name: "Logon" } : { id: 99, name: "Other" };
    return {
      ...AUTHENTICATION,
      activity_id: activity.id,
      activity_name: activity.name,
      type_uid: AUTHENTICATION.class_uid * 100 + activity.id,
      type_name: `Authentication: ${activity.name}`,
      ...common,
      user: who(record),
      auth_protocol_id: 99,
      auth_protocol:
        record.agent_spiffe_id || record.source === "authz-server" ? "SPIFFE X.509-SVID" : "OAuth 2.0 / OIDC",
      service: { name: record.source },
      ...(record.upstream ? { dst_endpoint: { hostname: record.upstream } } : {}),
      src_endpoint: address ? { ip: address } : { name: record.agent_spiffe_id ?? record.source },
      unmapped: unmapped(record),
    };
  }
  const activity = apiActivityOf(record.action);
  return {
    ...API_ACTIVITY,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: API_ACTIVITY.class_uid * 100 + activity.id,
    type_name: `API Activity: ${activity.name}`,
    ...common,
    actor: { user: who(record), app_name: record.source },
    api: {
      operation: record.action,
      service: { name: record.source },
      ...(record.request_id ? { request: { uid: record.request_id } } : {}),
    },
    // OCSF requires `cloud` in API Activity; Warden runs wherever it is deployed, so it names itself.
    cloud: { provider: "Agent Warden" },
    src_endpoint: address ? { ip: address } : { name: record.agent_spiffe_id ?? record.source },
    ...(record.upstream ? { dst_endpoint: { hostname: record.upstream } } : {}),
    ...(record.resource_id
      ? { resources: [{ uid: record.resource_id, type: record.resource_type ?? "unknown" }] }
      : {}),
    unmapped: unmapped(record),
  };
}
