import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { Agent } from "node:https";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { JSONRPC_ERRORS } from "../../lib/src/mcp/protocol.js";
import { runWardenCli } from "./local-stack-fixture.js";
import { stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import {
  AGENT,
  pythonClient,
  RESOURCE_URIS,
  rawPost,
  sdkClient,
  startMcpEnvironment,
  type McpEnvironment,
  type PythonOutcome,
} from "../support/mcp-environment.js";

/**
 * MCP governance as agents meet it, through the real Envoy, authz-server, extproc-server, SPIRE and
 * control plane (test/support/mcp-environment.ts), with the official SDKs on both ends: the
 * TypeScript SDK 1.32.2 (revision 2025-11-25, sessions) as client and as the `files` server, the
 * Python SDK 2.3.0 as client (2026-07-28 against the `pyfiles` server, which speaks it). The owner's
 * tool rules: read_file, slow_report, echo_secret for every agent; create_file with the delegation
 * scope google-drive:write; share_file only with a person's approval; delete_file never.
 */
let mcp: McpEnvironment;
let client: Client;

beforeAll(async () => {
  mcp = await startMcpEnvironment("mcp-sdk-e2e", { inbound: true });
  // The registry and the tool rules reach authz-server through LISTEN/NOTIFY: wait for the first allow.
  await waitFor(
    "the tool rules on the data plane",
    async () => {
      const probe = await sdkClient(mcp, "files");
      try {
        await probe.callTool({ name: "read_file", arguments: { path: "readme.md" } });
        return true;
      } finally {
        await probe.close();
      }
    },
    30_000,
  );
  client = await sdkClient(mcp, "files", mcp.delegationHeader);
}, 300_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await mcp?.stop();
  await stopAll();
}, TEARDOWN_TIMEOUT_MS);

beforeEach(() => mcp.files.reset());

/** The McpError an SDK call raised (fails the test when it resolved). */
async function mcpErrorOf(call: Promise<unknown>): Promise<McpError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected an McpError, got ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof McpError)) throw outcome.error;
  return outcome.error;
}

function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((part) => part.text ?? "").join("");
}

function errorData(error: McpError): Record<string, unknown> {
  return (error.data ?? {}) as Record<string, unknown>;
}

describe("the TypeScript SDK (2025-11-25, sessions) through the agent's sidecar", () => {
  test("an allowed tool works and its answer comes back unchanged", async () => {
    const result = await client.callTool({ name: "read_file", arguments: { path: "readme.md" } });
    expect(textOf(result)).toBe("# files\nA test store.");
    expect(mcp.files.callsOf("read_file")).toBe(1);
  });

  test("a forbidden tool raises McpError -32050 with the reason and a decision id; the server never sees it", async () => {
    const error = await mcpErrorOf(
      client.callTool({ name: "delete_file", arguments: { path: "readme.md" } }),
    );
    expect(error.code).toBe(JSONRPC_ERRORS.WARDEN_DENIED);
    expect(errorData(error)).toMatchObject({ reason: expect.any(String), decision_id: expect.any(String) });
    expect(String(errorData(error).reason)).toMatch(/mcp_/);
    expect(mcp.files.callsOf("delete_file")).toBe(0);
    // The session survives a refusal: the next allowed call works.
    expect(textOf(await client.callTool({ name: "read_file", arguments: { path: "readme.md" } }))).toContain(
      "files",
    );
  });

  test("a tool no rule names is refused (the default is deny)", async () => {
    const error = await mcpErrorOf(client.callTool({ name: "format_disk", arguments: {} }));
    expect(error.code).toBe(JSONRPC_ERRORS.WARDEN_DENIED);
  });

  test("tools/list shows only the tools the agent may call", async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name).sort();
    expect(names).toEqual(["create_file", "echo_secret", "read_file", "share_file", "slow_report"]);
    expect(names).not.toContain("delete_file");
  });

  test("prompts and resources are governed the same way", async () => {
    const prompt = await client.getPrompt({ name: "summarize", arguments: { path: "readme.md" } });
    expect(JSON.stringify(prompt.messages)).toContain("Summarize readme.md");
    const resource = await client.readResource({ uri: "file:///readme.md" });
    expect(JSON.stringify(resource.contents)).toContain("A test store.");
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(["summarize"]);
  });

  test("a tool that needs a delegation scope works with it and is refused without it", async () => {
    const result = await client.callTool({
      name: "create_file",
      arguments: { path: "notes.md", content: "hello" },
    });
    expect(textOf(result)).toBe("created notes.md");
    const without = await sdkClient(mcp, "files");
    try {
      const error = await mcpErrorOf(
        without.callTool({ name: "create_file", arguments: { path: "x.md", content: "x" } }),
      );
      expect(error.code).toBe(JSONRPC_ERRORS.WARDEN_DENIED);
      expect(errorData(error).decision_id).toEqual(expect.any(String));
    } finally {
      await without.close();
    }
    expect(mcp.files.callsOf("create_file")).toBe(1);
  });

  test("progress notifications stream over SSE before the tool's result", async () => {
    const arrivals: { progress: number; at: number }[] = [];
    const started = Date.now();
    const result = await client.callTool(
      { name: "slow_report", arguments: { steps: 4, delay_ms: 250 } },
      undefined,
      { onprogress: (progress) => arrivals.push({ progress: progress.progress, at: Date.now() - started }) },
    );
    const resultAt = Date.now() - started;
    expect(arrivals.map((a) => a.progress)).toEqual([1, 2, 3, 4]);
    expect(textOf(result)).toBe("report done after 4 steps");
    // Streamed, not buffered: the first event arrives about when the server sent it, long before the result.
    expect(arrivals[0]!.at).toBeLessThan(resultAt - 500);
  });

  test("the agent's own Authorization header never reaches the MCP server", async () => {
    const withAuth = await sdkClient(mcp, "files", { authorization: "Bearer sk-agent-held-should-not-pass" });
    try {
      await withAuth.callTool({ name: "read_file", arguments: { path: "readme.md" } });
    } finally {
      await withAuth.close();
    }
    expect(JSON.stringify(mcp.files.requests)).not.toContain("sk-agent-held-should-not-pass");
  });
});

