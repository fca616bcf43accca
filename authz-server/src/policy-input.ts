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

export interface PolicyInput {
  now_ns: number;
  request: {
    id: string;
    method: string;
    scheme: string;
    host: string;
    path: string;
    query: Record<string, string | string[]>;
    headers: Record<string, string>;
    body: unknown;
  };
  source: SourceIdentity;
  agent: AgentRecord | null;
  kya: KyaFacts;
  delegation: DelegationFacts;
  destination: Destination;
  llm: LlmFacts | null;
  mcp: McpFacts | null;
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

export interface InputParts {
  nowNs: number;
  facts: RequestFacts;
  body: unknown;
  source: SourceIdentity;
  agent: AgentRecord | null;
  kya: KyaFacts;
  delegation: DelegationFacts;
  destination: Destination;
  llm: LlmFacts | null;
  mcp: McpFacts | null;
}

export function buildPolicyInput(parts: InputParts): PolicyInput {
  const { facts } = parts;
  return {
    now_ns: parts.nowNs,
    request: {
      id: facts.id,
      method: facts.method,
      scheme: facts.scheme,
      host: facts.host,
      path: facts.path,
      query: facts.query,
      headers: facts.headers,
      body: parts.body,
    },
    source: parts.source,
    agent: parts.agent,
    kya: parts.kya,
    delegation: parts.delegation,
    destination: parts.destination,
    llm: parts.llm,
    mcp: parts.mcp,
  };
}
