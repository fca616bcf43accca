import { tryParseSpiffeId } from "../../../lib/src/spiffe/spiffe-id.js";

/**
 * Who is calling. The SPIFFE ID comes only from the agent's certificate: with mTLS authz-server
 * verifies the certificate Envoy forwards (peer-certificate.ts); in plaintext mode (loopback, dev and
 * tests) the `source.principal` of the CheckRequest names it. Agent-supplied headers never do.
 */
export interface SourceIdentity {
  spiffe_id: string | null;
  trust_domain: string | null;
  verified: boolean;
  /**
   * At an MCP server's inbound sidecar only (absent elsewhere): how the caller proved who it is:
   * its own SVID, a trusted Warden sidecar vouching for it (x-forwarded-client-cert), or a bearer token.
   * `zero_code`: the agent's zero-code sidecar named it (identity/zero-code.ts).
   */
  via?: "svid" | "sidecar" | "bearer" | "zero_code";
  /** With `via: "sidecar"`: the sidecar that vouched (its verified SPIFFE ID). */
  sidecar?: string;
  /** With `via: "bearer"`: the token's scopes. */
  scopes?: string[];
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
  /** The state of the agent's tenant (migration 022); absent where the registry does not say. */
  tenant_status?: "active" | "suspended";
  capabilities: string[];
}

export interface KyaFacts {
  status: "approved" | "pending" | "revoked" | "expired" | "none";
  /** 1 basic, 2 standard, 3 high (as approved, signed and stored); null without an approval. */
  level: number | null;
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

const NO_SOURCE: SourceIdentity = Object.freeze({ spiffe_id: null, trust_domain: null, verified: false });

/** The caller named by a principal (a SPIFFE ID per the shared parser), or nobody. */
export function sourceIdentity(principal: string): SourceIdentity {
  const id = tryParseSpiffeId(principal);
  if (!id) return NO_SOURCE;
  return { spiffe_id: id.id, trust_domain: id.trustDomain, verified: true };
}

/** What the data plane knows about registered workloads; fed by the control plane, read per request. */
export interface AgentDirectory {
  lookup(spiffeId: string): { agent: AgentRecord; kya: KyaFacts } | undefined;
}

export const EMPTY_DIRECTORY: AgentDirectory = { lookup: () => undefined };
