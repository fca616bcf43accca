import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import pg from "pg";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { PUSH_PATH_BOUND_MS } from "../harness/stats.js";
import { FULL_SECURITY_CHECKLIST } from "../harness/registry-workflow.js";

/**
 * The control-plane API end to end: real PostgreSQL, real OpenBao (transit signing), the stub OIDC
 * issuer. Every OpenAPI operation is exercised; the last test checks that none was missed.
 */
type Entry = {
  id: string;
  spiffe_id: string;
  status: string;
  version: number;
  owner: string;
  capabilities: string[];
};
type Page<T> = { items: T[]; next_cursor: string | null };
type ErrorReply = {
  error: {
    code: string;
    message: string;
    request_id: string;
    details?: { field: string; message: string }[];
  };
};
type Attestation = {
  id: string;
  status: string;
  jws: string | null;
  level: number | null;
  expires_at: string | null;
  signing_key_id: string | null;
};
type AuditRow = {
  id: number;
  action: string;
  actor: string;
  agent_id: string | null;
  tenant: string;
  resource_id: string;
};

let f: ControlPlaneFixture;
let admin: string;
let reviewer: string;
let creator: string;
let otherCreator: string;
let viewer: string;
let acmeOnly: string;
let listener: pg.Client;
const notifications: Record<string, unknown>[] = [];

function agentBody(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    tenant: "acme",
    team: "research",
    type: "assistant",
    environment: "dev",
    capabilities: ["llm:chat", "github:repo.read"],
    ...extra,
  };
}

async function createAgent(
  name: string,
  token = creator,
  extra: Record<string, unknown> = {},
): Promise<Entry & { etag: string }> {
  const res = await f.call<Entry>("POST", "/v1/agents", { token, body: agentBody(name, extra) });
  expect(res.status).toBe(201);
  return { ...res.body, etag: res.headers.get("etag")! };
}

beforeAll(async () => {
  f = await startControlPlaneFixture({ vault: true });
  [admin, reviewer, creator, otherCreator, viewer, acmeOnly] = await Promise.all([
    f.token({ sub: "alice-admin", roles: ["admin"] }),
    f.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
    f.token({ sub: "carl-creator", roles: ["creator"] }),
    f.token({ sub: "olga-creator", roles: ["creator"] }),
    f.token({ sub: "vic-viewer", roles: ["viewer"] }),
    f.token({ sub: "tina-acme", roles: ["admin"], tenant: "acme" }),
  ]);
  listener = new pg.Client({ connectionString: f.databaseUrl! });
  await listener.connect();
  listener.on("notification", (message) =>
    notifications.push(JSON.parse(message.payload ?? "{}") as Record<string, unknown>),
  );
  await listener.query("LISTEN warden_registry");
}, 120_000);

afterAll(async () => {
  await listener?.end();
  await f?.close();
}, TEARDOWN_TIMEOUT_MS);

