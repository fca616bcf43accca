import { canSeeTenant, hasRole, type Principal } from "../http/auth.js";
import { ApiError } from "../http/errors.js";
import { withIsoDates } from "../http/iso-dates.js";

/**
 * Approvals of held MCP calls (migration 019): who may see and decide one, and what state it is in.
 * Pure; SQL is in repository.ts.
 */
export const APPROVAL_STATES = ["pending", "approved", "rejected", "used", "expired"] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export interface ApprovalRow {
  id: string;
  tenant: string | null;
  agent_spiffe_id: string;
  agent_id: string | null;
  delegation_id: string | null;
  user_id: string | null;
  server: string;
  method: string;
  name: string;
  arguments_digest: string;
  state: ApprovalState;
  requested_decision_id: string;
  requested_at: Date;
  expires_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  decision_note: string | null;
  used_at: Date | null;
  used_decision_id: string | null;
  version: number;
}

/**
 * The state a person should see: an open request (pending, or approved but unused) past its
 * `expires_at` is expired, even before anything wrote that down (the data plane expires rows lazily).
 */
export function effectiveState(row: Pick<ApprovalRow, "state" | "expires_at">, now: Date): ApprovalState {
  if ((row.state === "pending" || row.state === "approved") && row.expires_at <= now) return "expired";
  return row.state;
}

export function toApi(row: ApprovalRow, now: Date) {
  return withIsoDates({ ...row, state: effectiveState(row, now) });
}

/**
 * Who may see and decide an approval: the delegating user of the held call (token subject is the
 * call's user, in the call's tenant) or an admin of that tenant. Another tenant's approval does not
 * exist for the caller (404); anyone else in the tenant is refused (403).
 */
export function checkDecider(
  principal: Principal,
  row: Pick<ApprovalRow, "tenant" | "user_id">,
  verb: string,
): void {
  const inTenant =
    principal.tenant === null ? true : row.tenant !== null && canSeeTenant(principal, row.tenant);
  if (!inTenant) throw new ApiError("not_found", "approval not found");
  if (hasRole(principal, "admin")) return;
  if (principal.tenant !== null && row.user_id !== null && row.user_id === principal.subject) return;
  throw new ApiError(
    "forbidden",
    `only the user the call was made for, or an admin of the tenant, can ${verb} this approval`,
  );
}

/** A decision on anything but an open, unexpired request: 409 naming the state it is in. */
export function notDecidable(id: string, state: ApprovalState): ApiError {
  const why =
    state === "expired"
      ? "it expired before a decision; the agent's next identical call opens a new request"
      : `it is already ${state}`;
  return new ApiError("conflict", `approval ${id} cannot be decided: ${why}`, [
    { field: "state", message: state },
  ]);
}