describe("the 2026-07-28 revision: mirrored headers, checked against the body", () => {
  const modernHeaders = (method: string, name?: string): Record<string, string> => ({
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": method,
    ...(name === undefined ? {} : { "mcp-name": name }),
  });
  const callBody = (id: number, name: string, args: Record<string, unknown>) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: {
        name,
        arguments: args,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    });

  async function raw(headers: Record<string, string>, body: string) {
    const res = await rawPost(mcp, mcp.routeUrl("pyfiles"), headers, body);
    return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
  }

  test("an Mcp-Name that disagrees with the body → HTTP 400, -32020, and the server never called", async () => {
    const before = await mcp.pyfiles.callsOf("delete_file");
    const answer = await raw(
      modernHeaders("tools/call", "read_file"),
      callBody(7, "delete_file", { path: "a" }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      jsonrpc: "2.0",
      id: 7,
      error: {
        code: JSONRPC_ERRORS.HEADER_MISMATCH,
        data: { reason: "mcp_header_mismatch", decision_id: expect.any(String) },
      },
    });
    expect(await mcp.pyfiles.callsOf("delete_file")).toBe(before);
    expect(await mcp.pyfiles.callsOf("read_file")).toBe(0);
  });

  test("an Mcp-Method that disagrees with the body → HTTP 400, -32020", async () => {
    const answer = await raw(modernHeaders("tools/list"), callBody(8, "read_file", { path: "readme.md" }));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ id: 8, error: { code: JSONRPC_ERRORS.HEADER_MISMATCH } });
  });

  test("a matching raw 2026-07-28 call is allowed, and a forbidden one refused with the request's id", async () => {
    const allowed = await raw(
      modernHeaders("tools/call", "read_file"),
      callBody(9, "read_file", { path: "readme.md" }),
    );
    expect(allowed.status).toBe(200);
    expect(JSON.stringify(allowed.body)).toContain("A test store.");
    const refused = await raw(
      modernHeaders("tools/call", "delete_file"),
      callBody(10, "delete_file", { path: "a" }),
    );
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({ id: 10, error: { code: JSONRPC_ERRORS.WARDEN_DENIED } });
  });
});

describe("the Python SDK (mcp 2.3.0)", () => {
  const steps = [
    { op: "list_tools" as const },
    { op: "call_tool" as const, name: "read_file", arguments: { path: "readme.md" } },
    { op: "call_tool" as const, name: "delete_file", arguments: { path: "readme.md" } },
    { op: "call_tool" as const, name: "slow_report", arguments: { steps: 3, delay_ms: 100 }, progress: true },
  ];
  function expectGoverned(outcomes: PythonOutcome[]) {
    const [list, read, del, report] = outcomes;
    const names = ((list!.ok?.tools ?? []) as { name: string }[]).map((tool) => tool.name).sort();
    // This client carries no delegation: create_file (which needs its scope) is not even listed.
    expect(names).toEqual(["echo_secret", "read_file", "share_file", "slow_report"]);
    expect(JSON.stringify(read!.ok)).toContain("A test store.");
    expect(del!.error).toMatchObject({
      code: JSONRPC_ERRORS.WARDEN_DENIED,
      data: { reason: expect.any(String), decision_id: expect.any(String) },
    });
    expect(report!.progress).toEqual([1, 2, 3]);
  }

  test("speaking 2026-07-28 to a server that does, it is governed like the TypeScript client", async () => {
    const { outcomes, protocolVersion } = await pythonClient(mcp, "pyfiles", "auto", steps);
    expect(protocolVersion).toBe("2026-07-28");
    expectGoverned(outcomes);
    expect(await mcp.pyfiles.callsOf("delete_file")).toBe(0);
  });

  test("through the initialize handshake (2025-11-25) to the TypeScript server, governed the same", async () => {
    const { outcomes, protocolVersion } = await pythonClient(mcp, "files", "auto", steps);
    expect(protocolVersion).toBe("2025-11-25");
    expectGoverned(outcomes);
    expect(mcp.files.callsOf("delete_file")).toBe(0);
  });
});

