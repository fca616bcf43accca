import type { ApprovalGate } from "../../../lib/src/mcp/approval.js";
import type { Outcome } from "../authorizer.js";
import type { PendingApproval } from "./pending.js";

/** authorize()'s outcome; one held for human approval carries what the gate needs to settle it. */
export type GatedOutcome = Outcome & { readonly approval?: PendingApproval | undefined };

/**
 * The answer to a call the policy held for approval: the gate's verdict turned into the outcome the
 * authorizer prepared for it. Fail closed: without a gate the outcome's own refusal stands (the call
 * needs an approval nobody can give here); a gate that fails refuses the call as unavailable (503).
 */
export async function settleApproval(
  outcome: GatedOutcome,
  gate: ApprovalGate | undefined,
): Promise<Outcome> {
  const pending = outcome.approval;
  if (!pending) return outcome;
  if (!gate) return outcome;
  let resolution;
  try {
    resolution = await gate.resolve(pending.binding);
  } catch {
    return pending.unavailable("the approval store failed");
  }
  switch (resolution.state) {
    case "approved":
      return pending.approved(resolution.approvalId);
    case "held":
      return pending.held({
        approvalId: resolution.approvalId,
        url: resolution.url,
        expiresAt: resolution.expiresAt,
      });
    case "unavailable":
      return pending.unavailable(resolution.detail);
  }
}
