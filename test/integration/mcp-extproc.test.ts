import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { mcpDestination } from "../../lib/src/envoy/destinations.js";
import {
  followingControlPlane,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from "../harness/control-plane.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { REPO_ROOT, stopAll, TEARDOWN_TIMEOUT_MS, waitFor } from "../harness/process.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../harness/spire.js";
import { destinationsWithServiceAt, startStack, type Stack } from "../harness/stack.js";
import type { VaultTls } from "../harness/vault-tls.js";
import { connectDrive, extprocDatabaseLogin, startDriveWorld } from "../support/drive-connection.js";
import { registerMcpServerRow } from "../support/mcp-server-row.js";
import { startMcpRawStub, type McpRawStub } from "../stubs/mcp-raw.js";
import { startOAuthProviderStub, type OAuthProviderStub } from "../stubs/oauth-provider.js";
import { StubOidcIssuer } from "../stubs/oidc-issuer.js";
import { grant, registerAgent, svidAgent, type Entry } from "./delegation-fixture.js";

/**
 * What extproc-server does to MCP traffic, through the real sidecar: SPIRE SVIDs, Envoy,
 * authz-server (delegations checked against the control plane's JWKS), extproc-server (OpenBao TLS
 * cert auth, PostgreSQL audit), the control plane. Third parties are stubs: a raw JSON-RPC/SSE MCP
 * server (test/stubs/mcp-raw.ts) and an OAuth provider for the user's Google Drive connection.
 *
 * The policy is the shipped one: authz-server reads two registered MCP servers (both the stub) and
 * their tool rules from PostgreSQL, and its decision metadata (`mcp`, `mcp_visibility`,
 * `mcp_upstream_credentials`) is what extproc-server acts on. `docs` calls no external service;
 * `drive-docs` is registered as calling Google Drive for its users, so the delegating user's token
 * goes upstream. `drive-inbound` (the same stub, also calling Google Drive) sits behind its own Warden
 * inbound sidecar: the agent's sidecar forwards the delegation there, and the inbound sidecar injects.
 */
const TD = "warden.local";
const CLIENT = { clientId: "warden-drive-client", clientSecret: "stub-client-secret-5b2e9c1d" };
const INBOUND_ENVOY_UID = 10110;
const AGENT_SECRET = "Bearer agent-own-secret-9f8e7d6c5b4a";

/**
 * The agent's attested capabilities: the servers (`mcp:{service}`, for methods other than
 * tools/call) and the tools (`mcp:{tool}`): a list shows only tools it may call.
 */
const TOOLS = ["read_0", "read_2", "read_4", "read_list", "echo_auth", "fail", "slow", "big"];
const CAPABILITIES = [
  "google-drive:read",
  "mcp:docs",
  "mcp:drive-docs",
  "mcp:drive-inbound",
  ...TOOLS.map((tool) => `mcp:${tool}`),
];

/** The MCP servers' tool rules, as owners set them (the shipped policy decides with them). */
const RULES = {
  default: "deny",
  tools: {
    "read_*": { agents: ["*"] },
    echo_auth: { agents: ["*"] },
    fail: { agents: ["*"], audit_arguments: true },
    slow: { agents: ["*"] },
    big: { agents: ["*"] },
  },
};

let work: string;
let spire: SpireStack;
let cluster: PostgresCluster;
let databaseUrl: string;
let vault: VaultTls;
let oidc: StubOidcIssuer;
let cp: ControlPlaneProcess;
let provider: OAuthProviderStub;
let mcp: McpRawStub;
let stack: Stack;
let inbound: Stack;
let helper: Entry;
let agent: HttpsAgent;
let ursulaDelegation: string;
let victorDelegation: string;
let nextId = 1;
const figures: Record<string, unknown> = {};
const agentSaw: string[] = [];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** performance.now() when each chunk arrived. */
  chunks: { at: number; text: string }[];
}

