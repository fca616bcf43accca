import type { ApprovalBinding } from "../../../lib/src/mcp/approval.js";
import type { Outcome } from "../authorizer.js";

export interface PendingApproval {
  binding: ApprovalBinding;
  approved(approvalId: string): Outcome;
  held(r: { approvalId: string; url: string; expiresAt: string }): Outcome;
  unavailable(detail: string): Outcome;
}
