/**
 * Every failure an agent or an API client can see is one of these codes. The code decides the HTTP
 * status and the JSON body `{ "error": { "code", "message", "decision_id" } }` of the architecture
 * brief (the control plane's API answers a subset, with a request id: control-plane/src/http/errors.ts);
 * the mapping lives here and nowhere else.
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
  /** An If-Match that no longer matches (control-plane API). */
  precondition_failed: 412,
  /** A change that must name the version it replaces, and did not (control-plane API). */
  precondition_required: 428,
  unsupported_media_type: 415,
  bad_request: 400,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  upstream_unavailable: 502,
  /** A provider the control plane called answered with an error (control-plane API). */
  bad_gateway: 502,
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

/**
 * What one HTTP status is called in each error vocabulary an agent may read: Warden's own code, the
 * error `type` of Anthropic (whose names OpenAI's SDK also reads), and the google.rpc.Code name
 * (https://cloud.google.com/apis/design/errors#handling_errors). The one status mapping: every error
 * body, Warden's or a provider's shape (llm/error-shapes.ts), takes its names from here.
 */
export interface StatusNames {
  readonly code: ErrorCode;
  readonly providerType: string;
  readonly googleStatus: string;
}

const NAMES_OF_STATUS: ReadonlyMap<number, StatusNames> = new Map([
  [400, { code: "bad_request", providerType: "invalid_request_error", googleStatus: "INVALID_ARGUMENT" }],
  [401, { code: "unauthenticated", providerType: "authentication_error", googleStatus: "UNAUTHENTICATED" }],
  [402, { code: "payment_required", providerType: "billing_error", googleStatus: "RESOURCE_EXHAUSTED" }],
  [403, { code: "forbidden", providerType: "permission_error", googleStatus: "PERMISSION_DENIED" }],
  [404, { code: "not_found", providerType: "not_found_error", googleStatus: "NOT_FOUND" }],
  [409, { code: "conflict", providerType: "invalid_request_error", googleStatus: "FAILED_PRECONDITION" }],
  [413, { code: "payload_too_large", providerType: "request_too_large", googleStatus: "INVALID_ARGUMENT" }],
  [429, { code: "rate_limited", providerType: "rate_limit_error", googleStatus: "RESOURCE_EXHAUSTED" }],
  [502, { code: "upstream_unavailable", providerType: "api_error", googleStatus: "UNAVAILABLE" }],
  [503, { code: "unavailable", providerType: "api_error", googleStatus: "UNAVAILABLE" }],
  [504, { code: "internal", providerType: "api_error", googleStatus: "DEADLINE_EXCEEDED" }],
] satisfies [number, StatusNames][]);

const OTHER_SERVER_ERROR: StatusNames = {
  code: "internal",
  providerType: "api_error",
  googleStatus: "INTERNAL",
};
const OTHER_CLIENT_ERROR: StatusNames = {
  code: "forbidden",
  providerType: "invalid_request_error",
  googleStatus: "FAILED_PRECONDITION",
};

export function namesOfStatus(status: number): StatusNames {
  return NAMES_OF_STATUS.get(status) ?? (status >= 500 ? OTHER_SERVER_ERROR : OTHER_CLIENT_ERROR);
}

/** Maps an HTTP status to the error code an agent sees when only the status is known. */
export function codeForStatus(status: number): ErrorCode {
  return namesOfStatus(status).code;
}
