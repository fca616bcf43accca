import { performance } from "node:perf_hooks";
import type { SvidHttpsClient } from "../agents/svid-https-client.js";
import { mcpDestination } from "../../lib/src/envoy/destinations.js";
import { JSONRPC_ERRORS } from "../../lib/src/mcp/protocol.js";
import { PROTOCOL_VERSION_META_KEY } from "../../lib/src/mcp/request.js";
import type { ControlPlaneProcess } from "../harness/control-plane.js";
import { join } from "node:path";
import { REPO_ROOT, stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startTestStack, stubbedProviderDestinations, type Stack, type TestStack } from "../harness/stack.js";
import { KYA_EVIDENCE } from "../harness/registry-workflow.js";
import { startMcpRawStub, type McpRawStub } from "../stubs/mcp-raw.js";

/**
 * MCP tool-level authorization with every Warden component real: the agent (this process, with its
 * SPIRE SVID) calls an MCP server through its sidecar at /mcp/files-mcp/; Envoy asks authz-server,
 * which decides with the shipped policy and the server's tool rules, read from PostgreSQL (the
 * registry row's tool_rules, followed through LISTEN/NOTIFY). The MCP server is a raw JSON-RPC echo
 * stub (third party).
 */
const TD = "warden.local";
const AGENT = "mcp-caller";
const AGENT_ID = `spiffe://${TD}/agent/${AGENT}`;
const SERVER = "files-mcp";
const MODERN = "2026-07-28";

/**
 * Registered capabilities are plain names (no wildcards): the server's, and one per tool the agent
 * was vetted for. The tool rules then decide which of those the server lets it call.
 */
const CAPABILITIES = [`mcp:${SERVER}`, "mcp:read_file", "mcp:list_dir", "mcp:delete_all", "mcp:format_disk"];

const RULES = {
  default: "deny",
  tools: { "read_*": { agents: ["*"] }, "delete_*": { deny: true } },
};

interface JsonRpcAnswer {
  jsonrpc?: string;
  id?: unknown;
  result?: { echo?: { method?: string; params?: { name?: string } } };
  error?: { code: number; message: string; data?: { reason?: string; decision_id?: string } };
}

let env: TestStack;
let controlPlane: ControlPlaneProcess;
let stack: Stack;
let agentClient: SvidHttpsClient;
let mcp: McpRawStub;
let database: string;
let serverId: string;
let nextId = 1;
const figures: Record<string, unknown> = {};

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

const toolCall = (name: string, extra: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id: nextId++,
  method: "tools/call",
  params: { name, arguments: { path: "/tmp/notes.txt" }, ...extra },
});