describe("a tool that needs a person's approval", () => {
  /**
   * The call, retried while the approval store did not answer within its deadline (503
   * approval_unavailable, "retry shortly": on this shared machine a cold database connection can
   * take longer than the gate may wait).
   */
  async function share(recipient: string): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.callTool({ name: "share_file", arguments: { path: "readme.md", recipient } });
      } catch (error) {
        if (attempt >= 5 || !String(error).includes("approval_unavailable")) throw error;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
  }

  test("held → approved with `warden approvals approve` → the identical retry passes once; a modified one is held", async () => {
    const held = await mcpErrorOf(share("bob@acme.example"));
    expect(held.code).toBe(JSONRPC_ERRORS.APPROVAL_REQUIRED);
    const data = errorData(held);
    expect(data).toMatchObject({
      reason: "approval_required",
      decision_id: expect.any(String),
      approval_id: expect.any(String),
      approval_url: expect.any(String),
      expires_at: expect.any(String),
    });
    expect(mcp.files.callsOf("share_file")).toBe(0);
    // Asking again before anyone decides: the same pending approval, still held.
    const again = await mcpErrorOf(share("bob@acme.example"));
    expect(errorData(again).approval_id).toBe(data.approval_id);

    // The delegating user approves with the CLI, as docs/mcp.md shows.
    const approved = await runWardenCli(
      ["approvals", "approve", String(data.approval_id), "--note", "once"],
      {
        ...process.env,
        WARDEN_API_URL: mcp.env.controlPlane.url,
        WARDEN_TOKEN: mcp.tokens.user,
      },
    );
    expect({ code: approved.code, stderr: approved.stderr }).toEqual({ code: 0, stderr: "" });

    const passed = await share("bob@acme.example");
    expect(textOf(passed)).toBe("shared readme.md with bob@acme.example");
    expect(mcp.files.callsOf("share_file")).toBe(1);

    // Single use: the approval is consumed; the same call again is held anew.
    const reused = await mcpErrorOf(share("bob@acme.example"));
    expect(reused.code).toBe(JSONRPC_ERRORS.APPROVAL_REQUIRED);
    expect(errorData(reused).approval_id).not.toBe(data.approval_id);
    // Other arguments are another call: held, not passed on the first approval.
    const modified = await mcpErrorOf(share("mallory@evil.example"));
    expect(modified.code).toBe(JSONRPC_ERRORS.APPROVAL_REQUIRED);
    expect(mcp.files.callsOf("share_file")).toBe(1);
  });

  test("a call rejected through the control-plane API stays refused", async () => {
    const held = await mcpErrorOf(share("carol@acme.example"));
    const id = String(errorData(held).approval_id);
    const rejected = await mcp.env.controlPlane.call("POST", `/v1/approvals/${id}/reject`, {
      token: mcp.tokens.user,
      body: { note: "not this one" },
    });
    expect(rejected.status).toBe(200);
    const after = await mcpErrorOf(share("carol@acme.example"));
    expect([JSONRPC_ERRORS.WARDEN_DENIED, JSONRPC_ERRORS.APPROVAL_REQUIRED]).toContain(after.code);
    expect(mcp.files.callsOf("share_file")).toBe(0);
  });
});

