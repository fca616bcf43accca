import { headerOption } from "../../../lib/src/envoy/headers.js";
import type { IProcessingResponse } from "../../../lib/src/envoy/services.js";
import { WardenError, type ErrorCode } from "../../../lib/src/errors.js";
import { jsonRpcErrorBody, type JsonRpcId } from "../../../lib/src/llm/error-shapes.js";
import { JSONRPC_ERRORS } from "../../../lib/src/mcp/protocol.js";
import type { AgentError } from "../processing-responses.js";
import { DECISION_ID_HEADER } from "../request-headers.js";

export type { JsonRpcId };

/** A refusal on an MCP route that knows the id of the request it answers. */
export class McpRefusal extends WardenError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly rpcId: JsonRpcId,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(code, message);
    this.name = "McpRefusal";
  }
}

const JSON_CONTENT_TYPE = headerOption("content-type", "application/json");

/**
 * The agent's answer when extproc-server refuses an MCP call: a JSON-RPC error object echoing the
 * request's id, `error.data = {reason, decision_id, ...details}` (the team's MCP error shape). A
 * refusal of a request with an id (403) is HTTP 200 with code WARDEN_DENIED, so the official SDKs
 * raise their usual McpError; everything else keeps its HTTP status (409 no connected account,
 * 5xx) with WARDEN_DENIED (INVALID_REQUEST for a 400), as authz-server answers (mcp-refusal.ts).
 */
export function mcpErrorResponse(
  error: AgentError,
  decisionId: string,
  rpcId: JsonRpcId,
  details: Readonly<Record<string, unknown>> = {},
): IProcessingResponse {
  const httpStatus = error.status === 403 && rpcId !== null ? 200 : error.status;
  const code = error.status === 400 ? JSONRPC_ERRORS.INVALID_REQUEST : JSONRPC_ERRORS.WARDEN_DENIED;
  const body = jsonRpcErrorBody(rpcId, code, error.message, {
    reason: error.code,
    decision_id: decisionId,
    ...details,
  });
  return {
    immediateResponse: {
      status: { code: httpStatus },
      headers: { setHeaders: [JSON_CONTENT_TYPE, headerOption(DECISION_ID_HEADER, decisionId)] },
      body: Buffer.from(JSON.stringify(body), "utf8"),
      details: `warden_${error.code}`,
    },
  };
}

/** The id of a JSON-RPC request body, or null (a batch, a notification, unreadable JSON). */
export function requestIdOf(message: unknown): JsonRpcId {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return null;
  const id = (message as Record<string, unknown>).id;
  return typeof id === "string" || typeof id === "number" ? id : null;
}