function post(
  method: string,
  options: {
    name?: string;
    headers?: Record<string, string>;
    params?: unknown;
    id?: number | null;
    server?: string;
  } = {},
): Promise<Answer> {
  const id = options.id === undefined ? nextId++ : options.id;
  const body = JSON.stringify({
    jsonrpc: "2.0",
    ...(id === null ? {} : { id }),
    method,
    params: options.params ?? (options.name ? { name: options.name, arguments: {} } : {}),
  });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${stack.agentUrl}/mcp/${options.server ?? "docs"}/`,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: AGENT_SECRET,
          ...options.headers,
        },
      },
      (res) => {
        const chunks: { at: number; text: string }[] = [];
        res.setEncoding("utf8");
        res.on("data", (text: string) => chunks.push({ at: performance.now(), text }));
        res.on("end", () => {
          const text = chunks.map((c) => c.text).join("");
          agentSaw.push(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, chunks });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/** A raw JSON body (a batch) to one MCP server, without the mirrored headers. */
function postRaw(server: string, body: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${stack.agentUrl}/mcp/${server}/`,
      { method: "POST", agent, headers: { "content-type": "application/json", accept: "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (part: string) => (text += part));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, chunks: [] }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** The JSON-RPC messages of an SSE body, in order. */
function sseMessages(body: string): Record<string, unknown>[] {
  return body
    .split(/\r?\n\r?\n/)
    .map((event) =>
      event
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n"),
    )
    .filter((data) => data !== "")
    .map((data) => JSON.parse(data) as Record<string, unknown>);
}

const toolNames = (message: Record<string, unknown>) =>
  ((message.result as { tools: { name: string }[] }).tools ?? []).map((tool) => tool.name);

function sql<Row extends Record<string, unknown> = Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
) {
  return cluster.sql<Row>(text, params, new URL(databaseUrl).pathname.slice(1));
}

function rssMiB(pid: number | undefined): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: Math.round(kib("VmRSS") / 1024), hwm: Math.round(kib("VmHWM") / 1024) };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wmcpx-"));
  chmodSync(work, 0o755);
  spire = await startSpire({ name: "mcp-extproc-spire", trustDomain: TD });
  cluster = await startPostgres();
  databaseUrl = await cluster.createDatabase("mcpextproc");
  oidc = await StubOidcIssuer.start();
  provider = await startOAuthProviderStub(CLIENT);
  mcp = await startMcpRawStub();
  const world = await startDriveWorld("mcp-extproc", work, provider.url, CLIENT);
  vault = world.vault;

  cp = await startControlPlaneProcess({
    name: "mcp-extproc-cp",
    databaseUrl,
    oidcIssuer: oidc.issuer,
    env: {
      VAULT_ADDR: vault.address,
      VAULT_TOKEN: world.controlPlaneToken,
      NODE_EXTRA_CA_CERTS: vault.caFile,
      WARDEN_SAAS_CATALOGUE: world.catalogue,
      WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: "127.0.0.1",
    },
  });
  const [creator, reviewer, ursula, victor] = await Promise.all([
    oidc.token({ sub: "carl-creator", roles: ["creator"] }),
    oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
    oidc.token({ sub: "ursula", roles: ["user"], tenant: "acme" }),
    oidc.token({ sub: "victor", roles: ["user"], tenant: "acme" }),
  ]);
  helper = await registerAgent(cp, creator, reviewer, {
    name: "docs-helper",
    capabilities: CAPABILITIES,
    verified: CAPABILITIES,
  });
  // The MCP servers' registry rows, as the control plane stores them, announced as it does.
  for (const [name, externalServices] of [
    ["docs", []],
    ["drive-docs", ["google-drive"]],
    ["drive-inbound", ["google-drive"]],
  ] as const)
    await registerMcpServerRow(sql, { name, trustDomain: TD, rules: RULES, externalServices });
  await spire.register(helper.spiffe_id, [currentProcessSelector()]);
  const extprocDatabaseUrl = await extprocDatabaseLogin(cluster, databaseUrl, "mcp_extproc_test");

  const authzEnv = await followingControlPlane(cluster, databaseUrl, cp.url, { acceptTokens: true });
  // Each sidecar's extproc-server writes its own usage spool.
  const extprocEnv = (spoolFile: string): NodeJS.ProcessEnv => ({
    ...world.extprocEnv,
    WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: "127.0.0.1",
    DATABASE_URL: extprocDatabaseUrl,
    WARDEN_USAGE_SPOOL: join(dirname(String(world.extprocEnv.WARDEN_USAGE_SPOOL)), spoolFile),
  });
  inbound = await startStack({
    name: "mcp-extproc-inbound",
    spire,
    policyDir: join(REPO_ROOT, "policies"),
    destinations: () => [
      mcpDestination("drive-inbound", { address: "127.0.0.1", port: mcp.port, tls: false }),
    ],
    authzEnv,
    extprocEnv: extprocEnv("usage-inbound.ndjson"),
    inbound: {
      params: {
        server: "drive-inbound",
        resourceUri: "https://drive-inbound.example/mcp",
        authorizationServers: [cp.url],
      },
      envoyUid: INBOUND_ENVOY_UID,
    },
  });
  stack = await startStack({
    name: "mcp-extproc",
    spire,
    policyDir: join(REPO_ROOT, "policies"),
    destinations: (upstream) => [
      ...destinationsWithServiceAt("google-drive", provider.port)(upstream),
      mcpDestination("docs", { address: "127.0.0.1", port: mcp.port, tls: false }),
      mcpDestination("drive-docs", { address: "127.0.0.1", port: mcp.port, tls: false }),
      mcpDestination("drive-inbound", {
        address: "127.0.0.1",
        port: inbound.agentPort,
        tls: true,
        spiffeId: `spiffe://${TD}/mcp/drive-inbound`,
      }),
    ],
    authzEnv,
    extprocEnv: extprocEnv("usage.ndjson"),
  });
  const update = await spire.waitForSvid(helper.spiffe_id);
  agent = svidAgent(
    update.svids.find((s) => s.spiffeId === helper.spiffe_id)!,
    update.bundlesPem,
  );
  const connected = await connectDrive(cp, ursula);
  if (connected.status !== 200) throw new Error(`connect Drive: ${connected.status}`);
  ursulaDelegation = (await grant(cp, ursula, { agent_id: helper.id, scopes: ["google-drive:read"] })).token;
  victorDelegation = (await grant(cp, victor, { agent_id: helper.id, scopes: ["google-drive:read"] })).token;
  await waitFor(
    "the agent and the MCP servers to be known",
    async () => (await post("tools/call", { name: "read_0" })).status === 200,
    30_000,
  );
}, 300_000);

