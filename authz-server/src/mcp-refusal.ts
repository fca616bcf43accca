import type { ICheckResponse } from "../../lib/src/envoy/services.js";
import { jsonRpcErrorBody, type JsonRpcId } from "../../lib/src/llm/error-shapes.js";
import { JSONRPC_ERRORS } from "../../lib/src/mcp/protocol.js";
import { refusalResponse } from "./check-response.js";

/**
 * Refusals on MCP routes, as JSON-RPC errors (team decision 3): `error.data` = {reason, decision_id,
 * ...details}. A policy refusal (403) of a request that has an id is an HTTP 200 with code -32050,
 * so the official SDKs raise their usual JSON-RPC error; everything else keeps its HTTP status (a
 * refused notification, GET or DELETE too), with id null when there is none.
 */
export interface McpRefusal {
  status: number;
  reason: string;
  message: string;
  /** What the refusal is about, from the policy's denial metadata (see DETAIL_KEYS). */
  details: Record<string, unknown>;
  /** Overrides the code the status implies (e.g. -32020 for a header mismatch). */
  jsonRpcCode?: number;
}

/** Denial metadata the agent may read in `error.data`; the rest (identity context) stays in audit. */
const DETAIL_KEYS = [
  "mcp_kind",
  "name",
  "mcp_rule",
  "required_scopes",
  "missing_scopes",
  "required_kya_level",
  "kya_level",
  "capability",
  "delegation_error",
] as const;

export function refusalDetails(metadata: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  for (const key of DETAIL_KEYS) if (metadata[key] !== undefined) details[key] = metadata[key];
  return details;
}

function codeOf(refusal: McpRefusal): number {
  if (refusal.jsonRpcCode !== undefined) return refusal.jsonRpcCode;
  return refusal.status === 400 ? JSONRPC_ERRORS.INVALID_REQUEST : JSONRPC_ERRORS.WARDEN_DENIED;
}

function errorOf(refusal: McpRefusal, id: JsonRpcId, decisionId: string) {
  return jsonRpcErrorBody(id, codeOf(refusal), refusal.message, {
    reason: refusal.reason,
    decision_id: decisionId,
    ...refusal.details,
  });
}

/** The HTTP status a refusal is answered with: 200 for a policy refusal of a request with an id. */
export function mcpHttpStatus(refusal: McpRefusal, id: JsonRpcId): number {
  return refusal.status === 403 && id !== null ? 200 : refusal.status;
}

/** `id`: the refused request's id; null for a notification, a response, GET and DELETE. */
export function mcpRefusalResponse(refusal: McpRefusal, id: JsonRpcId, decisionId: string): ICheckResponse {
  return refusalResponse(
    mcpHttpStatus(refusal, id),
    refusal.reason,
    JSON.stringify(errorOf(refusal, id, decisionId)),
    decisionId,
  );
}

/**
 * A refused batch: one error per request of the batch (a batch's answer holds answers to its
 * requests only), each with its own reason. HTTP 200 when every refusal is a policy refusal (403),
 * else the first other status. A batch without requests answers one error with id null.
 */
export function mcpBatchRefusalResponse(
  entries: readonly { refusal: McpRefusal; id: JsonRpcId }[],
  decisionId: string,
): ICheckResponse {
  const answered = entries.filter((entry) => entry.id !== null);
  const first = entries[0];
  if (answered.length === 0 || !first) {
    const refusal = first?.refusal ?? {
      status: 403,
      reason: "mcp_batch_refused",
      message: "the batch was refused",
      details: {},
    };
    return mcpRefusalResponse(refusal, null, decisionId);
  }
  const other = entries.find((entry) => entry.refusal.status !== 403);
  const status = other ? other.refusal.status : 200;
  const body = answered.map(({ refusal, id }) => errorOf(refusal, id, decisionId));
  return refusalResponse(status, (other ?? first).refusal.reason, JSON.stringify(body), decisionId);
}

/** A call held for approval: HTTP 200, code -32051, with where a person approves it. */
export function approvalHeldResponse(
  id: JsonRpcId,
  decisionId: string,
  message: string,
  held: { approvalId: string; url: string; expiresAt: string },
): ICheckResponse {
  const body = jsonRpcErrorBody(id, JSONRPC_ERRORS.APPROVAL_REQUIRED, message, {
    reason: "approval_required",
    decision_id: decisionId,
    approval_id: held.approvalId,
    approval_url: held.url,
    expires_at: held.expiresAt,
  });
  return refusalResponse(200, "approval_required", JSON.stringify(body), decisionId);
}
