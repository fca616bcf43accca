import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { runWarden } from "../../control-plane/src/cli/warden.js";
import { createLogger } from "../../lib/src/logger.js";
import { parseRevocationNotice } from "../../lib/src/tokens/revocation-notice.js";
import { verificationKeysFromJwks } from "../../lib/src/tokens/jws.js";
import { checkBearerUse, verifyResourceToken, verifyTokenSignature } from "../../lib/src/tokens/verify.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import { registerAgent, type Entry } from "./delegation-fixture.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

/**
 * MCP governance through the control plane's API on the real PostgreSQL and OpenBao: owners set
 * tool rules (checked, versioned, audited, announced), MCP servers get a resource URI, and bearer
 * tokens minted for one server verify against the published JWKS and die when revoked.
 */
type ErrorReply = {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
};
type RulesState = {
  server_id: string;
  server: string;
  rules: Record<string, unknown> | null;
  version: number;
  warnings: { field: string; message: string }[];
};
type Minted = {
  access_token: string;
  token_type: string;
  expires_in: number;
  expires_at: string;
  scope: string;
  audience: string;
  jti: string;
  agent_spiffe_id: string;
};

const RESOURCE = "https://drive-mcp.example.com/mcp";
let f: ControlPlaneFixture;
let tokens: Record<"admin" | "olive" | "carl" | "rita" | "globex", string>;
let server: { id: string; name: string; version: number };
let helper: Entry;
let registryNotices: Record<string, unknown>[];
let revocationPayloads: string[];
let listener: pg.Client;
const logLines: string[] = [];

beforeAll(async () => {
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString("utf8"));
      done();
    },
  });
  f = await startControlPlaneFixture({
    vault: true,
    logger: createLogger("control-plane", "debug", capture),
  });
  tokens = {
    admin: await f.token({ sub: "ada-admin", roles: ["admin"] }),
    olive: await f.token({ sub: "olive-owner", roles: ["creator"] }),
    carl: await f.token({ sub: "carl-creator", roles: ["creator"] }),
    rita: await f.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
    globex: await f.token({ sub: "gina", roles: ["admin"], tenant: "globex" }),
  };
  const created = await f.call<{ id: string; name: string; version: number }>("POST", "/v1/mcp-servers", {
    token: tokens.olive,
    body: {
      name: "drive-mcp",
      tenant: "acme",
      team: "platform",
      type: "mcp",
      environment: "production",
      resource_uri: RESOURCE,
    },
  });
  expect(created.status).toBe(201);
  server = created.body;
  helper = await registerAgent(f, tokens.carl, tokens.rita, {
    name: "drive-helper",
    team: "engineering",
    capabilities: ["google-drive:read", "google-drive:write", "github:read"],
    verified: ["google-drive:read", "google-drive:write"],
  });
  registryNotices = [];
  revocationPayloads = [];
  listener = new pg.Client({ connectionString: f.databaseUrl! });
  await listener.connect();
  listener.on("notification", (n) => {
    if (n.channel === "warden_registry")
      registryNotices.push(JSON.parse(n.payload ?? "{}") as Record<string, unknown>);
    else revocationPayloads.push(n.payload ?? "");
  });
  await listener.query("LISTEN warden_registry");
  await listener.query("LISTEN warden_delegations");
}, 120_000);

afterAll(async () => {
  await listener?.end();
  await f?.close();
}, TEARDOWN_TIMEOUT_MS);