afterAll(async () => {
  agent?.destroy();
  await stack?.stop();
  await inbound?.stop();
  await cp?.stop();
  await mcp?.close();
  await provider?.close();
  await oidc?.close();
  await vault?.stop();
  await cluster?.destroy();
  await spire?.stop();
  await stopAll();
  if (work) rmSync(work, { recursive: true, force: true });
  process.stdout.write(`mcp extproc figures: ${JSON.stringify(figures, null, 2)}\n`);
}, TEARDOWN_TIMEOUT_MS);

describe("list answers show only what the caller may use", () => {
  test("a JSON tools/list keeps the visible tools, its id and its cursor", async () => {
    const res = await post("tools/list", { id: 77 });
    expect(res.status).toBe(200);
    const message = JSON.parse(res.body) as Record<string, unknown>;
    expect(message).toMatchObject({ jsonrpc: "2.0", id: 77, result: { nextCursor: "next-page" } });
    expect(toolNames(message)).toEqual(["read_0", "read_2", "read_4"]);
  });

  test("a batch (no single call, so no visibility in the decision) gets empty lists: fail closed", async () => {
    const res = await postRaw("docs", [
      { jsonrpc: "2.0", id: 501, method: "tools/list", params: {} },
      { jsonrpc: "2.0", id: 502, method: "tools/list", params: {} },
    ]);
    expect(res.status).toBe(200);
    const answers = JSON.parse(res.body) as Record<string, unknown>[];
    expect(answers.map((answer) => answer.id)).toEqual([501, 502]);
    for (const answer of answers) expect(toolNames(answer)).toEqual([]);
  });

  test("an SSE answer: the notification passes unchanged, the response event is filtered", async () => {
    const res = await post("tools/list", { headers: { "x-stub-answer": "sse" } });
    expect(res.headers["content-type"]).toContain("text/event-stream");
    const [note, answer] = sseMessages(res.body);
    expect(note).toMatchObject({ method: "notifications/progress" });
    expect(toolNames(answer!)).toEqual(["read_0", "read_2", "read_4"]);
  });

  test("5,000- and 30,000-tool lists (JSON and SSE) are filtered whole, streamed; the cost is measured", async () => {
    const headers = { "x-stub-tools": "5000" };
    const timings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const res = await post("tools/list", { headers });
      timings.push(performance.now() - started);
      const names = toolNames(JSON.parse(res.body) as Record<string, unknown>);
      // write_* have no rule; read_* beyond the attested ones lack the capability.
      expect(names).toEqual(["read_0", "read_2", "read_4"]);
    }
    const sse = await post("tools/list", { headers: { ...headers, "x-stub-answer": "sse" } });
    expect(toolNames(sseMessages(sse.body)[1]!)).toEqual(["read_0", "read_2", "read_4"]);
    // The same list as a tool's result (tools/call: scrubbed, not filtered): the filter's share.
    const unfiltered: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const res = await post("tools/call", { name: "read_list", headers });
      unfiltered.push(performance.now() - started);
      bytes = res.body.length;
      expect(toolNames(JSON.parse(res.body) as Record<string, unknown>)).toHaveLength(5000);
    }
    // Far above Envoy's 1 MiB buffer limit: streamed, never stalled.
    const huge = await post("tools/list", { headers: { "x-stub-tools": "30000" } });
    expect(huge.status).toBe(200);
    expect(toolNames(JSON.parse(huge.body) as Record<string, unknown>)).toEqual([
      "read_0",
      "read_2",
      "read_4",
    ]);
    figures.list_5000_tools = {
      answer_bytes: bytes,
      filtered_ms: timings.map(Math.round),
      unfiltered_ms: unfiltered.map(Math.round),
    };
  });
});

