/**
 * The audit trail of an approval, written by both sides: the data plane (authz-server's gate) records
 * `requested`, `used` and `expired` as they happen there, the control plane `approved`, `rejected`
 * (and `expired` when a decision comes too late). Every event names the call by its binding and the
 * arguments' digest, never the arguments.
 */
export const APPROVAL_ACTIONS = {
  requested: "mcp.approval.requested",
  approved: "mcp.approval.approved",
  rejected: "mcp.approval.rejected",
  used: "mcp.approval.used",
  expired: "mcp.approval.expired",
} as const;

export type ApprovalAction = (typeof APPROVAL_ACTIONS)[keyof typeof APPROVAL_ACTIONS];

/** The audit rows' resource type; the resource id is the approval id. */
export const APPROVAL_RESOURCE = "mcp_approval";

export interface ApprovalCallFacts {
  readonly approvalId: string;
  readonly server: string;
  readonly method: string;
  readonly name: string;
  readonly argumentsDigest: string;
}

/** `details` of every approval event: which call, by digest. Callers add what the transition adds. */
export function approvalEventDetails(call: ApprovalCallFacts): Record<string, unknown> {
  return {
    approval_id: call.approvalId,
    server: call.server,
    method: call.method,
    name: call.name,
    arguments_digest: call.argumentsDigest,
  };
}