describe("service endpoints and the OpenAPI document", () => {
  test("health, readiness, the document and the interactive docs are served without a token", async () => {
    expect((await f.call("GET", "/healthz")).body).toEqual({ status: "ok" });
    expect(await f.call("GET", "/readyz")).toMatchObject({
      status: 200,
      body: { status: "ready", checks: { database: "ok", vault: "ok" } },
    });
    const doc = await f.call<{ openapi: string; paths: Record<string, unknown> }>("GET", "/openapi.json");
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toContain("/v1/agents/{id}");
    const docs = await fetch(`${f.url}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/swagger/i);
  });

  test("an unknown route is a JSON 404", async () => {
    const res = await f.call<ErrorReply>("GET", "/v1/nothing-here", { token: admin });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });
});

describe("authentication and roles", () => {
  test("no token, a token from an unknown key, the wrong audience or an expired token: 401", async () => {
    const none = await f.call<ErrorReply>("GET", "/v1/agents");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const forged = await f.oidc.untrustedToken({ sub: "mallory", roles: ["admin"] });
    expect((await f.call("GET", "/v1/agents", { token: forged })).status).toBe(401);
    const wrongAudience = await f.token({ sub: "alice", roles: ["admin"], audience: "something-else" });
    expect((await f.call("GET", "/v1/agents", { token: wrongAudience })).status).toBe(401);
    const expired = await f.token({ sub: "alice", roles: ["admin"], expiresInSeconds: -120 });
    const res = await f.call<ErrorReply>("GET", "/v1/agents", { token: expired });
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/expired/);
  });

  test("a viewer can read but not register; a token without a known role can do nothing", async () => {
    expect((await f.call("GET", "/v1/agents", { token: viewer })).status).toBe(200);
    const res = await f.call<ErrorReply>("POST", "/v1/agents", {
      token: viewer,
      body: agentBody("viewer-made"),
    });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/admin, creator/);
    const nobody = await f.token({ sub: "nobody", roles: ["intern"] });
    expect((await f.call("GET", "/v1/agents", { token: nobody })).status).toBe(403);
  });
});

describe("agent registry", () => {
  test("registering derives the SPIFFE ID, returns an ETag, and a duplicate is a 409", async () => {
    const res = await f.call<Entry>("POST", "/v1/agents", {
      token: creator,
      body: agentBody("research-bot"),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("etag")).toBe('"v1"');
    expect(res.body).toMatchObject({
      kind: "agent",
      spiffe_id: "spiffe://warden.local/agent/research-bot",
      owner: "carl-creator",
      status: "active",
      version: 1,
    });
    const again = await f.call<ErrorReply>("POST", "/v1/agents", {
      token: admin,
      body: agentBody("research-bot"),
    });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/SPIFFE ID/);
  });

  test("invalid fields are a 400 naming every one of them", async () => {
    const res = await f.call<ErrorReply>("POST", "/v1/agents", {
      token: creator,
      body: {
        name: "Bad Name!",
        tenant: 7,
        team: "research",
        environment: "dev",
        capabilities: ["ok", "NOT OK"],
        colour: "blue",
      },
    });
    expect(res.status).toBe(400);
    const fields = res.body.error.details!.map((d) => d.field).sort();
    expect(fields).toEqual(["capabilities[1]", "colour", "name", "tenant", "type"]);
    expect(res.body.error.details!.find((d) => d.field === "colour")!.message).toBe("is not a known field");
    expect(res.body.error.details!.find((d) => d.field === "type")!.message).toBe("is required");
  });

  test("a SPIFFE ID outside the naming scheme is refused", async () => {
    const res = await f.call<ErrorReply>("POST", "/v1/agents", {
      token: creator,
      body: agentBody("scheme-bot", { spiffe_id: "spiffe://evil.example/agent/scheme-bot" }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      expect.objectContaining({
        field: "spiffe_id",
        message: expect.stringContaining("spiffe://warden.local/agent/scheme-bot"),
      }),
    ]);
  });

  test("malformed bodies: not JSON, empty, wrong content type, too large, prototype pollution", async () => {
    expect(
      (await f.call<ErrorReply>("POST", "/v1/agents", { token: creator, rawBody: "{not json" })).body.error,
    ).toMatchObject({ code: "bad_request" });
    expect((await f.call("POST", "/v1/agents", { token: creator, rawBody: "" })).status).toBe(400);
    expect(
      (
        await f.call("POST", "/v1/agents", {
          token: creator,
          rawBody: "name=x",
          contentType: "application/x-www-form-urlencoded",
        })
      ).status,
    ).toBe(415);
    const huge = { ...agentBody("huge-bot"), metadata: { blob: "x".repeat(300 * 1024) } };
    const tooLarge = await f.call<ErrorReply>("POST", "/v1/agents", { token: creator, body: huge });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.code).toBe("payload_too_large");
    const polluted = await f.call("POST", "/v1/agents", {
      token: creator,
      rawBody: '{"name":"p","__proto__":{"admin":true}}',
    });
    expect(polluted.status).toBe(400);
    const wrongTypes = await f.call<ErrorReply>("POST", "/v1/agents", {
      token: creator,
      body: { ...agentBody("typed"), capabilities: "llm:chat", metadata: [] },
    });
    expect(wrongTypes.status).toBe(400);
    expect(wrongTypes.body.error.details!.map((d) => d.field).sort()).toEqual(["capabilities", "metadata"]);
  });

  test("hostile inputs are refused with 4xx, never a 500", async () => {
    const deep = `${"[".repeat(50_000)}${"]".repeat(50_000)}`;
    const cases: [string, string, { body?: unknown; rawBody?: string }][] = [
      [
        "POST",
        "/v1/agents",
        {
          rawBody: `{"name":"deep","tenant":"acme","team":"t","type":"t","environment":"e","metadata":{"x":${deep}}}`,
        },
      ],
      ["POST", "/v1/agents", { body: { ...agentBody("nul-bot"), owner: "carl\u0000-creator" } }],
      ["POST", "/v1/agents", { body: { ...agentBody("nul-meta"), metadata: { note: "a\u0000b" } } }],
      [
        "POST",
        "/v1/agents",
        {
          body: {
            ...agentBody("nested"),
            metadata: { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } },
          },
        },
      ],
      ["POST", "/v1/agents", { rawBody: "[]" }],
      ["POST", "/v1/agents", { rawBody: "null" }],
      ["POST", "/v1/agents", { rawBody: '"just a string"' }],
      ["POST", "/v1/agents", { rawBody: `{"name":"x","name":"y"}` }],
      ["GET", `/v1/agents?owner=${"x".repeat(5_000)}`, {}],
      ["GET", "/v1/agents?limit=1e3", {}],
      ["GET", "/v1/agents?limit=99999999999999999999", {}],
      ["GET", "/v1/agents?cursor=%00", {}],
      ["GET", "/v1/agents/..%2F..%2Fetc%2Fpasswd", {}],
      ["GET", "/v1/audit/events?from=2026-13-45T99:99:99Z", {}],
      ["GET", "/v1/audit/events?agent_spiffe_id=spiffe://x/%00", {}],
      [
        "POST",
        "/v1/attestations",
        {
          body: {
            agent_id: "00000000-0000-0000-0000-000000000000",
            evidence: { code_hash: "sha256:zz", endpoints: ["not a uri"], security_checklist: {} },
          },
        },
      ],
      ["POST", "/v1/audit/verify", { rawBody: "{" }],
    ];
    const failures: string[] = [];
    for (const [index, [method, path, options]] of cases.entries()) {
      const res = await f.call(method, path, { token: admin, ...options });
      if (res.status >= 500) failures.push(`case ${index}: ${method} ${path.slice(0, 60)} → ${res.status}`);
    }
    expect(failures).toEqual([]);
  });

  test("get: 200 with ETag; unknown id 404; a malformed id 400", async () => {
    const agent = await createAgent("getter-bot");
    const res = await f.call<Entry>("GET", `/v1/agents/${agent.id}`, { token: viewer });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe('"v1"');
    expect(
      (await f.call("GET", "/v1/agents/00000000-0000-4000-8000-000000000000", { token: viewer })).status,
    ).toBe(404);
    const bad = await f.call<ErrorReply>("GET", "/v1/agents/not-a-uuid", { token: viewer });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details![0]!.field).toBe("path.id");
  });

  test("updates need If-Match: missing 428, stale 412, current 200 with a new ETag", async () => {
    const agent = await createAgent("concurrent-bot");
    const path = `/v1/agents/${agent.id}`;
    expect((await f.call("PATCH", path, { token: creator, body: { team: "platform" } })).status).toBe(428);
    const first = await f.call<Entry>("PATCH", path, {
      token: creator,
      body: { team: "platform" },
      headers: { "if-match": agent.etag },
    });
    expect(first.status).toBe(200);
    expect(first.headers.get("etag")).toBe('"v2"');
    const stale = await f.call<ErrorReply>("PATCH", path, {
      token: creator,
      body: { team: "ops" },
      headers: { "if-match": agent.etag },
    });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe("precondition_failed");
    expect(
      (
        await f.call("PATCH", path, {
          token: creator,
          body: { name: "renamed" },
          headers: { "if-match": '"v2"' },
        })
      ).status,
    ).toBe(400);
    expect(
      (await f.call("PATCH", path, { token: creator, body: {}, headers: { "if-match": '"v2"' } })).status,
    ).toBe(400);
  });

  test("two concurrent updates from the same version: exactly one wins, the other gets 412", async () => {
    const agent = await createAgent("race-bot");
    const path = `/v1/agents/${agent.id}`;
    const results = await Promise.all(
      ["alpha", "beta", "gamma", "delta"].map((team) =>
        f.call("PATCH", path, { token: creator, body: { team }, headers: { "if-match": agent.etag } }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412, 412]);
    expect((await f.call<Entry>("GET", path, { token: viewer })).body.version).toBe(2);
  });

  test("status lifecycle: creators may suspend their own agent but not re-activate it; revoked is final until archived", async () => {
    const agent = await createAgent("lifecycle-bot");
    const path = `/v1/agents/${agent.id}`;
    const notOwner = await f.call("PATCH", path, {
      token: otherCreator,
      body: { team: "x" },
      headers: { "if-match": '"v1"' },
    });
    expect(notOwner.status).toBe(403);
    const setStatus = <T = Entry>(token: string, status: string, etag: string) =>
      f.call<T>("PATCH", path, { token, body: { status }, headers: { "if-match": etag } });
    const suspended = await setStatus(creator, "suspended", '"v1"');
    expect(suspended.body.status).toBe("suspended");
    const reactivate = await setStatus(creator, "active", '"v2"');
    expect(reactivate.status).toBe(403);
    expect((await setStatus(reviewer, "active", '"v2"')).body.status).toBe("active");
    expect((await setStatus(admin, "revoked", '"v3"')).body.status).toBe("revoked");
    const back = await setStatus<ErrorReply>(admin, "active", '"v4"');
    expect(back.status).toBe(409);
    expect(back.body.error.message).toMatch(/from revoked to active/);
    expect((await f.call("DELETE", path, { token: creator })).status).toBe(428);
    const archived = await f.call<Entry>("DELETE", path, { token: creator, headers: { "if-match": '"v4"' } });
    expect(archived.body.status).toBe("archived");
    expect((await f.call("DELETE", path, { token: creator, headers: { "if-match": '"v5"' } })).status).toBe(
      409,
    );
  });

  test("a status change reaches LISTEN warden_registry when it commits, with the fields the data plane needs", async () => {
    const agent = await createAgent("notify-bot");
    const started = Date.now();
    await f.call("PATCH", `/v1/agents/${agent.id}`, {
      token: reviewer,
      body: { status: "suspended" },
      headers: { "if-match": agent.etag },
    });
    for (let i = 0; i < 100 && !notifications.some((n) => n.id === agent.id && n.status === "suspended"); i++)
      await new Promise((r) => setTimeout(r, 10));
    const heard = notifications.find((n) => n.id === agent.id && n.status === "suspended");
    expect(heard).toEqual({
      v: 1,
      entity: "agent",
      op: "upsert",
      id: agent.id,
      kind: "agent",
      spiffe_id: agent.spiffe_id,
      tenant: "acme",
      status: "suspended",
      version: 2,
    });
    expect(Date.now() - started).toBeLessThan(PUSH_PATH_BOUND_MS);
  });

  test("pagination walks every entry exactly once; filters narrow the list; bad cursors and limits are 400", async () => {
    for (const n of [1, 2, 3, 4, 5])
      await createAgent(`page-bot-${n}`, creator, {
        team: "paging",
        capabilities: n % 2 ? ["llm:chat"] : ["drive:files.read"],
      });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/v1/agents?team=paging&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const res: { status: number; body: Page<Entry & { name: string }> } = await f.call<
        Page<Entry & { name: string }>
      >("GET", query, { token: viewer });
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((a) => a.name));
      cursor = res.body.next_cursor;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual(["page-bot-1", "page-bot-2", "page-bot-3", "page-bot-4", "page-bot-5"]);
    expect(pages).toBe(3);
    const drive = await f.call<Page<{ name: string }>>(
      "GET",
      "/v1/agents?team=paging&capability=drive:files.read",
      { token: viewer },
    );
    expect(drive.body.items.map((a) => a.name)).toEqual(["page-bot-2", "page-bot-4"]);

    const bad = await f.call<ErrorReply>("GET", "/v1/agents?cursor=bm90LWEtY3Vyc29y", { token: viewer });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details![0]!.field).toBe("query.cursor");
    const firstPage = await f.call<Page<Entry>>("GET", "/v1/agents?limit=1", { token: viewer });
    const crossList = await f.call("GET", `/v1/attestations?cursor=${firstPage.body.next_cursor}`, {
      token: viewer,
    });
    expect(crossList.status).toBe(400);
    expect((await f.call("GET", "/v1/agents?limit=0", { token: viewer })).status).toBe(400);
    expect((await f.call("GET", "/v1/agents?limit=abc", { token: viewer })).status).toBe(400);
    expect((await f.call("GET", "/v1/agents?colour=blue", { token: viewer })).status).toBe(400);
    expect((await f.call("GET", "/v1/agents?status=deleted", { token: viewer })).status).toBe(400);
  });

  test("a tenant-limited token sees only its tenant and cannot register elsewhere", async () => {
    const other = await f.call<Entry>("POST", "/v1/agents", {
      token: admin,
      body: { ...agentBody("globex-bot"), tenant: "globex" },
    });
    expect(other.status).toBe(201);
    expect((await f.call("GET", `/v1/agents/${other.body.id}`, { token: acmeOnly })).status).toBe(404);
    const list = await f.call<Page<{ tenant: string }>>("GET", "/v1/agents?limit=500", { token: acmeOnly });
    expect(new Set(list.body.items.map((a) => a.tenant))).toEqual(new Set(["acme"]));
    expect((await f.call("GET", "/v1/agents?tenant=globex", { token: acmeOnly })).status).toBe(403);
    expect(
      (
        await f.call("POST", "/v1/agents", {
          token: acmeOnly,
          body: { ...agentBody("sneaky"), tenant: "globex" },
        })
      ).status,
    ).toBe(403);
  });
});

describe("MCP server registry", () => {
  test("MCP servers get /mcp/ SPIFFE IDs, declare external services, and share the lifecycle", async () => {
    const body = {
      name: "github-mcp",
      tenant: "acme",
      team: "tools",
      type: "mcp",
      environment: "prod",
      capabilities: ["github:repo.read"],
      external_services: ["github"],
    };
    const created = await f.call<Entry & { external_services: string[] }>("POST", "/v1/mcp-servers", {
      token: creator,
      body,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      kind: "mcp_server",
      spiffe_id: "spiffe://warden.local/mcp/github-mcp",
      external_services: ["github"],
    });
    expect(
      (
        await f.call("POST", "/v1/mcp-servers", {
          token: creator,
          body: { ...body, external_services: ["Git Hub"] },
        })
      ).status,
    ).toBe(400);
    const id = created.body.id;
    expect((await f.call("GET", `/v1/mcp-servers/${id}`, { token: viewer })).status).toBe(200);
    expect((await f.call("GET", `/v1/agents/${id}`, { token: viewer })).status).toBe(404);
    const listed = await f.call<Page<{ name: string }>>("GET", "/v1/mcp-servers?external_service=github", {
      token: viewer,
    });
    expect(listed.body.items.map((m) => m.name)).toEqual(["github-mcp"]);
    const updated = await f.call<{ external_services: string[] }>("PATCH", `/v1/mcp-servers/${id}`, {
      token: creator,
      body: { external_services: ["github", "google-drive"] },
      headers: { "if-match": '"v1"' },
    });
    expect(updated.body.external_services).toEqual(["github", "google-drive"]);
    expect(
      (
        await f.call<Entry>("DELETE", `/v1/mcp-servers/${id}`, {
          token: admin,
          headers: { "if-match": '"v2"' },
        })
      ).body.status,
    ).toBe("archived");
    expect(
      (await f.call<Page<unknown>>("GET", "/v1/mcp-servers?external_service=github", { token: viewer })).body
        .items,
    ).toHaveLength(0);
    expect(
      (await f.call<Page<unknown>>("GET", "/v1/mcp-servers?status=archived", { token: viewer })).body.items,
    ).toHaveLength(1);
  });
});

describe("KYA attestations", () => {
  const evidence = {
    image_digest: `sha256:${"a".repeat(64)}`,
    endpoints: ["https://api.openai.com/v1/chat/completions", "https://api.github.com/"],
    security_checklist: {
      no_embedded_credentials: true,
      dependencies_scanned: true,
      least_privilege_scopes: true,
      audit_logging: true,
      data_retention_policy: false,
    },
  };

  async function jwks(): Promise<JSONWebKeySet> {
    const res = await f.call<JSONWebKeySet>("GET", "/.well-known/jwks.json");
    expect(res.status).toBe(200);
    return res.body;
  }

  test("submit → approve: a JWS signed in Vault that verifies against the published JWKS", async () => {
    const agent = await createAgent("kya-bot");
    const submitted = await f.call<Attestation>("POST", "/v1/attestations", {
      token: creator,
      body: { agent_id: agent.id, evidence },
    });
    expect(submitted.status).toBe(201);
    expect(submitted.body).toMatchObject({
      status: "pending",
      jws: null,
      declared_capabilities: ["llm:chat", "github:repo.read"],
    });
    const twice = await f.call<ErrorReply>("POST", "/v1/attestations", {
      token: creator,
      body: { agent_id: agent.id, evidence },
    });
    expect(twice.status).toBe(409);
    const id = submitted.body.id;
    const approve = (token: string, body: Record<string, unknown>) =>
      f.call<ErrorReply>("POST", `/v1/attestations/${id}/approve`, { token, body });

    expect((await approve(creator, { level: 2, verified_capabilities: [] })).status).toBe(403);
    const overreach = await approve(reviewer, {
      level: 2,
      verified_capabilities: ["llm:chat", "drive:files.write"],
    });
    expect(overreach.status).toBe(400);
    expect(overreach.body.error.details).toEqual([
      { field: "verified_capabilities[1]", message: '"drive:files.write" was not declared' },
    ]);
    expect((await approve(reviewer, { level: 4, verified_capabilities: [] })).status).toBe(400);

    const approved = await f.call<Attestation>("POST", `/v1/attestations/${id}/approve`, {
      token: reviewer,
      body: { level: 2, verified_capabilities: ["llm:chat"], notes: "image reviewed" },
      headers: { "if-match": submitted.headers.get("etag")! },
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({
      status: "approved",
      level: 2,
      signing_key_id: "warden-signing-v1",
    });
    const days = (Date.parse(approved.body.expires_at!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);

    const jws = approved.body.jws!;
    expect(decodeProtectedHeader(jws)).toEqual({ alg: "ES256", kid: "warden-signing-v1", typ: "kya+jwt" });
    const { payload } = await jwtVerify(jws, createLocalJWKSet(await jwks()), {
      issuer: "spiffe://warden.local/warden/control-plane",
      audience: "warden",
    });
    expect(payload).toMatchObject({
      sub: agent.spiffe_id,
      jti: id,
      kya: {
        attestation_id: id,
        agent_id: agent.id,
        tenant: "acme",
        level: 2,
        verified_capabilities: ["llm:chat"],
        reviewed_by: "rita-reviewer",
      },
    });
    const tampered = `${jws.split(".")[0]}.${Buffer.from(JSON.stringify({ ...payload, kya: { level: 3 } })).toString("base64url")}.${jws.split(".")[2]}`;
    await expect(jwtVerify(tampered, createLocalJWKSet(await jwks()))).rejects.toThrow(/signature/);

    const fetched = await f.call<Attestation>("GET", `/v1/attestations/${id}`, { token: viewer });
    expect(fetched.body.jws).toBe(jws);
    const listed = await f.call<Page<Attestation>>(
      "GET",
      `/v1/attestations?agent_id=${agent.id}&status=approved`,
      { token: viewer },
    );
    expect(listed.body.items.map((a) => a.id)).toEqual([id]);
  });

  test("nobody reviews their own submission; rejection needs a reason", async () => {
    const agent = await createAgent("self-review-bot", admin);
    const submitted = await f.call<Attestation>("POST", "/v1/attestations", {
      token: admin,
      body: { agent_id: agent.id, evidence },
    });
    const self = await f.call<ErrorReply>("POST", `/v1/attestations/${submitted.body.id}/approve`, {
      token: admin,
      body: { level: 1, verified_capabilities: [] },
    });
    expect(self.status).toBe(403);
    expect(self.body.error.message).toMatch(/submitted it/);
    expect(
      (await f.call("POST", `/v1/attestations/${submitted.body.id}/reject`, { token: reviewer, body: {} }))
        .status,
    ).toBe(400);
    const rejected = await f.call<Attestation & { rejection_reason: string }>(
      "POST",
      `/v1/attestations/${submitted.body.id}/reject`,
      {
        token: reviewer,
        body: { reason: "no code hash for the plugin" },
      },
    );
    expect(rejected.body).toMatchObject({
      status: "rejected",
      rejection_reason: "no code hash for the plugin",
      jws: null,
    });
    expect(
      (
        await f.call("POST", `/v1/attestations/${submitted.body.id}/approve`, {
          token: reviewer,
          body: { level: 1, verified_capabilities: [] },
        })
      ).status,
    ).toBe(409);
  });

  test("evidence needs an image digest or a code hash, and only known checklist items", async () => {
    const agent = await createAgent("evidence-bot");
    const { image_digest: _digest, ...withoutDigest } = evidence;
    const res = await f.call<ErrorReply>("POST", "/v1/attestations", {
      token: creator,
      body: {
        agent_id: agent.id,
        evidence: { ...withoutDigest, security_checklist: { ...evidence.security_checklist, vibes: true } },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        { field: "evidence", message: "needs one of: image_digest, code_hash" },
        { field: "evidence.security_checklist.vibes", message: "is not a known field" },
      ]),
    );
    const unknownAgent = await f.call("POST", "/v1/attestations", {
      token: creator,
      body: { agent_id: "00000000-0000-4000-8000-000000000000", evidence },
    });
    expect(unknownAgent.status).toBe(404);
  });

  test("revocation is immediate: status revoked, a notification, and a second revoke is a 409", async () => {
    const agent = await createAgent("revoke-bot");
    const submitted = await f.call<Attestation>("POST", "/v1/attestations", {
      token: creator,
      body: { agent_id: agent.id, evidence },
    });
    await f.call("POST", `/v1/attestations/${submitted.body.id}/approve`, {
      token: reviewer,
      body: { level: 1, verified_capabilities: ["llm:chat"] },
    });
    const revoked = await f.call<Attestation & { revocation_reason: string }>(
      "POST",
      `/v1/attestations/${submitted.body.id}/revoke`,
      {
        token: reviewer,
        body: { reason: "leaked image" },
        headers: { "if-match": '"v1"' },
      },
    );
    expect(revoked.status).toBe(412);
    const ok = await f.call<Attestation & { revocation_reason: string }>(
      "POST",
      `/v1/attestations/${submitted.body.id}/revoke`,
      { token: reviewer, body: { reason: "leaked image" } },
    );
    expect(ok.body).toMatchObject({ status: "revoked", revocation_reason: "leaked image" });
    for (
      let i = 0;
      i < 100 && !notifications.some((n) => n.id === submitted.body.id && n.status === "revoked");
      i++
    )
      await new Promise((r) => setTimeout(r, 10));
    expect(notifications).toContainEqual(
      expect.objectContaining({
        entity: "attestation",
        id: submitted.body.id,
        agent_id: agent.id,
        spiffe_id: agent.spiffe_id,
        status: "revoked",
      }),
    );
    expect(
      (
        await f.call("POST", `/v1/attestations/${submitted.body.id}/revoke`, {
          token: reviewer,
          body: { reason: "again" },
        })
      ).status,
    ).toBe(409);
  });

  test("a new approval supersedes the old one; after a key rotation both keys are published and old attestations still verify", async () => {
    const agent = await createAgent("rotation-bot");
    const first = await f.call<Attestation>("POST", "/v1/attestations", {
      token: creator,
      body: { agent_id: agent.id, evidence },
    });
    const firstApproved = await f.call<Attestation>("POST", `/v1/attestations/${first.body.id}/approve`, {
      token: reviewer,
      body: { level: 1, verified_capabilities: ["llm:chat"], valid_days: 7 },
    });
    await f.vault!.rotateSigningKey();
    const second = await f.call<Attestation>("POST", "/v1/attestations", {
      token: creator,
      body: { agent_id: agent.id, evidence },
    });
    const secondApproved = await f.call<Attestation>("POST", `/v1/attestations/${second.body.id}/approve`, {
      token: reviewer,
      body: { level: 3, verified_capabilities: ["llm:chat", "github:repo.read"] },
    });
    expect(secondApproved.status).toBe(200);
    expect(secondApproved.body.signing_key_id).toBe("warden-signing-v2");
    // The same JWKS also publishes the token key (delegations, access tokens): warden-tokens-v<N>.
    expect(
      (await jwks()).keys.map((k) => k.kid ?? "").filter((kid) => kid.startsWith("warden-signing-")),
    ).toEqual(["warden-signing-v1", "warden-signing-v2"]);
    expect(
      (await f.call<Attestation>("GET", `/v1/attestations/${first.body.id}`, { token: viewer })).body.status,
    ).toBe("superseded");
    const keySet = createLocalJWKSet(await jwks());
    await jwtVerify(firstApproved.body.jws!, keySet);
    await jwtVerify(secondApproved.body.jws!, keySet);
  });

  test("the control plane's Vault token can sign with warden-signing and nothing else", async () => {
    const token = await f.vault!.tokenFor("control-plane");
    const input = Buffer.from("x").toString("base64");
    expect(
      (
        await f.vault!.request(
          "POST",
          "transit/sign/warden-signing",
          { input, marshaling_algorithm: "jws" },
          token,
        )
      ).status,
    ).toBe(200);
    await f.vault!.request("POST", "transit/keys/other-key", { type: "ecdsa-p256" });
    expect((await f.vault!.request("POST", "transit/sign/other-key", { input }, token)).status).toBe(403);
    expect(
      (await f.vault!.request("GET", "transit/export/signing-key/warden-signing", undefined, token)).status,
    ).toBe(403);
    expect((await f.vault!.request("GET", "warden/data/llm/acme/openai", undefined, token)).status).toBe(403);
  });
});

describe("audit log API", () => {
  test("every registry and KYA change is in the audit log with who did it; filters and pages work", async () => {
    const agent = await createAgent("audited-bot");
    await f.call("PATCH", `/v1/agents/${agent.id}`, {
      token: reviewer,
      body: { status: "suspended" },
      headers: { "if-match": agent.etag },
    });
    const res = await f.call<Page<AuditRow>>("GET", `/v1/audit/events?agent_id=${agent.id}`, {
      token: viewer,
    });
    expect(res.status).toBe(200);
    expect(res.body.items.map((e) => [e.action, e.actor])).toEqual([
      ["agent.created", "carl-creator"],
      ["agent.suspended", "rita-reviewer"],
    ]);
    const suspensions = await f.call<Page<AuditRow>>(
      "GET",
      "/v1/audit/events?action=agent.suspended&tenant=acme",
      { token: reviewer },
    );
    expect(suspensions.body.items.length).toBeGreaterThanOrEqual(1);
    expect(suspensions.body.items.every((e) => e.action === "agent.suspended")).toBe(true);

    const all: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: Page<AuditRow> } = await f.call<Page<AuditRow>>(
        "GET",
        `/v1/audit/events?limit=7${cursor ? `&cursor=${cursor}` : ""}`,
        { token: admin },
      );
      all.push(...page.body.items.map((e) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort((a, b) => a - b)).toEqual(all);

    const future = await f.call<Page<AuditRow>>(
      "GET",
      `/v1/audit/events?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
      { token: admin },
    );
    expect(future.body.items).toEqual([]);
    expect((await f.call("GET", "/v1/audit/events?from=yesterday", { token: admin })).status).toBe(400);
    expect((await f.call("GET", "/v1/audit/events?decision=maybe", { token: admin })).status).toBe(400);
    expect((await f.call("GET", "/v1/audit/events", { token: creator })).status).toBe(403);
  });

  test("export streams every matching event as NDJSON", async () => {
    const listed = await f.call<Page<AuditRow>>("GET", "/v1/audit/events?tenant=acme&limit=500", {
      token: admin,
    });
    const res = await f.call("GET", "/v1/audit/export?tenant=acme", { token: admin });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/x-ndjson/);
    const lines = res.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditRow);
    expect(lines.map((l) => l.id)).toEqual(listed.body.items.map((e) => e.id));
  });

  test("verify passes on the untouched log and names the row a DBA altered", async () => {
    expect(await f.call("POST", "/v1/audit/verify", { token: reviewer })).toMatchObject({
      status: 200,
      body: { ok: true, problem: null },
    });
    expect(
      (await f.call("POST", "/v1/audit/verify", { token: reviewer, body: { tenant: "acme" } })).body,
    ).toMatchObject({ ok: true });
    expect((await f.call("POST", "/v1/audit/verify", { token: viewer })).status).toBe(403);
    const badTenant = await f.call<ErrorReply>("POST", "/v1/audit/verify", {
      token: reviewer,
      body: { tenant: "Not A Slug", extra: 1 },
    });
    expect(badTenant.status).toBe(400);
    expect(badTenant.body.error.details!.map((d) => d.field).sort()).toEqual(["extra", "tenant"]);
    const victim = (await f.call<Page<AuditRow>>("GET", "/v1/audit/events?tenant=globex", { token: admin }))
      .body.items[0]!;
    await f.cluster!.sql(
      `BEGIN; SET LOCAL session_replication_role = replica; UPDATE audit_events SET actor = 'someone-else' WHERE id = ${victim.id}; COMMIT;`,
      [],
      f.databaseUrl!.split("/").pop(),
    );
    const res = await f.call<{ ok: boolean; problem: { id: number; tenant: string; kind: string } }>(
      "POST",
      "/v1/audit/verify",
      { token: admin },
    );
    expect(res.body.ok).toBe(false);
    expect(res.body.problem).toMatchObject({ id: victim.id, tenant: "globex", kind: "hash_mismatch" });
  });
});

