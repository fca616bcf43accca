import type { ApiResponse, CallOptions } from "./control-plane.js";

/**
 * The registry and KYA workflow as its users drive it through the control plane's REST API:
 * a creator registers an agent and submits evidence, a reviewer approves, revokes, suspends. Shared by
 * the registry tests and the revocation bench so the requests (and what counts as success) are one.
 */
export interface ControlPlaneApi {
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: CallOptions,
  ): Promise<ApiResponse<T>>;
}

export interface RegistryEntry {
  id: string;
  spiffe_id: string;
  version: number;
  status: string;
}

export interface KyaAttestation {
  id: string;
  status: string;
  level: number | null;
  jws: string | null;
}

/** The KYA security checklist with every item answered yes. */
export const FULL_SECURITY_CHECKLIST = {
  no_embedded_credentials: true,
  dependencies_scanned: true,
  least_privilege_scopes: true,
  audit_logging: true,
  data_retention_policy: true,
};

/** Evidence a reviewer accepts: a pinned image, the endpoints it calls, the checklist all true. */
export const KYA_EVIDENCE = {
  image_digest: `sha256:${"c".repeat(64)}`,
  endpoints: ["https://api.openai.com/v1/chat/completions"],
  security_checklist: FULL_SECURITY_CHECKLIST,
};

async function expecting<T>(what: string, status: number, response: Promise<ApiResponse<T>>): Promise<T> {
  const answer = await response;
  if (answer.status !== status)
    throw new Error(`${what}: expected ${status}, got ${answer.status} ${answer.text.slice(0, 300)}`);
  return answer.body;
}

export function registryWorkflow(api: ControlPlaneApi, tokens: { creator: string; reviewer: string }) {
  const { creator, reviewer } = tokens;
  return {
    register: (name: string): Promise<RegistryEntry> =>
      expecting(
        `register ${name}`,
        201,
        api.call<RegistryEntry>("POST", "/v1/agents", {
          token: creator,
          body: {
            name,
            tenant: "acme",
            team: "research",
            type: "assistant",
            environment: "production",
            capabilities: ["llm:chat"],
          },
        }),
      ),

    submit: (agent: RegistryEntry | { id: string }): Promise<KyaAttestation> =>
      expecting(
        "submit evidence",
        201,
        api.call<KyaAttestation>("POST", "/v1/attestations", {
          token: creator,
          body: { agent_id: agent.id, evidence: KYA_EVIDENCE },
        }),
      ),

    approve: (attestation: { id: string }, level = 2): Promise<KyaAttestation> =>
      expecting(
        `approve at level ${level}`,
        200,
        api.call<KyaAttestation>("POST", `/v1/attestations/${attestation.id}/approve`, {
          token: reviewer,
          body: { level, verified_capabilities: ["llm:chat"] },
        }),
      ),

    revoke: async (attestation: { id: string }): Promise<void> => {
      await expecting(
        "revoke",
        200,
        api.call("POST", `/v1/attestations/${attestation.id}/revoke`, {
          token: reviewer,
          body: { reason: "evidence withdrawn" },
        }),
      );
    },

    /** PATCH with the ETag just read, as the registry requires (If-Match). */
    setStatus: async (agent: { id: string }, status: "active" | "suspended"): Promise<RegistryEntry> => {
      const current = await api.call<RegistryEntry>("GET", `/v1/agents/${agent.id}`, { token: reviewer });
      return expecting(
        `set status ${status}`,
        200,
        api.call<RegistryEntry>("PATCH", `/v1/agents/${agent.id}`, {
          token: reviewer,
          body: { status },
          headers: { "if-match": current.headers.get("etag") ?? "" },
        }),
      );
    },
  };
}

export type RegistryWorkflow = ReturnType<typeof registryWorkflow>;
