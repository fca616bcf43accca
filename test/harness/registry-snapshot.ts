/**
 * Registry snapshots for authz-server's WARDEN_REGISTRY_FILE: one approved, active agent per entry,
 * so tests and benchmarks state only what differs (name, attestation id, validity window).
 */
export interface ApprovedAgentOptions {
  name: string;
  id?: string;
  spiffeId?: string;
  attestationId?: string;
  /** Nanoseconds since the epoch, like the policy's now_ns. */
  issuedAtNs: number;
  expiresAtNs: number;
  capabilities?: string[];
}

export function approvedAgent(options: ApprovedAgentOptions): Record<string, unknown> {
  const capabilities = options.capabilities ?? ["llm:chat"];
  return {
    id: options.id ?? `agt-${options.name}`,
    spiffe_id: options.spiffeId ?? `spiffe://warden.local/agent/${options.name}`,
    kind: "agent",
    name: options.name,
    owner: "alice@acme.example",
    team: "engineering",
    type: "coding-assistant",
    environment: "production",
    tenant: "acme",
    status: "active",
    capabilities,
    kya: {
      status: "approved",
      level: 2,
      verified_capabilities: capabilities,
      attestation_id: options.attestationId ?? `att-${options.name}`,
      issued_at: options.issuedAtNs,
      expires_at: options.expiresAtNs,
    },
  };
}

export function registrySnapshot(...agents: Record<string, unknown>[]): string {
  return JSON.stringify({ agents });
}
