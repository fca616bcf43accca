/**
 * Who is calling. The SPIFFE ID comes only from the peer certificate Envoy verified (the
 * `source.principal` of the CheckRequest); agent-supplied headers never name an identity.
 */
export interface SourceIdentity {
  spiffe_id: string | null;
  trust_domain: string | null;
  verified: boolean;
}

export interface AgentRecord {
  id: string;
  spiffe_id: string;
  kind: "agent" | "mcp_server";
  name: string;
  owner: string;
  team: string;
  type: string;
  environment: string;
  tenant: string;
  status: "active" | "suspended" | "revoked" | "archived";
  capabilities: string[];
}

export interface KyaFacts {
  status: "approved" | "pending" | "revoked" | "expired" | "none";
  level: string | null;
  verified_capabilities: string[];
  attestation_id: string | null;
  issued_at: number | null;
  expires_at: number | null;
}

export const NO_KYA: KyaFacts = Object.freeze({
  status: "none",
  level: null,
  verified_capabilities: [],
  attestation_id: null,
  issued_at: null,
  expires_at: null,
}) as KyaFacts;

// spiffe://<trust-domain>/<path>, per the SPIFFE ID spec: lower-case trust domain of [a-z0-9.-_].
const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]+)(\/[A-Za-z0-9._\-/]*)?$/;

export function sourceIdentity(principal: string): SourceIdentity {
  const match = SPIFFE_ID.exec(principal);
  if (!match) return { spiffe_id: null, trust_domain: null, verified: false };
  return { spiffe_id: principal, trust_domain: match[1]!, verified: true };
}

/** What the data plane knows about registered workloads; fed by the control plane, read per request. */
export interface AgentDirectory {
  lookup(spiffeId: string): { agent: AgentRecord; kya: KyaFacts } | undefined;
}

export const EMPTY_DIRECTORY: AgentDirectory = { lookup: () => undefined };
