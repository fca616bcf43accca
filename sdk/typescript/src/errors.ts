import { familyOf, type FamilyName } from "./reasons.js";

/**
 * Warden's denials as typed errors: one class per reason family (sdk/reasons.json), each with the
 * HTTP status, the reason code and the decision id (quote it to an operator: it finds the audit row).
 */
export interface WardenErrorFields {
  status: number;
  reason: string | null;
  decisionId: string | null;
  message: string;
  /** Seconds the server asked to wait (Retry-After), when it said. */
  retryAfterS?: number | null;
  /** Extra fields of a JSON-RPC refusal's `error.data` (e.g. approval details). */
  details?: Readonly<Record<string, unknown>>;
}

export class WardenError extends Error {
  readonly status: number;
  readonly reason: string | null;
  readonly decisionId: string | null;
  readonly retryAfterS: number | null;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(fields: WardenErrorFields) {
    super(fields.message);
    this.name = new.target.name;
    this.status = fields.status;
    this.reason = fields.reason;
    this.decisionId = fields.decisionId;
    this.retryAfterS = fields.retryAfterS ?? null;
    this.details = fields.details ?? {};
  }

  /** snake_case alias, the name the Python SDK uses. */
  get decision_id(): string | null {
    return this.decisionId;
  }
}

export class IdentityError extends WardenError {}
export class AgentStatusError extends WardenError {}
export class KyaError extends WardenError {}
export class DelegationError extends WardenError {}
export class PolicyDeniedError extends WardenError {}
export class BudgetError extends WardenError {}
export class RateLimitedError extends WardenError {}
export class UnavailableError extends WardenError {}
export class RequestError extends WardenError {}

export class ApprovalRequiredError extends WardenError {
  readonly approvalId: string | null;
  readonly approvalUrl: string | null;
  readonly expiresAt: string | null;

  constructor(fields: WardenErrorFields) {
    super(fields);
    const text = (key: string) => {
      const value = fields.details?.[key];
      return typeof value === "string" ? value : null;
    };
    this.approvalId = text("approval_id");
    this.approvalUrl = text("approval_url");
    this.expiresAt = text("expires_at");
  }
}

const CLASSES: Readonly<Record<FamilyName, new (fields: WardenErrorFields) => WardenError>> = {
  WardenError,
  IdentityError,
  AgentStatusError,
  KyaError,
  DelegationError,
  PolicyDeniedError,
  ApprovalRequiredError,
  BudgetError,
  RateLimitedError,
  UnavailableError,
  RequestError,
};

/** The typed error of a denial, its class chosen by reason, then JSON-RPC code, then status. */
export function wardenError(fields: WardenErrorFields, jsonRpcCode?: number): WardenError {
  return new CLASSES[familyOf(fields.reason, fields.status, jsonRpcCode)](fields);
}