describe("tool results", () => {
  test("the user's token goes upstream in place of the agent's; echoed back, it never reaches the agent", async () => {
    for (const answer of ["json", "sse"]) {
      const before = mcp.requests.length;
      const res = await post("tools/call", {
        name: "echo_auth",
        server: "drive-docs",
        headers: {
          "x-warden-delegation": ursulaDelegation,
          "x-stub-answer": answer,
        },
      });
      expect(res.status).toBe(200);
      const seen = mcp.requests.slice(before);
      expect(seen).toHaveLength(1);
      const upstreamAuth = String(seen[0]!.headers.authorization);
      expect(provider.issued).toContain(upstreamAuth.replace(/^Bearer /, ""));
      expect(res.body).toContain("I was called with Bearer [REDACTED]");
      for (const token of provider.issued) expect(res.body).not.toContain(token);
    }
  });

  test("behind a Warden inbound sidecar: the delegation goes on to it, and it injects the user's token", async () => {
    const before = mcp.requests.length;
    const res = await post("tools/call", {
      name: "echo_auth",
      server: "drive-inbound",
      headers: { "x-warden-delegation": ursulaDelegation },
    });
    expect(res.status).toBe(200);
    const seen = mcp.requests.slice(before);
    expect(seen).toHaveLength(1);
    const upstreamAuth = String(seen[0]!.headers.authorization);
    expect(provider.issued).toContain(upstreamAuth.replace(/^Bearer /, ""));
    expect(seen[0]!.headers["x-warden-delegation"]).toBeUndefined();
    expect(seen[0]!.headers["x-forwarded-client-cert"]).toBeUndefined();
    expect(res.body).toContain("I was called with Bearer [REDACTED]");
    for (const token of provider.issued) expect(res.body).not.toContain(token);
  });

  test("behind a Warden inbound sidecar without a delegation: a JSON-RPC refusal, nothing upstream", async () => {
    const before = mcp.requests.length;
    const res = await post("tools/call", { id: 9002, name: "echo_auth", server: "drive-inbound" });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({
      jsonrpc: "2.0",
      id: 9002,
      error: { code: -32050, data: { reason: "delegation_required", service: "google-drive" } },
    });
    expect(mcp.requests.length).toBe(before);
  });

  test("the agent's own Authorization never reaches the MCP server", () => {
    expect(mcp.requests.length).toBeGreaterThan(0);
    for (const request of mcp.requests) {
      expect(request.headers.authorization ?? "").not.toContain("agent-own-secret");
      expect(request.headers["x-warden-delegation"]).toBeUndefined();
    }
  });

  test("a user without a connected account gets a JSON-RPC error with its id and a clear reason; nothing goes upstream", async () => {
    const before = mcp.requests.length;
    const res = await post("tools/call", {
      id: 9001,
      name: "echo_auth",
      server: "drive-docs",
      headers: { "x-warden-delegation": victorDelegation },
    });
    expect(res.status).toBe(409);
    expect(JSON.parse(res.body)).toMatchObject({
      jsonrpc: "2.0",
      id: 9001,
      error: { code: -32050, data: { reason: "account_not_connected", service: "google-drive" } },
    });
    expect((JSON.parse(res.body) as { error: { message: string } }).error.message).toContain("connect");
    expect(mcp.requests.length).toBe(before);
  });

  test("an SSE tool result streams through event by event", async () => {
    const res = await post("tools/call", { name: "slow", headers: { "x-stub-answer": "sse-slow" } });
    const messages = sseMessages(res.body);
    expect(messages.map((m) => (m.method as string | undefined) ?? "result")).toEqual([
      "notifications/progress",
      "notifications/progress",
      "notifications/progress",
      "result",
    ]);
    const lastSent = mcp.slowWrites[mcp.slowWrites.length - 1]!;
    expect(res.chunks[0]!.at).toBeLessThan(lastSent);
    figures.sse_first_event_before_last_sent_ms = Math.round(lastSent - res.chunks[0]!.at);
  });

  test.each(["tools/call", "tools/list"])(
    "a 20 MB SSE answer to %s streams through with bounded memory; Envoy stays up",
    async (method) => {
      const extprocPid = stack.extproc.process().pid;
      const before = rssMiB(extprocPid);
      const started = performance.now();
      const res = await post(method, {
        name: method === "tools/call" ? "big" : undefined,
        headers: { "x-stub-answer": "sse-big", "x-stub-bytes": String(20 * 1024 * 1024) },
      });
      const after = rssMiB(extprocPid);
      expect(res.status).toBe(200);
      expect(res.body.length).toBeGreaterThan(20 * 1024 * 1024);
      const last = sseMessages(res.body).pop()!;
      if (method === "tools/call")
        expect(last).toMatchObject({ result: { content: [{ text: "called big" }] } });
      else expect(toolNames(last)).toEqual(["read_0", "read_2", "read_4"]);
      expect(after.rss - before.rss).toBeLessThan(64);
      figures[`sse_20mb_${method}`] = {
        seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
        extproc_rss_mib_before: before.rss,
        extproc_rss_mib_after: after.rss,
        extproc_peak_mib: after.hwm,
      };
      expect((await post("tools/call", { name: "read_0" })).status).toBe(200);
    },
    120_000,
  );
});

