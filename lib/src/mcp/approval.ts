/**
 * Human approval bound to one exact tool call. The policy holds a call to a tool marked
 * `approval: "required"` (denial reason `approval_required`); authz-server then asks the gate, which
 * either consumes an approved, unexpired, unused approval for exactly this binding (the call passes)
 * or finds-or-creates the pending one (the agent gets JSON-RPC error APPROVAL_REQUIRED with its id
 * and URL). Single use: consuming is one atomic UPDATE.
 */
export interface ApprovalBinding {
  readonly agentSpiffeId: string;
  readonly agentId: string | null;
  readonly tenant: string | null;
  /** The delegation the call is made under, and its user; null without one. */
  readonly delegationId: string | null;
  readonly userId: string | null;
  /** The MCP server's registered name (the route's `destination.service`). */
  readonly server: string;
  readonly method: string;
  /** Tool, prompt name or resource URI. */
  readonly name: string;
  /** lib/src/mcp/digest.ts argumentsDigest of `params.arguments`. */
  readonly argumentsDigest: string;
  /** The decision that held the call (audit correlation). */
  readonly decisionId: string;
}

export type ApprovalResolution =
  | { readonly state: "approved"; readonly approvalId: string }
  | { readonly state: "held"; readonly approvalId: string; readonly url: string; readonly expiresAt: string }
  /** The approval store cannot be reached: the call is refused with 503 (fail closed). */
  | { readonly state: "unavailable"; readonly detail: string };

export interface ApprovalGate {
  resolve(binding: ApprovalBinding): Promise<ApprovalResolution>;
}
