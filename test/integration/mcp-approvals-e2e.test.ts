import { join } from "node:path";
import type { SvidHttpsClient } from "../agents/svid-https-client.js";
import { mcpDestination } from "../../lib/src/envoy/destinations.js";
import { JSONRPC_ERRORS } from "../../lib/src/mcp/protocol.js";
import type { ControlPlaneProcess } from "../harness/control-plane.js";
import { REPO_ROOT, stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startTestStack, stubbedProviderDestinations, type Stack, type TestStack } from "../harness/stack.js";
import { KYA_EVIDENCE } from "../harness/registry-workflow.js";
import { startMcpRawStub, type McpRawStub } from "../stubs/mcp-raw.js";

/**
 * Human approval of one exact MCP call, end to end with every Warden component real: the agent (this
 * process, with its SPIRE SVID) calls a tool marked `approval: "required"` through its sidecar;
 * Envoy asks authz-server, whose approval gate (the data plane's PostgreSQL login) holds the call
 * with JSON-RPC -32051 and a link; an admin approves through the control plane's API; the agent's
 * identical retry reaches the MCP server (a JSON-RPC echo stub, third party), once.
 */
const TD = "warden.local";
const AGENT = "mcp-caller";
const AGENT_ID = `spiffe://${TD}/agent/${AGENT}`;
const SERVER = "files-mcp";

const RULES = {
  default: "deny",
  tools: { "read_*": { agents: ["*"] }, delete_file: { agents: ["*"], approval: "required" } },
};

interface JsonRpcAnswer {
  jsonrpc?: string;
  id?: unknown;
  result?: { echo?: { method?: string; params?: { name?: string } } };
  error?: {
    code: number;
    message: string;
    data?: {
      reason?: string;
      decision_id?: string;
      approval_id?: string;
      approval_url?: string;
      expires_at?: string;
    };
  };
}

let env: TestStack;
let controlPlane: ControlPlaneProcess;
let stack: Stack;
let agentClient: SvidHttpsClient;
let mcp: McpRawStub;
let database: string;
let serverId: string;
let nextId = 1;
let admin: string;

async function sql<Row extends Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
): Promise<Row[]> {
  return env.cluster.sql<Row>(text, params, database);
}

/** As the control plane announces a registry change (control-plane/src/notify.ts). */
async function announce(id: string): Promise<void> {
  const [row] = await sql<{ spiffe_id: string; tenant: string; status: string; version: number }>(
    "SELECT spiffe_id, tenant, status, version FROM agents WHERE id = $1",
    [id],
  );
  await sql("SELECT pg_notify('warden_registry', $1)", [
    JSON.stringify({ v: 1, entity: "agent", op: "upsert", id, kind: "mcp_server", ...row }),
  ]);
}

async function post(
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; answer: JsonRpcAnswer | JsonRpcAnswer[] | null }> {
  const response = await agentClient.request(`${stack.agentUrl}/mcp/${SERVER}/`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify(body),
    timeoutMs: 5_000,
  });
  return {
    status: response.status,
    answer: response.body ? (JSON.parse(response.body) as JsonRpcAnswer | JsonRpcAnswer[]) : null,
  };
}

const toolCall = (name: string, path = "/tmp/notes.txt") => ({
  jsonrpc: "2.0",
  id: nextId++,
  method: "tools/call",
  params: { name, arguments: { path } },
});

beforeAll(async () => {
  mcp = await startMcpRawStub();
  env = await startTestStack({
    name: "mcp-approvals-e2e",
    trustDomain: TD,
    agent: AGENT_ID,
    dataPlane: {
      // The shipped governance policy (its MCP stages hold the call for approval).
      policyDir: join(REPO_ROOT, "policies"),
      destinations: (upstream) => [
        ...stubbedProviderDestinations(upstream),
        mcpDestination(SERVER, { address: "127.0.0.1", port: mcp.port, tls: false }),
      ],
      authzEnv: {
        WARDEN_ATTESTATION_ISSUER: `spiffe://${TD}/warden/control-plane`,
        WARDEN_LOG_LEVEL: "info",
      },
    },
  });
  ({ controlPlane, stack } = env);
  agentClient = env.agentClient!;
  database = new URL(env.databaseUrl).pathname.slice(1);

  // The agent: registered, attested for the two tools it calls.
  const [creator, reviewer] = await Promise.all([
    env.oidc.token({ sub: "carl-creator", roles: ["creator"] }),
    env.oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
  ]);
  const agent = await controlPlane.call<{ id: string }>("POST", "/v1/agents", {
    token: creator,
    body: {
      name: AGENT,
      tenant: "acme",
      team: "research",
      type: "assistant",
      environment: "production",
      capabilities: ["mcp:read_file", "mcp:delete_file"],
    },
  });
  expect(agent.status).toBe(201);
  const attestation = await controlPlane.call<{ id: string }>("POST", "/v1/attestations", {
    token: creator,
    body: { agent_id: agent.body.id, evidence: KYA_EVIDENCE },
  });
  expect(attestation.status).toBe(201);
  const approved = await controlPlane.call("POST", `/v1/attestations/${attestation.body.id}/approve`, {
    token: reviewer,
    body: { level: 2, verified_capabilities: ["mcp:read_file", "mcp:delete_file"] },
  });
  expect(approved.status).toBe(200);

  // The MCP server's registry row, with its tool rules (as the control plane stores them).
  const [row] = await sql<{ id: string }>(
    `INSERT INTO agents (kind, name, spiffe_id, tenant, owner, team, type, environment, created_by, tool_rules)
     VALUES ('mcp_server', $1, $2, 'acme', 'ops', 'platform', 'mcp', 'production', 'test', $3) RETURNING id`,
    [SERVER, `spiffe://${TD}/mcp/${SERVER}`, JSON.stringify(RULES)],
  );
  serverId = row!.id;
  await announce(serverId);
  admin = await env.oidc.token({ sub: "ada-admin", roles: ["admin"], tenant: "acme" });
  await waitFor(
    "the agent and the MCP server to be known",
    async () => (await post(toolCall("read_file"))).status === 200 && mcp.requests.length > 0,
    15_000,
  );
}, 240_000);

