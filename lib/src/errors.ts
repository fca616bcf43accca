/**
 * Every failure an agent can see is one of these codes. The code decides the HTTP status and the
 * JSON body `{ "error": { "code", "message", "decision_id" } }` of the architecture brief; the
 * mapping lives here and nowhere else.
 */
export const ERROR_STATUS = {
  unauthenticated: 401,
  payment_required: 402,
  /** An LLM spending budget is used up for its period (extproc-server). */
  budget_exceeded: 402,
  forbidden: 403,
  /** A SaaS call acting for a user without a valid delegation (extproc-server, docs/oauth-connections.md). */
  delegation_required: 403,
  /** The delegation's scopes do not cover this call (a write with a read-only delegation). */
  delegation_scope_insufficient: 403,
  /** The user has not connected an account of the destination service. */
  account_not_connected: 409,
  /** The provider refused the stored grant: the user must connect the account again. */
  reconsent_required: 409,
  not_found: 404,
  conflict: 409,
  bad_request: 400,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  upstream_unavailable: 502,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class WardenError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, status?: number) {
    super(message);
    this.name = "WardenError";
    this.code = code;
    this.status = status ?? ERROR_STATUS[code];
  }
}

export interface ErrorBody {
  error: { code: string; message: string; decision_id: string | null };
}

export function errorBody(code: string, message: string, decisionId: string | null): ErrorBody {
  return { error: { code, message, decision_id: decisionId } };
}

/** Maps an HTTP status to the error code an agent sees when only the status is known. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthenticated";
    case 402:
      return "payment_required";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 429:
      return "rate_limited";
    case 502:
      return "upstream_unavailable";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "forbidden";
  }
}