describe("the server behind its own inbound sidecar", () => {
  const call = (id: number, name: string) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name, arguments: { path: "readme.md" } },
    });
  const handshakeHeaders = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };

  async function mint(server: "files" | "pyfiles"): Promise<string> {
    const res = await mcp.env.controlPlane.call<{ access_token: string }>(
      "POST",
      `/v1/mcp-servers/${server}/tokens`,
      { token: mcp.tokens.owner, body: { agent_id: mcp.agent.id, ttl_seconds: 300 } },
    );
    expect(res.status).toBe(201);
    return res.body.access_token;
  }

  test("through the agent's sidecar and the inbound sidecar, the TypeScript SDK is governed the same", async () => {
    const chained = await sdkClient(mcp, "files", {}, mcp.inbound!.chainUrl);
    try {
      expect(
        textOf(await chained.callTool({ name: "read_file", arguments: { path: "readme.md" } })),
      ).toContain("A test store.");
      const error = await mcpErrorOf(
        chained.callTool({ name: "delete_file", arguments: { path: "readme.md" } }),
      );
      expect(error.code).toBe(JSONRPC_ERRORS.WARDEN_DENIED);
      expect(errorData(error).decision_id).toEqual(expect.any(String));
      // SSE through both sidecars: every progress event, then the result.
      const progress: number[] = [];
      const report = await chained.callTool(
        { name: "slow_report", arguments: { steps: 3, delay_ms: 100 } },
        undefined,
        { onprogress: (event) => progress.push(event.progress) },
      );
      expect(progress).toEqual([1, 2, 3]);
      expect(textOf(report)).toBe("report done after 3 steps");
    } finally {
      await chained.close();
    }
    expect(mcp.files.callsOf("read_file")).toBe(1);
    expect(mcp.files.callsOf("delete_file")).toBe(0);
  });

  test("an agent with an SVID but no registration is refused, and the server never called", async () => {
    const answer = await rawPost(mcp, mcp.inbound!.url, handshakeHeaders, call(3, "read_file"), {
      svid: mcp.stranger!,
    });
    expect([401, 403, 200]).toContain(answer.status);
    const body = JSON.parse(answer.body) as { error?: { code: number; data?: Record<string, unknown> } };
    expect(body.error?.code).toBe(JSONRPC_ERRORS.WARDEN_DENIED);
    expect(body.error?.data?.decision_id).toEqual(expect.any(String));
    expect(mcp.files.callsOf("read_file")).toBe(0);
  });

  test("a bearer token minted for another server's resource URI is refused with a 401 challenge", async () => {
    const foreign = await mint("pyfiles");
    const answer = await rawPost(
      mcp,
      mcp.inbound!.url,
      { ...handshakeHeaders, authorization: `Bearer ${foreign}` },
      call(4, "read_file"),
      {},
    );
    expect(answer.status).toBe(401);
    expect(String(answer.headers["www-authenticate"])).toMatch(/^Bearer /);
    expect(String(answer.headers["www-authenticate"])).toContain('error="invalid_token"');
    expect(String(answer.headers["www-authenticate"])).toContain("resource_metadata=");
    expect(JSON.parse(answer.body)).toMatchObject({
      id: 4,
      error: { data: { decision_id: expect.any(String) } },
    });
    expect(mcp.files.callsOf("read_file")).toBe(0);
    expect(RESOURCE_URIS.pyfiles).not.toBe(RESOURCE_URIS.files);
  });

  test("a bearer token minted for this server lets a client without an SVID in, and never goes upstream", async () => {
    const token = await mint("files");
    // No client certificate: the inbound sidecar's own certificate is checked against the bundle.
    const noSvid = new Agent({ ca: mcp.bundlePem, checkServerIdentity: () => undefined });
    const client = await sdkClient(
      mcp,
      "files",
      { authorization: `Bearer ${token}` },
      mcp.inbound!.url,
      noSvid,
    );
    try {
      const result = await client.callTool({ name: "read_file", arguments: { path: "readme.md" } });
      expect(textOf(result)).toContain("A test store.");
    } finally {
      await client.close();
      noSvid.destroy();
    }
    expect(JSON.stringify(mcp.files.requests)).not.toContain(token.split(".")[2]!);
  });
});

describe("audit", () => {
  interface AuditEvent {
    action: string;
    decision: string;
    decision_id: string | null;
  }
  async function events(action?: string): Promise<AuditEvent[]> {
    const query = new URLSearchParams({
      agent_spiffe_id: AGENT,
      limit: "500",
      ...(action ? { action } : {}),
    });
    const res = await mcp.env.controlPlane.call<{ items: AuditEvent[] }>("GET", `/v1/audit/events?${query}`, {
      token: mcp.tokens.admin,
    });
    expect(res.status).toBe(200);
    return res.body.items;
  }

  test("a refused call is in the audit log under its decision id, and the approval's life too", async () => {
    const error = await mcpErrorOf(client.callTool({ name: "delete_file", arguments: { path: "audit.md" } }));
    const decisionId = String(errorData(error).decision_id);
    await waitFor(
      "the refusal in the audit log",
      async () =>
        (await events()).some((event) => event.decision_id === decisionId && event.decision === "deny"),
      15_000,
    );
    // The approval test above held, approved (with the CLI) and used one approval.
    for (const action of ["mcp.approval.requested", "mcp.approval.approved", "mcp.approval.used"]) {
      await waitFor(`${action} in the audit log`, async () => (await events(action)).length > 0, 15_000);
    }
  });
});
