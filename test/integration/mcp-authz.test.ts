import { performance } from "node:perf_hooks";
import { JSONRPC_ERRORS } from "../../lib/src/mcp/protocol.js";
import { PROTOCOL_VERSION_META_KEY } from "../../lib/src/mcp/request.js";
import { stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import type { McpRawStub } from "../stubs/mcp-raw.js";
import { startRawMcpSuite, type RawMcpSuite } from "../support/mcp-raw-suite.js";

/**
 * MCP tool-level authorization with every Warden component real: the agent (this process, with its
 * SPIRE SVID) calls an MCP server through its sidecar at /mcp/files-mcp/; Envoy asks authz-server,
 * which decides with the shipped policy and the server's tool rules, read from PostgreSQL (the
 * registry row's tool_rules, followed through LISTEN/NOTIFY). The MCP server is a raw JSON-RPC echo
 * stub (third party).
 */
const AGENT = "mcp-caller";
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

let suite: RawMcpSuite;
let mcp: McpRawStub;
let nextId = 1;
const figures: Record<string, unknown> = {};
const sql = <Row extends Record<string, unknown>>(text: string, params: unknown[] = []) =>
  suite.sql<Row>(text, params);
const post = (body: unknown, headers: Record<string, string> = {}) =>
  suite.post<JsonRpcAnswer>(body, headers);

const toolCall = (name: string, extra: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id: nextId++,
  method: "tools/call",
  params: { name, arguments: { path: "/tmp/notes.txt" }, ...extra },
});

beforeAll(async () => {
  suite = await startRawMcpSuite({
    name: "mcp-authz",
    agentName: AGENT,
    server: SERVER,
    capabilities: CAPABILITIES,
    rules: RULES,
    probe: () => toolCall("read_file"),
  });
  ({ mcp } = suite);
}, 240_000);

afterAll(async () => {
  await suite?.stop();
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
      suite.serverId,
      JSON.stringify({ default: "deny", tools: { "read_*": { deny: true } } }),
    ]);
    const started = performance.now();
    await suite.announce();
    await waitFor(
      "read_file refused",
      async () =>
        ((await post(toolCall("read_file"))).answer as JsonRpcAnswer).error?.data?.reason === "mcp_denied",
      1_000,
    );
    figures.rules_change_enforced_ms = Math.round(performance.now() - started);

    // And back: an invalid stored document refuses everything (it is never half-applied).
    await sql("UPDATE agents SET tool_rules = $2 WHERE id = $1", [
      suite.serverId,
      JSON.stringify({ tools: { "a*b": {} } }),
    ]);
    await suite.announce();
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
      suite.serverId,
      JSON.stringify(RULES),
    ]);
    await suite.announce();
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
