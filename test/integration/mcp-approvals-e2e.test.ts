import { JSONRPC_ERRORS } from "../../lib/src/mcp/protocol.js";
import { stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import type { McpRawStub } from "../stubs/mcp-raw.js";
import { startRawMcpSuite, type RawMcpSuite } from "../support/mcp-raw-suite.js";

/**
 * Human approval of one exact MCP call, end to end with every Warden component real: the agent (this
 * process, with its SPIRE SVID) calls a tool marked `approval: "required"` through its sidecar;
 * Envoy asks authz-server, whose approval gate (the data plane's PostgreSQL login) holds the call
 * with JSON-RPC -32051 and a link; an admin approves through the control plane's API; the agent's
 * identical retry reaches the MCP server (a JSON-RPC echo stub, third party), once.
 */
const AGENT = "mcp-caller";
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

let suite: RawMcpSuite;
let mcp: McpRawStub;
let nextId = 1;
let admin: string;
const sql = <Row extends Record<string, unknown>>(text: string, params: unknown[] = []) =>
  suite.sql<Row>(text, params);
const post = (body: unknown, headers: Record<string, string> = {}) =>
  suite.post<JsonRpcAnswer>(body, headers);

const toolCall = (name: string, path = "/tmp/notes.txt") => ({
  jsonrpc: "2.0",
  id: nextId++,
  method: "tools/call",
  params: { name, arguments: { path } },
});

beforeAll(async () => {
  suite = await startRawMcpSuite({
    name: "mcp-approvals-e2e",
    agentName: AGENT,
    server: SERVER,
    capabilities: ["mcp:read_file", "mcp:delete_file"],
    rules: RULES,
    probe: () => toolCall("read_file"),
  });
  ({ mcp } = suite);
  admin = await suite.env.oidc.token({ sub: "ada-admin", roles: ["admin"], tenant: "acme" });
}, 240_000);

afterAll(async () => {
  await suite?.stop();
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
    expect(error?.data?.approval_url).toBe(`${suite.controlPlane.url}/v1/approvals/${id}`);
    // Asking again before anyone decided: the same request, and the server still saw nothing.
    expect(held((await post(toolCall("delete_file"))).answer)?.data?.approval_id).toBe(id);
    expect(mcp.requests.length).toBe(before);

    const shown = await suite.controlPlane.call<{ state: string; agent_spiffe_id: string; name: string }>(
      "GET",
      `/v1/approvals/${id}`,
      { token: admin },
    );
    expect(shown.body).toMatchObject({
      state: "pending",
      agent_spiffe_id: suite.agentId,
      name: "delete_file",
    });
    expect(
      (await suite.controlPlane.call("POST", `/v1/approvals/${id}/approve`, { token: admin })).status,
    ).toBe(200);

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
    expect(
      (await suite.controlPlane.call("POST", `/v1/approvals/${id}/reject`, { token: admin })).status,
    ).toBe(200);
    const retry = held((await post(toolCall("delete_file", "/tmp/rejected.txt"))).answer);
    expect(retry?.code).toBe(JSONRPC_ERRORS.APPROVAL_REQUIRED);
    expect(retry?.data?.approval_id).not.toBe(id);
  });
});
