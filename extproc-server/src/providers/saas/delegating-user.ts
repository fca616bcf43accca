import type { AuthzHandOff } from "../../../../lib/src/handoff/contract.js";
import type { RequestIdentity } from "../../oauth/events.js";

/**
 * Whose account a request acts on: the delegating user of the hand-off, with the agent, delegation
 * and decision it came with; null when the hand-off names no delegation, user or tenant (then no
 * user's token may be injected: the caller refuses with delegation_required).
 */
export function delegatingUser(handOff: AuthzHandOff): RequestIdentity | null {
  if (!handOff.delegationId || !handOff.userId || !handOff.tenant) return null;
  return {
    decisionId: handOff.decisionId,
    agentSpiffeId: handOff.agentSpiffeId,
    agentId: handOff.agentId,
    tenant: handOff.tenant,
    userId: handOff.userId,
    delegationId: handOff.delegationId,
    scopes: handOff.scopes,
  };
}
