import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { performance } from "node:perf_hooks";
import type { DelegationView } from "../../control-plane/src/delegations/model.js";
import { responseText } from "../agents/response-text.js";
import { FULL_SECURITY_CHECKLIST, type ControlPlaneApi } from "../harness/registry-workflow.js";

/**
 * What the delegation and token-service tests do through the control plane's API, as its users do:
 * register an agent, get its KYA attestation approved, grant and revoke delegations.
 */
export interface Entry {
  id: string;
  spiffe_id: string;
  tenant: string;
}

export type { DelegationView };

export interface Grant {
  delegation: DelegationView;
  token: string;
  header: string;
}

export const EVIDENCE = {
  image_digest: `sha256:${"d".repeat(64)}`,
  endpoints: ["https://www.googleapis.com/drive/v3/files"],
  security_checklist: FULL_SECURITY_CHECKLIST,
};

export interface AgentSpec {
  name: string;
  tenant?: string;
  team?: string;
  type?: string;
  capabilities: string[];
  /** Verified by the reviewer; null: not attested. */
  verified: string[] | null;
}

/** Registers an agent (as `creator`) and, unless `verified` is null, has `reviewer` approve its KYA. */
export async function registerAgent(
  api: ControlPlaneApi,
  creator: string,
  reviewer: string,
  spec: AgentSpec,
): Promise<Entry> {
  const created = await api.call<Entry>("POST", "/v1/agents", {
    token: creator,
    body: {
      name: spec.name,
      tenant: spec.tenant ?? "acme",
      team: spec.team ?? "engineering",
      type: spec.type ?? "assistant",
      environment: "production",
      capabilities: spec.capabilities,
    },
  });
  if (created.status !== 201) throw new Error(`registering ${spec.name}: ${created.status} ${created.text}`);
  if (spec.verified === null) return created.body;
  const submitted = await api.call<{ id: string }>("POST", "/v1/attestations", {
    token: creator,
    body: { agent_id: created.body.id, evidence: EVIDENCE },
  });
  if (submitted.status !== 201) throw new Error(`submitting ${spec.name}: ${submitted.text}`);
  const approved = await api.call("POST", `/v1/attestations/${submitted.body.id}/approve`, {
    token: reviewer,
    body: { level: 2, verified_capabilities: spec.verified },
  });
  if (approved.status !== 200) throw new Error(`approving ${spec.name}: ${approved.text}`);
  return created.body;
}

export async function grant(
  api: ControlPlaneApi,
  user: string,
  body: { agent_id: string; scopes: string[]; ttl_seconds?: number; destinations?: string[] },
): Promise<Grant> {
  const res = await api.call<Grant>("POST", "/v1/delegations", { token: user, body });
  if (res.status !== 201) throw new Error(`grant failed: ${res.status} ${res.text}`);
  return res.body;
}

export function claimsOf(jws: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jws.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

export function headerOf(jws: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jws.split(".")[0]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

// ---------- agents calling the sidecar with their SVIDs ----------

export interface SidecarResponse {
  status: number;
  body: string;
  /** performance.now() when the request was sent and when its answer arrived */
  sentAt: number;
  receivedAt: number;
}

/** A keep-alive mTLS connection pool presenting one X.509-SVID; the sidecar checked against the bundle. */
export function svidAgent(
  svid: { certChainPem: string; keyPem: string },
  bundlesPem: Record<string, string>,
): HttpsAgent {
  return new HttpsAgent({
    keepAlive: true,
    maxSockets: 16,
    cert: svid.certChainPem,
    key: svid.keyPem,
    ca: Object.values(bundlesPem),
    // The sidecar's SVID names a SPIFFE ID, not a host; the CA check is what matters here.
    checkServerIdentity: () => undefined,
  });
}

export function callSidecar(
  agent: HttpsAgent,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<SidecarResponse> {
  return new Promise((resolve, reject) => {
    const sentAt = performance.now();
    const req = httpsRequest(
      url,
      { method: options.method ?? "GET", headers: options.headers, agent },
      (res) => {
        responseText(res).then(
          (body) => resolve({ status: res.statusCode ?? 0, body, sentAt, receivedAt: performance.now() }),
          reject,
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(options.body);
  });
}

export function errorCode(response: SidecarResponse): string {
  try {
    return (JSON.parse(response.body) as { error?: { code?: string } }).error?.code ?? "";
  } catch {
    return "";
  }
}
