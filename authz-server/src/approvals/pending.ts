import type { JsonRpcId } from "../../../lib/src/llm/error-shapes.js";
import type { ApprovalBinding } from "../../../lib/src/mcp/approval.js";
import type { DecisionRecord, Outcome } from "../authorizer.js";
import { approvalHeldResponse, mcpRefusalResponse } from "../mcp-refusal.js";

/**
 * A call the policy held for human approval (reason `approval_required`): authorize() returns it on
 * its Outcome, and the gRPC edge asks the ApprovalGate (lib/src/mcp/approval.ts) which of the three
 * answers to give. Without a gate, the Outcome's own response refuses the call (fail closed).
 */
export interface PendingApproval {
  readonly binding: ApprovalBinding;
  /** The approved call passes: the allow Outcome, with `approval_id` in the policy metadata. */
  approved(approvalId: string): Outcome;
  /** The call waits: HTTP 200, JSON-RPC -32051 with the approval's id, URL and expiry. */
  held(resolution: { approvalId: string; url: string; expiresAt: string }): Outcome;
  /** The approval store cannot be reached: 503 (fail closed). */
  unavailable(detail: string): Outcome;
}

export interface PendingApprovalParts {
  binding: ApprovalBinding;
  /** The held request's JSON-RPC id (the answer echoes it). */
  requestId: JsonRpcId;
  /** The held decision's record (status 403, reason approval_required). */
  record: DecisionRecord;
  message: string;
  /** Decides the call again as approved: the same hand-off as any allowed call. */
  allow(approvalId: string): Outcome;
}

export function pendingApproval(parts: PendingApprovalParts): PendingApproval {
  const decisionId = parts.record.decision_id;
  return {
    binding: parts.binding,
    approved: (approvalId) => parts.allow(approvalId),
    held: (resolution) => ({
      response: approvalHeldResponse(parts.requestId, decisionId, parts.message, resolution),
      record: parts.record,
    }),
    // The detail (why the store cannot be reached) is for the edge's log, never the agent.
    unavailable: () => ({
      response: mcpRefusalResponse(
        {
          status: 503,
          reason: "approval_unavailable",
          message: "approvals cannot be checked right now; retry shortly",
          details: {},
        },
        parts.requestId,
        decisionId,
      ),
      record: { ...parts.record, status: 503, reason: "approval_unavailable" },
    }),
  };
}
