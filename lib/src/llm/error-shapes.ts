import { errorBody, namesOfStatus } from "../errors.js";

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
 */
export type ErrorDialect = "warden" | "openai" | "anthropic" | "google";

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
