import { errorBody, namesOfStatus } from "../errors.js";
import { JSONRPC_ERRORS } from "../mcp/protocol.js";

/**
 * The body of an error Warden answers in place of a provider. On LLM routes it takes the provider's
 * own error shape, so the agent's official SDK raises its usual error class with `type` and `code`
 * filled; everywhere else it is Warden's `{ "error": { code, message, decision_id } }`. Either way the
 * body carries Warden's reason code and the decision id (also in the `x-warden-decision-id` header).
 *
 * - OpenAI (and Azure OpenAI): `{ "error": { message, type, param, code } }`
 *   (https://platform.openai.com/docs/guides/error-codes)
 * - Anthropic: `{ "type": "error", "error": { type, message } }` (https://docs.anthropic.com/en/api/errors)
 * - Google AI: `{ "error": { code, message, status, details } }` (google.rpc.Status, AIP-193), the
 *   reason code in an `ErrorInfo` detail.
 * - MCP (JSON-RPC 2.0): `{ "jsonrpc": "2.0", "id": null, "error": { code, message, data: { reason,
 *   decision_id } } }`. An error that answers one request echoes its id: authz-server builds those
 *   with jsonRpcErrorBody (and answers a refused request with HTTP 200, so the SDKs raise their usual
 *   JSON-RPC error); this body is for errors that answer no particular request.
 */
export type ErrorDialect = "warden" | "openai" | "anthropic" | "google" | "jsonrpc";

export type JsonRpcId = string | number | null;

/** A JSON-RPC error response; `data` carries Warden's reason and decision id (and any details). */
export function jsonRpcErrorBody(
  id: JsonRpcId,
  code: number,
  message: string,
  data: Readonly<Record<string, unknown>>,
): {
  jsonrpc: "2.0";
  id: JsonRpcId;
  error: { code: number; message: string; data: Record<string, unknown> };
} {
  return { jsonrpc: "2.0", id, error: { code, message, data: { ...data } } };
}

/** The JSON-RPC code of a refusal that answers no request: invalid request for a 400, else Warden's. */
function jsonRpcCodeOfStatus(status: number): number {
  return status === 400 ? JSONRPC_ERRORS.INVALID_REQUEST : JSONRPC_ERRORS.WARDEN_DENIED;
}

const DIALECT_OF_SERVICE: Readonly<Record<string, ErrorDialect>> = {
  openai: "openai",
  "azure-openai": "openai",
  anthropic: "anthropic",
  "google-ai": "google",
};

/** The dialect of a route, from the destination Envoy names (never from the agent). */
export function errorDialectOf(
  service: string | null | undefined,
  kind: string | null | undefined,
): ErrorDialect {
  if (kind === "mcp") return "jsonrpc";
  if (kind !== "llm" || !service) return "warden";
  return DIALECT_OF_SERVICE[service] ?? "openai";
}

export function agentErrorBody(
  dialect: ErrorDialect,
  status: number,
  code: string,
  message: string,
  decisionId: string | null,
): unknown {
  switch (dialect) {
    case "openai":
      return {
        error: {
          message,
          type: namesOfStatus(status).providerType,
          param: null,
          code,
          decision_id: decisionId,
        },
      };
    case "anthropic":
      return {
        type: "error",
        error: { type: namesOfStatus(status).providerType, message, code, decision_id: decisionId },
      };
    case "google":
      return {
        error: {
          code: status,
          message,
          status: namesOfStatus(status).googleStatus,
          details: [
            {
              "@type": "type.googleapis.com/google.rpc.ErrorInfo",
              reason: code,
              domain: "agent-warden",
              metadata: decisionId === null ? {} : { decision_id: decisionId },
            },
          ],
        },
      };
    case "jsonrpc":
      return jsonRpcErrorBody(null, jsonRpcCodeOfStatus(status), message, {
        reason: code,
        decision_id: decisionId,
      });
    default:
      return errorBody(code, message, decisionId);
  }
}

export function agentErrorJson(
  dialect: ErrorDialect,
  status: number,
  code: string,
  message: string,
  decisionId: string | null,
): string {
  return JSON.stringify(agentErrorBody(dialect, status, code, message, decisionId));
}