async function waitFor<T>(find: () => T | undefined, what: string, withinMs = 1_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not seen within ${withinMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const etag = async (token = tokens.olive) =>
  (await f.call("GET", `/v1/mcp-servers/${server.id}/tool-rules`, { token })).headers.get("etag")!;

const putRules = (body: unknown, token: string, ifMatch?: string) =>
  f.call<RulesState & ErrorReply>("PUT", `/v1/mcp-servers/drive-mcp/tool-rules`, {
    token,
    body,
    headers: ifMatch ? { "if-match": ifMatch } : {},
  });

const RULES = {
  tools: {
    list_files: { agents: ["drive-helper"], scopes: ["google-drive:read"] },
    create_file: { teams: ["engineering"], approval: "required", audit_arguments: true },
    "delete_*": { deny: true },
  },
};

describe("resource URIs of MCP servers", () => {
  test("the resource URI given at registration is shown by GET", async () => {
    const got = await f.call<{ resource_uri: string | null; tool_rules: unknown }>(
      "GET",
      `/v1/mcp-servers/${server.id}`,
      { token: tokens.carl },
    );
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ resource_uri: RESOURCE, tool_rules: null });
  });

  test.each([
    ["http://mcp.example.com/mcp", "must be an https URI"],
    ["https://mcp.example.com/mcp#frag", "must not have a fragment"],
    ["mcp.example.com", "must be an absolute URI"],
    ["https://user:pw@mcp.example.com/", "must not carry user info"],
    ["HTTPS://MCP.example.com/", "lower case"],
  ])("%s is refused with a reason naming resource_uri", async (uri, reason) => {
    const res = await f.call<ErrorReply>("POST", "/v1/mcp-servers", {
      token: tokens.olive,
      body: { name: "bad-uri", tenant: "acme", team: "t", type: "mcp", environment: "e", resource_uri: uri },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      { field: "resource_uri", message: expect.stringContaining(reason) },
    ]);
  });

  test("http is accepted on loopback hosts, a duplicate is a 409, and an update can change or remove it", async () => {
    const local = await f.call<{ id: string; resource_uri: string }>("POST", "/v1/mcp-servers", {
      token: tokens.olive,
      body: {
        name: "local-mcp",
        tenant: "acme",
        team: "t",
        type: "mcp",
        environment: "dev",
        resource_uri: "http://127.0.0.1:8931/mcp",
      },
    });
    expect(local.status).toBe(201);
    const duplicate = await f.call<ErrorReply>("POST", "/v1/mcp-servers", {
      token: tokens.olive,
      body: {
        name: "copy-mcp",
        tenant: "acme",
        team: "t",
        type: "mcp",
        environment: "e",
        resource_uri: RESOURCE,
      },
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.message).toMatch(/resource_uri/);

    const current = await f.call("GET", `/v1/mcp-servers/${local.body.id}`, { token: tokens.olive });
    const clash = await f.call<ErrorReply>("PATCH", `/v1/mcp-servers/${local.body.id}`, {
      token: tokens.olive,
      body: { resource_uri: RESOURCE },
      headers: { "if-match": current.headers.get("etag")! },
    });
    expect(clash.status).toBe(409);
    const removed = await f.call<{ resource_uri: string | null }>(
      "PATCH",
      `/v1/mcp-servers/${local.body.id}`,
      {
        token: tokens.olive,
        body: { resource_uri: null },
        headers: { "if-match": current.headers.get("etag")! },
      },
    );
    expect(removed.status).toBe(200);
    expect(removed.body.resource_uri).toBeNull();
  });

  test("agents have no resource URI", async () => {
    const res = await f.call<ErrorReply>("POST", "/v1/agents", {
      token: tokens.carl,
      body: {
        name: "uri-agent",
        tenant: "acme",
        team: "t",
        type: "t",
        environment: "e",
        resource_uri: RESOURCE,
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ field: "resource_uri", message: "is not a known field" }]);
  });
});

describe("tool rules", () => {
  test("a server without rules shows null (default deny), by id and by name", async () => {
    const byName = await f.call<RulesState>("GET", "/v1/mcp-servers/drive-mcp/tool-rules", {
      token: tokens.carl,
    });
    expect(byName.status).toBe(200);
    expect(byName.body).toMatchObject({
      server_id: server.id,
      server: "drive-mcp",
      rules: null,
      warnings: [],
    });
    const byId = await f.call<RulesState>("GET", `/v1/mcp-servers/${server.id}/tool-rules`, {
      token: tokens.carl,
    });
    expect(byId.body.version).toBe(byName.body.version);
    expect(byId.headers.get("etag")).toBe(`"v${byName.body.version}"`);
  });

  test("unknown servers, and servers of another tenant, are 404", async () => {
    expect((await f.call("GET", "/v1/mcp-servers/nope-mcp/tool-rules", { token: tokens.admin })).status).toBe(
      404,
    );
    expect(
      (await f.call("GET", "/v1/mcp-servers/drive-mcp/tool-rules", { token: tokens.globex })).status,
    ).toBe(404);
  });

  test("a change needs If-Match (428), and only the owner or an admin may make it (403)", async () => {
    expect((await putRules(RULES, tokens.olive)).status).toBe(428);
    const tag = await etag();
    const carl = await putRules(RULES, tokens.carl, tag);
    expect(carl.status).toBe(403);
    expect(carl.body.error.message).toMatch(/owner or an admin/);
    expect((await putRules(RULES, tokens.rita, tag)).status).toBe(403);
    const viewer = await f.token({ sub: "olive-owner", roles: ["viewer"] });
    expect((await putRules(RULES, viewer, tag)).status).toBe(403);
  });

  test("an invalid document is a 400 naming each wrong field by its path", async () => {
    const res = await putRules(
      {
        default: "maybe",
        tools: {
          create_file: { approval: "sometimes", min_kya_level: 7 },
          "a*b": {},
          list_files: { agent: ["x"] },
        },
      },
      tokens.olive,
      await etag(),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        { field: "default", message: 'expected "allow" or "deny"' },
        { field: 'tools["create_file"].approval', message: 'expected "none" or "required"' },
        { field: 'tools["create_file"].min_kya_level', message: "must be at most 3" },
        { field: 'tools["a*b"]', message: "only a trailing '*' is a wildcard" },
        { field: 'tools["list_files"].agent', message: "is not a known field" },
      ]),
    );
    expect(res.body.error.details).toHaveLength(5);
    expect(res.body.error.message).toContain('tools["create_file"].approval: expected "none" or "required"');
    const extra = await putRules({ tools: {}, extra: true }, tokens.olive, await etag());
    expect(extra.status).toBe(400);
    expect(extra.body.error.details).toEqual([{ field: "extra", message: "is not a known field" }]);
  });

  test("the owner stores rules: defaults filled, warnings for unknown agents and teams, audited, announced within a second", async () => {
    const before = await f.call<RulesState>("GET", "/v1/mcp-servers/drive-mcp/tool-rules", {
      token: tokens.olive,
    });
    const withGhosts = {
      ...RULES,
      prompts: { summarize: { agents: ["ghost-agent", "*"], teams: ["nobody-team"] } },
    };
    const res = await putRules(withGhosts, tokens.olive, before.headers.get("etag")!);
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(before.body.version + 1);
    expect(res.headers.get("etag")).toBe(`"v${res.body.version}"`);
    expect(res.body.rules).toEqual({ default: "deny", resources: {}, ...withGhosts });
    expect(res.body.warnings).toEqual([
      { field: 'prompts["summarize"].agents[0]', message: expect.stringContaining('"ghost-agent"') },
      { field: 'prompts["summarize"].teams[0]', message: expect.stringContaining('"nobody-team"') },
    ]);

    const notice = await waitFor(
      () => registryNotices.find((n) => n.id === server.id && n.version === res.body.version),
      "NOTIFY warden_registry for the rules change",
    );
    expect(notice).toMatchObject({ entity: "agent", kind: "mcp_server", op: "upsert" });

    const audit = await f.controlPlane.db.query<{ actor: string; details: Record<string, unknown> }>(
      "SELECT actor, details FROM audit_events WHERE action = 'mcp.tool_rules.changed' AND resource_id = $1 ORDER BY id DESC LIMIT 1",
      [server.id],
    );
    expect(audit.rows[0]).toMatchObject({
      actor: "olive-owner",
      details: {
        server: "drive-mcp",
        from_version: before.body.version,
        to_version: res.body.version,
        old_rules: null,
        new_rules: res.body.rules,
      },
    });

    const shown = await f.call<{ tool_rules: unknown }>("GET", `/v1/mcp-servers/${server.id}`, {
      token: tokens.carl,
    });
    expect(shown.body.tool_rules).toEqual(res.body.rules);
  });

  test("a change based on a stale version loses (412); an admin may change any server's rules", async () => {
    const current = await etag();
    const stale = `"v${Number(/\d+/.exec(current)![0]) - 1}"`;
    const lost = await putRules(RULES, tokens.admin, stale);
    expect(lost.status).toBe(412);
    const byAdmin = await putRules(RULES, tokens.admin, current);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.warnings).toEqual([]);
  });

  test("DELETE clears the rules (back to default deny) and is announced", async () => {
    const tag = await etag();
    expect(
      (
        await f.call("DELETE", "/v1/mcp-servers/drive-mcp/tool-rules", {
          token: tokens.carl,
          headers: { "if-match": tag },
        })
      ).status,
    ).toBe(403);
    const cleared = await f.call<RulesState>("DELETE", "/v1/mcp-servers/drive-mcp/tool-rules", {
      token: tokens.olive,
      headers: { "if-match": tag },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.rules).toBeNull();
    await waitFor(
      () => registryNotices.find((n) => n.id === server.id && n.version === cleared.body.version),
      "NOTIFY for the clearing",
    );
    const row = await f.controlPlane.db.query<{ tool_rules: unknown }>(
      "SELECT tool_rules FROM agents WHERE id = $1",
      [server.id],
    );
    expect(row.rows[0]!.tool_rules).toBeNull();
  });
});