describe("every MCP call is audited", () => {
  test("one mcp.call row per call, with identity, method, name, digest, outcome and latency; no secret in any row", async () => {
    const marker = nextId;
    await post("tools/call", {
      id: marker,
      name: "fail",
      server: "drive-docs",
      headers: { "x-warden-delegation": ursulaDelegation },
      params: { name: "fail", arguments: { path: "/x", api_key: "sk-live-audit-secret-123456" } },
    });
    const query = () =>
      sql<{ row: Record<string, unknown> }>(
        "SELECT to_jsonb(a) AS row FROM audit_events a WHERE action = 'mcp.call' AND details->>'name' = 'fail'",
      );
    await waitFor("the mcp.call row of the failing call", async () => (await query()).length > 0, 15_000);
    const rows = await query();
    expect(rows).toHaveLength(1);
    const row = rows[0]!.row;
    expect(row).toMatchObject({
      source: "extproc-server",
      tenant: "acme",
      agent_spiffe_id: helper.spiffe_id,
      user_id: "ursula",
      details: {
        server: "drive-docs",
        method: "tools/call",
        name: "fail",
        outcome: { kind: "tool_error" },
        upstream_credentials: "google-drive",
        arguments: { path: "/x", api_key: "[REDACTED]" },
      },
    });
    expect(row.delegation_id).toBeTruthy();
    expect(String((row.details as { arguments_digest: string }).arguments_digest)).toMatch(
      /^sha256:[0-9a-f]{64}$/,
    );
    expect(row.decision_id).toBeTruthy();
    expect(Number(row.latency_ms)).toBeGreaterThan(0);

    const all = await sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE action = 'mcp.call'",
    );
    figures.mcp_call_rows = all[0]!.n;
    const refused = await sql(
      "SELECT 1 FROM audit_events WHERE action = 'mcp.call' AND details->'outcome'->>'kind' = 'refused' AND user_id = 'victor'",
    );
    expect(refused).toHaveLength(1);
    const audit = JSON.stringify(await sql("SELECT * FROM audit_events"));
    for (const secret of [...provider.issued, "agent-own-secret", "sk-live-audit-secret", ursulaDelegation])
      expect(audit).not.toContain(secret);
    for (const body of agentSaw) for (const token of provider.issued) expect(body).not.toContain(token);
  });
});
