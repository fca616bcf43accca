import type { RateLimitFacts } from "../../lib/src/ratelimit/applicable.js";
import type { Destination, LlmFacts, McpFacts } from "./destination.js";
import type { RequestFacts } from "./request-facts.js";
import type { AgentRecord, KyaFacts, SourceIdentity } from "./identity/source.js";

/** Step 3: the policy input of the architecture brief. Plain facts only; all crypto is done before. */
export interface DelegationFacts {
  present: boolean;
  valid: boolean;
  error: string | null;
  id: string | null;
  user: { id: string; tenant: string } | null;
  scopes: string[];
  /** Services the delegation may be used towards; empty: any. */
  destinations: string[];
  expires_at: number | null;
}

/** What the earlier steps found out about the caller and the destination, as the policy reads it. */
export interface DecisionFacts {
  source: SourceIdentity;
  agent: AgentRecord | null;
  kya: KyaFacts;
  delegation: DelegationFacts;
  destination: Destination;
  llm: LlmFacts | null;
  mcp: McpFacts | null;
}

export interface PolicyInput extends DecisionFacts {
  now_ns: number;
  /**
   * The stored rate limits this request falls under (docs/rate-limits.md#what-the-policy-sees); the
   * remaining quota is not known here (the sidecar asks the rate-limit service after this decision).
   */
  rate_limits: RateLimitFacts[];
  request: Pick<RequestFacts, "id" | "method" | "scheme" | "host" | "path" | "query" | "headers"> & {
    body: unknown;
  };
}

export const NO_DELEGATION: DelegationFacts = Object.freeze({
  present: false,
  valid: false,
  error: null,
  id: null,
  user: null,
  scopes: [],
  destinations: [],
  expires_at: null,
}) as DelegationFacts;

export interface InputParts extends DecisionFacts {
  nowNs: number;
  facts: RequestFacts;
  body: unknown;
}

export function buildPolicyInput({ nowNs, facts, body, ...decided }: InputParts): PolicyInput {
  const { id, method, scheme, host, path, query, headers } = facts;
  return {
    now_ns: nowNs,
    request: { id, method, scheme, host, path, query, headers, body },
    rate_limits: [],
    ...decided,
  };
}

/** The tenant the sidecar counts a request under: the agent's, else its delegating user's. */
export function requestTenant(input: Pick<DecisionFacts, "agent" | "delegation">): string | null {
  return input.agent?.tenant ?? input.delegation.user?.tenant ?? null;
}
