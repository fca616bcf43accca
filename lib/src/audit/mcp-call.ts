import type { AuditEventInput } from "./event.js";
import { UNKNOWN_TENANT } from "./event.js";

/**
 * The audit event of one MCP call (action `mcp.call`), written by extproc-server once the answer
 * completed or was cut: who called which server's method and tool, with which arguments (their
 * digest; the arguments themselves only when the tool's rule asks, secrets redacted), how it ended
 * and how long it took. Never a token, never the answer.
 */
export const MCP_CALL_ACTION = "mcp.call";

/** How a call ended, as the agent saw it. */
export type McpCallOutcome =
  | { readonly kind: "ok" }
  /** The server answered a JSON-RPC error object. */
  | { readonly kind: "jsonrpc_error"; readonly code: number | null }
  /** A tool result with `isError: true`. */
  | { readonly kind: "tool_error" }
  /** The upstream answered an HTTP error status with no JSON-RPC answer Warden could read. */
  | { readonly kind: "upstream_status"; readonly status: number }
  /** Warden refused the call after authorization (e.g. no account connected); nothing went upstream. */
  | { readonly kind: "refused"; readonly reason: string }
  /** The answer did not complete (the upstream or the agent left). */
  | { readonly kind: "cut" };

export interface McpCallRecord {
  readonly tenant: string | null;
  readonly agentId: string | null;
  readonly agentSpiffeId: string | null;
  readonly userId: string | null;
  readonly delegationId: string | null;
  readonly decisionId: string;
  readonly server: string;
  readonly method: string | null;
  readonly name: string | null;
  readonly argumentsDigest: string | null;
  readonly protocolVersion: string | null;
  /** Present only when the tool's rule sets audit_arguments; already redacted. */
  readonly arguments?: unknown;
  readonly outcome: McpCallOutcome;
  /** The HTTP status the agent got (null when no answer started). */
  readonly httpStatus: number | null;
  readonly latencyMs: number;
  /** The external service whose user token was injected, if any. */
  readonly upstreamCredentialsService: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function outcomeReason(outcome: McpCallOutcome): string | null {
  switch (outcome.kind) {
    case "ok":
      return null;
    case "jsonrpc_error":
      return `jsonrpc_error ${outcome.code ?? "unknown"}`;
    case "upstream_status":
      return `upstream_status ${outcome.status}`;
    case "refused":
      return `refused ${outcome.reason}`;
    default:
      return outcome.kind;
  }
}

export function mcpCallAuditEvent(record: McpCallRecord): AuditEventInput {
  return {
    tenant: record.tenant ?? UNKNOWN_TENANT,
    source: "extproc-server",
    action: MCP_CALL_ACTION,
    actor: record.agentSpiffeId,
    agent_id: record.agentId && UUID.test(record.agentId) ? record.agentId : null,
    agent_spiffe_id: record.agentSpiffeId,
    user_id: record.userId,
    delegation_id: record.delegationId,
    decision: record.outcome.kind === "refused" ? "deny" : "allow",
    decision_id: record.decisionId,
    reason: outcomeReason(record.outcome),
    resource_type: "mcp_server",
    resource_id: record.server,
    upstream: record.server,
    latency_ms: record.latencyMs,
    details: {
      server: record.server,
      method: record.method,
      name: record.name,
      arguments_digest: record.argumentsDigest,
      protocol_version: record.protocolVersion,
      outcome: record.outcome,
      http_status: record.httpStatus,
      upstream_credentials: record.upstreamCredentialsService,
      ...(record.arguments !== undefined ? { arguments: record.arguments } : {}),
    },
  };
}
