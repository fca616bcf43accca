import { CREDENTIAL_REQUEST_HEADERS } from "../../lib/src/credentials.js";
import type { envoy } from "../../lib/src/gen/envoy.js";
import {
  DECISION_ID_HEADER,
  WARDEN_HEADER_PREFIX,
  type AuthzHandOff,
} from "../../lib/src/handoff/contract.js";
import { HeaderEdits } from "./header-edits.js";

export { DECISION_ID_HEADER };
export const AGENT_HEADER = "x-warden-agent";

/**
 * Request headers on their way upstream: every credential the agent sent goes (agents hold none;
 * Warden injects the real ones), every `x-warden-*` header goes unless the policy set it (an agent
 * must not forge them; ext_authz removes them too), and the ext_authz decision is stamped on from the
 * trusted hand-off.
 */
export function requestHeaderEdits(
  headers: readonly envoy.config.core.v3.IHeaderValue[],
  handOff: AuthzHandOff,
): HeaderEdits {
  const edits = new HeaderEdits();
  for (const header of headers) {
    const name = header.key?.toLowerCase();
    if (!name) continue;
    // `name` is lower-case already: one Set lookup per header on the hot path.
    if (CREDENTIAL_REQUEST_HEADERS.has(name)) edits.remove(name);
    else if (name.startsWith(WARDEN_HEADER_PREFIX) && !handOff.policyHeaders.includes(name))
      edits.remove(name);
  }
  edits.set(DECISION_ID_HEADER, handOff.decisionId);
  if (handOff.agentSpiffeId !== null) edits.set(AGENT_HEADER, handOff.agentSpiffeId);
  return edits;
}
