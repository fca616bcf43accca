import { wardenError, WardenError } from "./errors.js";

/**
 * Reading a denial in every shape Warden answers with: its own `{error: {code, message, decision_id}}`,
 * the provider's error shape on LLM routes (OpenAI, Anthropic, Google AI: lib/src/llm/error-shapes.ts)
 * JSON-RPC errors on MCP routes (`error.data.reason`, `error.data.decision_id`), and the token
 * service's OAuth errors (`{error, error_description}`). Pure functions.
 */
export const DECISION_ID_HEADER = "x-warden-decision-id";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const text = (value: unknown): string | null =>
  typeof value === "string" && value.length > 0 ? value : null;

export interface DenialFacts {
  reason: string | null;
  message: string | null;
  decisionId: string | null;
  jsonRpcCode?: number;
  details?: Json;
}

/** The reason, message and decision id a parsed error body carries, whatever its shape. */
export function denialFacts(body: unknown): DenialFacts {
  if (!isObject(body)) return { reason: null, message: null, decisionId: null };
  const error = body["error"];
  // OAuth 2.0 (the token service): `{ "error": "<code>", "error_description" }`.
  if (typeof error === "string")
    return { reason: text(error), message: text(body["error_description"]), decisionId: null };
  if (!isObject(error)) return { reason: null, message: null, decisionId: null };
  if (typeof error["code"] === "number" && body["jsonrpc"] === "2.0") return jsonRpcFacts(error);
  if (Array.isArray(error["details"])) {
    // Google AI: google.rpc.Status with an ErrorInfo detail.
    const info = error["details"].find(isObject) ?? {};
    const metadata = isObject(info["metadata"]) ? info["metadata"] : {};
    return {
      reason: text(info["reason"]),
      message: text(error["message"]),
      decisionId: text(metadata["decision_id"]),
    };
  }
  return {
    reason: text(error["code"]),
    message: text(error["message"]),
    decisionId: text(error["decision_id"]),
  };
}

/** A JSON-RPC error object (`{code, message, data}`) as Warden builds it on MCP routes. */
export function jsonRpcFacts(error: Json): DenialFacts {
  const data = isObject(error["data"]) ? error["data"] : {};
  const { reason, decision_id: decisionId, ...details } = data;
  return {
    reason: text(reason),
    message: text(error["message"]),
    decisionId: text(decisionId),
    ...(typeof error["code"] === "number" ? { jsonRpcCode: error["code"] } : {}),
    details: { ...details },
  };
}

/** Seconds to wait from a Retry-After value (delta-seconds or an HTTP date), null when absent or unreadable. */
export function retryAfterSeconds(value: string | null | undefined, now = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

function parseJson(bodyText: string): unknown {
  try {
    return JSON.parse(bodyText) as unknown;
  } catch {
    return null;
  }
}

/** The typed error of an HTTP answer with an error status (or an HTTP 200 JSON-RPC error). */
export function errorFromHttp(status: number, headers: Headers, bodyText: string): WardenError {
  const facts = denialFacts(parseJson(bodyText));
  return wardenError(
    {
      status,
      reason: facts.reason,
      decisionId: facts.decisionId ?? headers.get(DECISION_ID_HEADER),
      message: facts.message ?? (bodyText.slice(0, 200) || `HTTP ${status}`),
      retryAfterS: retryAfterSeconds(headers.get("retry-after")),
      ...(facts.details ? { details: facts.details } : {}),
    },
    facts.jsonRpcCode,
  );
}

/**
 * The typed error behind an error an official client raised: OpenAI's and Anthropic's APIError
 * (`status`, `error` = the parsed body or its `error` member, `headers`), the MCP SDK's McpError
 * (`code`, `data`), or a WardenError already. Null when the error carries no HTTP or JSON-RPC answer.
 */
export function toWardenError(error: unknown): WardenError | null {
  if (error instanceof WardenError) return error;
  if (!isObject(error)) return null;
  const headers = headersOf(error["headers"]);
  if (typeof error["status"] === "number") {
    const raw = error["error"];
    // OpenAI's SDK keeps `body.error`; Anthropic's keeps the whole body.
    const body = isObject(raw) && !("error" in raw) ? { error: raw } : raw;
    const facts = denialFacts(body);
    return wardenError({
      status: error["status"],
      reason: facts.reason,
      decisionId: facts.decisionId ?? headers.get(DECISION_ID_HEADER),
      message: facts.message ?? String(error["message"] ?? `HTTP ${error["status"]}`),
      retryAfterS: retryAfterSeconds(headers.get("retry-after")),
    });
  }
  if (typeof error["code"] === "number") {
    const facts = jsonRpcFacts(error);
    const status = typeof facts.details?.["status"] === "number" ? facts.details["status"] : 200;
    return wardenError(
      {
        status,
        reason: facts.reason,
        decisionId: facts.decisionId,
        message: facts.message ?? "JSON-RPC error",
        ...(facts.details ? { details: facts.details } : {}),
      },
      facts.jsonRpcCode,
    );
  }
  return null;
}

function headersOf(value: unknown): Headers {
  if (value instanceof Headers) return value;
  const headers = new Headers();
  if (isObject(value)) {
    for (const [name, v] of Object.entries(value)) if (typeof v === "string") headers.set(name, v);
  }
  return headers;
}