beforeAll(async () => {
  mcp = await startMcpRawStub();
  env = await startTestStack({
    name: "mcp-authz",
    trustDomain: TD,
    agent: AGENT_ID,
    dataPlane: {
      // The shipped policy.
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

  // The agent: registered and attested with the server's and some tools' capabilities.
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
      capabilities: CAPABILITIES,
    },
  });
  if (agent.status !== 201) throw new Error(`register: ${agent.status} ${agent.text}`);
  const attestation = await controlPlane.call<{ id: string }>("POST", "/v1/attestations", {
    token: creator,
    body: { agent_id: agent.body.id, evidence: KYA_EVIDENCE },
  });
  expect(attestation.status).toBe(201);
  const approved = await controlPlane.call("POST", `/v1/attestations/${attestation.body.id}/approve`, {
    token: reviewer,
    body: { level: 2, verified_capabilities: CAPABILITIES },
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
  process.stdout.write(`MCP authz figures: ${JSON.stringify(figures)}\n`);
}, TEARDOWN_TIMEOUT_MS);

describe("MCP tool calls through the sidecar", () => {
  test("a tool the rules allow reaches the MCP server, and its answer comes back", async () => {
    const before = mcp.requests.length;
    const { status, answer } = await post(toolCall("read_file"));
    expect(status).toBe(200);
    expect((answer as JsonRpcAnswer).result?.echo).toMatchObject({
      method: "tools/call",
      params: { name: "read_file" },
    });
    expect(mcp.requests.length).toBe(before + 1);
    expect(mcp.requests.at(-1)?.body).toMatchObject({ method: "tools/call", params: { name: "read_file" } });
  });

  test("a forbidden tool is a JSON-RPC error -32050 in an HTTP 200, with reason and decision id; the server never sees it", async () => {
    const before = mcp.requests.length;
    const call = toolCall("delete_all");
    const { status, answer } = await post(call);
    expect(status).toBe(200);
    const error = (answer as JsonRpcAnswer).error;
    expect((answer as JsonRpcAnswer).id).toBe(call.id);
    expect(error?.code).toBe(JSONRPC_ERRORS.WARDEN_DENIED);
    expect(error?.data?.reason).toBe("mcp_denied");
    expect(error?.data?.decision_id).toMatch(/.+/);
    expect(mcp.requests.length).toBe(before);
  });

  test("a tool no rule names is refused by the default", async () => {
    const { answer } = await post(toolCall("format_disk"));
    expect((answer as JsonRpcAnswer).error?.data?.reason).toBe("mcp_denied");
  });

  test("a mirrored header that disagrees with the body is a 400 with -32020, before any policy", async () => {
    const before = mcp.requests.length;
    const { status, answer } = await post(toolCall("delete_all"), {
      "mcp-method": "tools/call",
      "mcp-name": "read_file",
    });
    expect(status).toBe(400);
    expect((answer as JsonRpcAnswer).error).toMatchObject({
      code: JSONRPC_ERRORS.HEADER_MISMATCH,
      data: { reason: "mcp_header_mismatch" },
    });
    expect(mcp.requests.length).toBe(before);
  });

  test("the stateless revision (mirrored headers, envelope) and an old body-only request are governed alike", async () => {
    const envelope = {
      _meta: { [PROTOCOL_VERSION_META_KEY]: MODERN, "io.modelcontextprotocol/clientCapabilities": {} },
    };
    const modern = (name: string) =>
      post(toolCall(name, envelope), {
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": name,
      });
    const old = (name: string) => post(toolCall(name), { "mcp-protocol-version": "2025-06-18" });
    expect((await modern("read_file")).status).toBe(200);
    expect(((await modern("read_file")).answer as JsonRpcAnswer).result).toBeDefined();
    expect(((await old("read_file")).answer as JsonRpcAnswer).result).toBeDefined();
    expect(((await modern("delete_all")).answer as JsonRpcAnswer).error?.data?.reason).toBe("mcp_denied");
    expect(((await old("delete_all")).answer as JsonRpcAnswer).error?.data?.reason).toBe("mcp_denied");
    // On the stateless revision the mirrored name is required.
    expect(
      (
        await post(toolCall("read_file", envelope), {
          "mcp-protocol-version": MODERN,
          "mcp-method": "tools/call",
        })
      ).status,
    ).toBe(400);
  });

  test("a batch with one forbidden call is refused whole, one error per request", async () => {
    const before = mcp.requests.length;
    const { status, answer } = await post([toolCall("read_file"), toolCall("delete_all")]);
    expect(status).toBe(200);
    expect((answer as JsonRpcAnswer[]).map((a) => a.error?.data?.reason)).toEqual([
      "mcp_batch_refused",
      "mcp_denied",
    ]);
    expect(mcp.requests.length).toBe(before);
  });

  test("changing the server's tool rules in PostgreSQL changes decisions within a second", async () => {
    expect((await post(toolCall("read_file"))).status).toBe(200);
    await sql("UPDATE agents SET tool_rules = $2, version = version + 1 WHERE id = $1", [
      serverId,
      JSON.stringify({ default: "deny", tools: { "read_*": { deny: true } } }),
    ]);
    const started = performance.now();
    await announce(serverId);
    await waitFor(
      "read_file refused",
      async () =>
        ((await post(toolCall("read_file"))).answer as JsonRpcAnswer).error?.data?.reason === "mcp_denied",
      1_000,
    );
    figures.rules_change_enforced_ms = Math.round(performance.now() - started);

    // And back: an invalid stored document refuses everything (it is never half-applied).
    await sql("UPDATE agents SET tool_rules = $2 WHERE id = $1", [
      serverId,
      JSON.stringify({ tools: { "a*b": {} } }),
    ]);
    await announce(serverId);
    await waitFor(
      "an invalid document refuses every tool",
      async () => {
        const { answer } = await post(toolCall("list_dir"));
        return (answer as JsonRpcAnswer).error?.data?.reason === "mcp_denied";
      },
      1_000,
    );
  });

  test("a suspended MCP server is an unknown destination", async () => {
    await sql("UPDATE agents SET status = 'suspended', tool_rules = $2 WHERE id = $1", [
      serverId,
      JSON.stringify(RULES),
    ]);
    await announce(serverId);
    await waitFor(
      "the server refused",
      async () => {
        const { answer } = await post(toolCall("read_file"));
        return (answer as JsonRpcAnswer).error?.data?.reason === "destination_unknown";
      },
      1_000,
    );
  });
});