afterAll(async () => {
  await env?.stop();
  await mcp?.close();
  await stopAll();
}, TEARDOWN_TIMEOUT_MS);

const held = (answer: unknown) => (answer as JsonRpcAnswer).error;

async function auditActions(approvalId: string): Promise<string[]> {
  const rows = await sql<{ action: string }>(
    `SELECT action FROM audit_events WHERE resource_type = 'mcp_approval' AND resource_id = $1 ORDER BY occurred_at, id`,
    [approvalId],
  );
  return rows.map((r) => r.action);
}

describe("a tool that needs a person's approval", () => {
  test("held with -32051 and a link, approved by an admin, the identical retry passes once", async () => {
    const before = mcp.requests.length;
    const first = await post(toolCall("delete_file"));
    expect(first.status).toBe(200);
    const error = held(first.answer);
    expect(error?.code).toBe(JSONRPC_ERRORS.APPROVAL_REQUIRED);
    expect(error?.data).toMatchObject({
      reason: "approval_required",
      decision_id: expect.stringMatching(/.+/),
      approval_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      expires_at: expect.any(String),
    });
    const id = error!.data!.approval_id!;
    expect(error?.data?.approval_url).toBe(`${controlPlane.url}/v1/approvals/${id}`);
    // Asking again before anyone decided: the same request, and the server still saw nothing.
    expect(held((await post(toolCall("delete_file"))).answer)?.data?.approval_id).toBe(id);
    expect(mcp.requests.length).toBe(before);

    const shown = await controlPlane.call<{ state: string; agent_spiffe_id: string; name: string }>(
      "GET",
      `/v1/approvals/${id}`,
      { token: admin },
    );
    expect(shown.body).toMatchObject({ state: "pending", agent_spiffe_id: AGENT_ID, name: "delete_file" });
    expect((await controlPlane.call("POST", `/v1/approvals/${id}/approve`, { token: admin })).status).toBe(
      200,
    );

    // Other arguments are another call: held on a request of their own.
    const other = held((await post(toolCall("delete_file", "/tmp/other.txt"))).answer);
    expect(other?.code).toBe(JSONRPC_ERRORS.APPROVAL_REQUIRED);
    expect(other?.data?.approval_id).not.toBe(id);
    expect(mcp.requests.length).toBe(before);

    const passed = await post(toolCall("delete_file"));
    expect(passed.status).toBe(200);
    expect((passed.answer as JsonRpcAnswer).result?.echo).toMatchObject({
      method: "tools/call",
      params: { name: "delete_file" },
    });
    expect(mcp.requests.length).toBe(before + 1);

    // Single use: the next identical call waits for a new decision.
    const again = held((await post(toolCall("delete_file"))).answer);
    expect(again?.code).toBe(JSONRPC_ERRORS.APPROVAL_REQUIRED);
    expect(again?.data?.approval_id).not.toBe(id);
    expect(mcp.requests.length).toBe(before + 1);

    await waitFor("the approval's audit trail", async () => (await auditActions(id)).length === 3, 10_000);
    expect(await auditActions(id)).toEqual([
      "mcp.approval.requested",
      "mcp.approval.approved",
      "mcp.approval.used",
    ]);
  });

  test("a rejected call stays out; its retry is a new request", async () => {
    const first = held((await post(toolCall("delete_file", "/tmp/rejected.txt"))).answer);
    const id = first!.data!.approval_id!;
    expect((await controlPlane.call("POST", `/v1/approvals/${id}/reject`, { token: admin })).status).toBe(
      200,
    );
    const retry = held((await post(toolCall("delete_file", "/tmp/rejected.txt"))).answer);
    expect(retry?.code).toBe(JSONRPC_ERRORS.APPROVAL_REQUIRED);
    expect(retry?.data?.approval_id).not.toBe(id);
  });
});