describe("policy revision in force", () => {
  test("no data-plane decision audited yet: no revision, the default window; bad windows and roles refused", async () => {
    expect(await f.call("GET", "/v1/audit/policy-revision", { token: viewer })).toMatchObject({
      status: 200,
      body: { latest: null, recent: [], window: 500 },
    });
    expect((await f.call("GET", "/v1/audit/policy-revision?window=3", { token: admin })).body).toMatchObject({
      window: 3,
    });
    const zero = await f.call<ErrorReply>("GET", "/v1/audit/policy-revision?window=0", { token: admin });
    expect(zero.status).toBe(400);
    expect(zero.body.error.details!.map((d) => d.field)).toEqual(["query.window"]);
    expect((await f.call("GET", "/v1/audit/policy-revision", { token: creator })).status).toBe(403);
  });
});

describe("dependencies failing", () => {
  test("with Vault down, approval is a 503 and the attestation stays pending; readiness reports it", async () => {
    const agent = await createAgent("vault-down-bot");
    const submitted = await f.call<Attestation>("POST", "/v1/attestations", {
      token: creator,
      body: {
        agent_id: agent.id,
        evidence: {
          code_hash: `sha256:${"b".repeat(64)}`,
          endpoints: [],
          security_checklist: FULL_SECURITY_CHECKLIST,
        },
      },
    });
    await f.vault!.stop();
    const res = await f.call<ErrorReply>("POST", `/v1/attestations/${submitted.body.id}/approve`, {
      token: reviewer,
      body: { level: 1, verified_capabilities: [] },
    });
    expect(res.status).toBe(503);
    expect(
      (await f.call<Attestation>("GET", `/v1/attestations/${submitted.body.id}`, { token: viewer })).body
        .status,
    ).toBe("pending");
    expect(await f.call("GET", "/readyz")).toMatchObject({
      status: 503,
      body: { checks: { vault: "unavailable" } },
    });
  });
});

describe("coverage", () => {
  test("every operation in the OpenAPI document was exercised with a documented status", () => {
    // Delegations and the token service are exercised (and their coverage checked) by delegation-api.test.ts,
    // usage and budgets by llm-usage-store.test.ts, account connections by oauth-connections-e2e.test.ts,
    // MCP tool rules and tokens by mcp-control-plane.test.ts, approvals by mcp-approvals.test.ts,
    // tenants by tenant-isolation.test.ts, webhooks by webhooks.test.ts, rate limits by rate-limits.test.ts.
    const delegationPaths = /^\/(v1\/delegations|v1\/me\/delegations|\.well-known\/openid-configuration)/;
    const elsewhere = (path: string) =>
      delegationPaths.test(path) ||
      /^\/v1\/(usage|budgets|connections|approvals|tenants|webhooks|rate-limits)/.test(path) ||
      /^\/v1\/mcp-servers\/\{id\}\/(tool-rules|tokens)/.test(path) ||
      path === "/.well-known/oauth-authorization-server";
    const missing = f.operations
      .filter((op) => !elsewhere(op.path))
      .map((op) => op.operationId)
      .filter((id) => !f.covered.has(id));
    expect(missing).toEqual([]);
  });
});