describe("bearer tokens for one MCP server", () => {
  const mint = (body: Record<string, unknown>, token = tokens.olive, serverRef = "drive-mcp") =>
    f.call<Minted & ErrorReply>("POST", `/v1/mcp-servers/${serverRef}/tokens`, { token, body });

  async function publishedKeys() {
    const jwks = await f.call<{ keys: unknown[] }>("GET", "/.well-known/jwks.json");
    return verificationKeysFromJwks(jwks.body);
  }

  test("the owner mints a token for the server's resource URI that verifies against the JWKS", async () => {
    const res = await mint({ agent_id: helper.id, scopes: ["google-drive:read"] });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toMatchObject({
      token_type: "Bearer",
      expires_in: 900,
      scope: "google-drive:read",
      audience: RESOURCE,
      agent_spiffe_id: helper.spiffe_id,
    });

    const discovery = await f.call<{ issuer: string; jwks_uri: string }>(
      "GET",
      "/.well-known/oauth-authorization-server",
    );
    expect(discovery.status).toBe(200);
    expect(discovery.body.jwks_uri).toBe(`${discovery.body.issuer}/.well-known/jwks.json`);
    const jwks = createRemoteJWKSet(new URL(`${f.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(res.body.access_token, jwks, {
      issuer: discovery.body.issuer,
      audience: RESOURCE,
      typ: "at+jwt",
    });
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload).toMatchObject({
      aud: RESOURCE,
      sub: helper.spiffe_id,
      client_id: helper.spiffe_id,
      scope: "google-drive:read",
      tenant: "acme",
      mcp_server: "drive-mcp",
      jti: res.body.jti,
    });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(payload.cnf).toBeUndefined();
  });

  test("the token is for that server only: refused for another resource and by outbound sidecars' verifier", async () => {
    const res = await mint({ agent_id: "drive-helper", ttl_seconds: 60 });
    expect(res.status).toBe(201);
    expect(res.body.scope).toBe("google-drive:read google-drive:write");
    const keys = await publishedKeys();
    const keyFor = (kid: string) => keys.get(kid);
    expect(
      verifyResourceToken(res.body.access_token, keyFor, { resource: "https://other.example.com/mcp" }),
    ).toEqual({
      ok: false,
      error: "audience_invalid",
    });
    const outbound = verifyTokenSignature(res.body.access_token, keyFor, {
      accessTokenAudiences: new Set(["warden", RESOURCE]),
      delegationAudience: "warden",
    });
    expect(outbound).toEqual({ ok: false, error: "claims_invalid" });
  });

  test("a revoked token is refused by the verifier within a second (revocation NOTIFY)", async () => {
    const res = await mint({ agent_id: helper.id, scopes: ["google-drive:write"] });
    expect(res.status).toBe(201);
    const keys = await publishedKeys();
    const verified = verifyResourceToken(res.body.access_token, (kid) => keys.get(kid), {
      resource: RESOURCE,
    });
    if (!verified.ok) throw new Error(verified.error);
    expect(verified.grant).toMatchObject({ agentSpiffeId: helper.spiffe_id, scopes: ["google-drive:write"] });
    const revokedIds = new Set<string>();
    const use = () =>
      checkBearerUse(verified.grant, {
        nowSeconds: Date.now() / 1000,
        isRevoked: (id) => revokedIds.has(id),
      });
    expect(use()).toBeNull();

    expect(
      (
        await f.call("POST", "/v1/mcp-servers/drive-mcp/tokens/revoke", {
          token: tokens.carl,
          body: { jti: res.body.jti },
        })
      ).status,
    ).toBe(403);
    const revokedAt = Date.now();
    const revoked = await f.call<{ jti: string; revoked_at: string }>(
      "POST",
      "/v1/mcp-servers/drive-mcp/tokens/revoke",
      {
        token: tokens.olive,
        body: { jti: res.body.jti },
      },
    );
    expect(revoked.status).toBe(200);
    const notice = await waitFor(
      () =>
        revocationPayloads
          .map(parseRevocationNotice)
          .find((n) => n?.by === "token" && n.ids?.some(([id]) => id === res.body.jti)),
      "the revocation notice",
    );
    for (const [id] of notice.ids ?? []) revokedIds.add(id);
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    expect(use()).toBe("revoked");
    const stored = await f.controlPlane.db.query("SELECT 1 FROM oauth_revoked_tokens WHERE jti = $1", [
      res.body.jti,
    ]);
    expect(stored.rowCount).toBe(1);
    const again = await f.call<{ revoked_at: string }>("POST", "/v1/mcp-servers/drive-mcp/tokens/revoke", {
      token: tokens.admin,
      body: { jti: res.body.jti },
    });
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
    const unknown = await f.call("POST", "/v1/mcp-servers/drive-mcp/tokens/revoke", {
      token: tokens.admin,
      body: { jti: "00000000-0000-4000-8000-000000000000" },
    });
    expect(unknown.status).toBe(404);
  });

  test("no escalation: a scope the agent's KYA did not verify is a 403 naming it", async () => {
    const res = await mint({ agent_id: helper.id, scopes: ["google-drive:read", "github:read"] });
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual([
      { field: "scopes[1]", message: '"github:read" is not among the agent\'s verified capabilities' },
    ]);
  });

  test("refusals: non-owner 403, unknown server or agent 404, ttl over an hour 400, no resource_uri 400, inactive agent 409", async () => {
    expect((await mint({ agent_id: helper.id }, tokens.carl)).status).toBe(403);
    expect((await mint({ agent_id: helper.id }, tokens.admin)).status).toBe(201);
    expect((await mint({ agent_id: helper.id }, tokens.olive, "nope-mcp")).status).toBe(404);
    expect((await mint({ agent_id: "ghost-agent" })).status).toBe(404);
    const long = await mint({ agent_id: helper.id, ttl_seconds: 7200 });
    expect(long.status).toBe(400);
    expect(long.body.error.details?.[0]?.field).toBe("ttl_seconds");

    await f.call("POST", "/v1/mcp-servers", {
      token: tokens.olive,
      body: { name: "no-uri-mcp", tenant: "acme", team: "t", type: "mcp", environment: "e" },
    });
    const noUri = await mint({ agent_id: helper.id }, tokens.olive, "no-uri-mcp");
    expect(noUri.status).toBe(400);
    expect(noUri.body.error.message).toMatch(/no resource_uri/);

    const idle = await registerAgent(f, tokens.carl, tokens.rita, {
      name: "idle-helper",
      capabilities: ["google-drive:read"],
      verified: ["google-drive:read"],
    });
    const current = await f.call("GET", `/v1/agents/${idle.id}`, { token: tokens.carl });
    await f.call("PATCH", `/v1/agents/${idle.id}`, {
      token: tokens.carl,
      body: { status: "suspended" },
      headers: { "if-match": current.headers.get("etag")! },
    });
    const suspended = await mint({ agent_id: idle.id });
    expect(suspended.status).toBe(409);
    expect(suspended.body.error.message).toMatch(/suspended/);

    const unattested = await registerAgent(f, tokens.carl, tokens.rita, {
      name: "unattested-helper",
      capabilities: ["google-drive:read"],
      verified: null,
    });
    expect((await mint({ agent_id: unattested.id })).status).toBe(403);
  });

  test("a minted token appears in no log line and no audit row; its jti is audited", async () => {
    const res = await mint({ agent_id: helper.id, scopes: ["google-drive:read"] });
    expect(res.status).toBe(201);
    const signature = res.body.access_token.split(".")[2]!;
    expect(decodeProtectedHeader(res.body.access_token).typ).toBe("at+jwt");
    const audit = await f.controlPlane.db.query<{ row: string }>(
      "SELECT row_to_json(a)::text AS row FROM audit_events a",
    );
    expect(audit.rows.some((r) => r.row.includes(signature))).toBe(false);
    const minted = await f.controlPlane.db.query<{ details: Record<string, unknown> }>(
      "SELECT details FROM audit_events WHERE action = 'mcp.token_minted' AND resource_id = $1",
      [res.body.jti],
    );
    expect(minted.rows[0]!.details).toMatchObject({
      mcp_server: "drive-mcp",
      audience: RESOURCE,
      scope: "google-drive:read",
    });
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.some((line) => line.includes(signature))).toBe(false);
  });
});

describe("warden mcp (the CLI against the same control plane)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "warden-mcp-cli-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function warden(token: string, ...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const env: NodeJS.ProcessEnv = { WARDEN_API_URL: f.url, WARDEN_TOKEN: token };
    const code = await runWarden(argv, { env, stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  }
  const file = (name: string, document: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof document === "string" ? document : JSON.stringify(document));
    return path;
  };

  test("rules set refuses an invalid file before sending it, naming each field", async () => {
    const before = await f.call<RulesState>("GET", "/v1/mcp-servers/drive-mcp/tool-rules", {
      token: tokens.olive,
    });
    const bad = file("bad.json", { tools: { create_file: { approval: "always" } } });
    const res = await warden(tokens.olive, "mcp", "rules", "set", "drive-mcp", "--file", bad);
    expect(res.code).toBe(1);
    expect(res.err).toContain('tools["create_file"].approval: expected "none" or "required"');
    const after = await f.call<RulesState>("GET", "/v1/mcp-servers/drive-mcp/tool-rules", {
      token: tokens.olive,
    });
    expect(after.body.version).toBe(before.body.version);
  });

  test("rules set / show / clear, with warnings printed, and a non-owner refused", async () => {
    const rules = file("rules.json", { tools: { list_files: { agents: ["drive-helper", "ghost-agent"] } } });
    const set = await warden(tokens.olive, "mcp", "rules", "set", "drive-mcp", "--file", rules);
    expect(set.code).toBe(0);
    expect(set.err).toMatch(/warning: tools\["list_files"\]\.agents\[1\]: no agent "ghost-agent"/);
    const shown = await warden(tokens.carl, "mcp", "rules", "show", "drive-mcp", "--json");
    expect(JSON.parse(shown.out)).toMatchObject({
      rules: { tools: { list_files: { agents: ["drive-helper", "ghost-agent"] } } },
    });
    const refused = await warden(tokens.carl, "mcp", "rules", "clear", "drive-mcp");
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/403 forbidden: only the MCP server's owner or an admin/);
    const cleared = await warden(tokens.olive, "mcp", "rules", "clear", "drive-mcp");
    expect(cleared.code).toBe(0);
    expect(cleared.out).toMatch(/no tool rules/);
    const usage = await warden(tokens.olive, "mcp", "rules", "set", "drive-mcp");
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--file is required/);
  });

  test("token prints the token alone on stdout; mcp-servers create/update take --resource-uri", async () => {
    const minted = await warden(
      tokens.olive,
      "mcp",
      "token",
      "drive-mcp",
      "--agent",
      "drive-helper",
      "--scope",
      "google-drive:read",
      "--ttl",
      "5m",
    );
    expect(minted.code).toBe(0);
    expect(minted.out).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(minted.err).toMatch(/shown once, not stored/);
    const jwks = createRemoteJWKSet(new URL(`${f.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(minted.out, jwks, { audience: RESOURCE });
    expect(payload.exp! - payload.iat!).toBe(300);

    const created = await warden(
      tokens.olive,
      "mcp-servers",
      "create",
      "--name",
      "cli-mcp",
      "--tenant",
      "acme",
      "--team",
      "t",
      "--type",
      "mcp",
      "--environment",
      "dev",
      "--resource-uri",
      "https://cli-mcp.example.com/mcp",
      "--json",
    );
    expect(created.code).toBe(0);
    const entry = JSON.parse(created.out) as { id: string; resource_uri: string };
    expect(entry.resource_uri).toBe("https://cli-mcp.example.com/mcp");
    const removed = await warden(
      tokens.olive,
      "mcp-servers",
      "update",
      entry.id,
      "--resource-uri",
      "none",
      "--json",
    );
    expect(JSON.parse(removed.out)).toMatchObject({ resource_uri: null });
    const bad = await warden(
      tokens.olive,
      "mcp-servers",
      "update",
      entry.id,
      "--resource-uri",
      "http://cli-mcp.example.com",
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--resource-uri must be an https URI/);
  });
});

describe("coverage", () => {
  test("every MCP governance operation was exercised with a documented status", () => {
    const mine = f.operations
      .filter(
        (op) =>
          /\/(tool-rules|tokens)/.test(op.path) || op.path === "/.well-known/oauth-authorization-server",
      )
      .map((op) => op.operationId);
    expect(mine).toHaveLength(6);
    expect(mine.filter((id) => !f.covered.has(id))).toEqual([]);
  });
});
