/**
 * The API's JSON for registry entries and KYA attestations (openapi.yaml `Agent`, `McpServer`,
 * `Attestation`), as the creator and reviewer pages read it. The server checks every response it
 * sends against the OpenAPI document, so these describe what arrives.
 */
export interface ApiEntry {
  id: string;
  kind: "agent" | "mcp_server";
  name: string;
  spiffe_id: string;
  tenant: string;
  owner: string;
  team: string;
  type: string;
  environment: string;
  capabilities: string[];
  status: "active" | "suspended" | "revoked" | "archived";
  created_at: string;
  external_services?: string[];
  resource_uri?: string | null;
}

export type KyaStatus = "pending" | "approved" | "rejected" | "revoked" | "superseded" | "expired";

export interface ApiAttestation {
  id: string;
  agent_id: string;
  tenant: string;
  status: KyaStatus;
  evidence: {
    image_digest?: string;
    code_hash?: string;
    endpoints: string[];
    security_checklist: Record<string, boolean>;
    notes?: string;
  };
  declared_capabilities: string[];
  submitted_by: string;
  submitted_at: string;
  level: number | null;
  verified_capabilities: string[] | null;
  reviewed_by: string | null;
  reviewed_at: string | null;
  review_notes: string | null;
  rejection_reason: string | null;
  expires_at: string | null;
  revoked_by: string | null;
  revoked_at: string | null;
  revocation_reason: string | null;
}

export interface ApiPage<T> {
  items: T[];
  next_cursor: string | null;
}

/** The API path of an entry of this kind. */
export const entryPath = (kind: ApiEntry["kind"], id: string) =>
  `/v1/${kind === "agent" ? "agents" : "mcp-servers"}/${encodeURIComponent(id)}`;

export const KIND_LABEL: Record<ApiEntry["kind"], string> = { agent: "Agent", mcp_server: "MCP server" };
