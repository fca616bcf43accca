import type { FastifyInstance } from "fastify";
import type { FieldProblem } from "../../http/validation.js";

/**
 * The creator and reviewer pages act through the REST API itself, in-process (Fastify `inject`),
 * with the signed-in person's own access token: the same schema validation, role and tenant checks,
 * workflow rules, audit rows and change notifications as any API client, and no second copy of any
 * of them in the portal.
 */
export interface ApiProblem {
  status: number;
  code: string;
  message: string;
  details?: FieldProblem[];
}

export type ApiResult<T> = { ok: true; status: number; body: T } | { ok: false; problem: ApiProblem };

export interface PortalApi {
  get<T>(path: string, query?: Readonly<Record<string, string | number | undefined>>): Promise<ApiResult<T>>;
  post<T>(path: string, body: unknown): Promise<ApiResult<T>>;
}

/** The JSON of an agent or MCP server (openapi.yaml `Agent`, `McpServer`), as the pages read it. */
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

/** The JSON of a KYA attestation (openapi.yaml `Attestation`). */
export interface ApiAttestation {
  id: string;
  agent_id: string;
  tenant: string;
  status: "pending" | "approved" | "rejected" | "revoked" | "superseded" | "expired";
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

function queryString(query: Readonly<Record<string, string | number | undefined>> | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {}))
    if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}

function problemOf(status: number, text: string): ApiProblem {
  try {
    const { error } = JSON.parse(text) as { error: Omit<ApiProblem, "status"> };
    return { status, ...error };
  } catch {
    return { status, code: "internal", message: "the API answered with an unreadable error" };
  }
}

/** Calls the app's own API routes as the holder of `accessToken`. */
export function injectedApi(app: FastifyInstance, accessToken: string): PortalApi {
  async function call<T>(method: "GET" | "POST", url: string, body?: unknown): Promise<ApiResult<T>> {
    const response = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    if (response.statusCode >= 400)
      return { ok: false, problem: problemOf(response.statusCode, response.body) };
    return { ok: true, status: response.statusCode, body: response.json<T>() };
  }
  return {
    get: (path, query) => call("GET", `${path}${queryString(query)}`),
    post: (path, body) => call("POST", path, body),
  };
}
