import pg from "pg";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import {
  claimsOf,
  grant,
  headerOf,
  registerAgent,
  type DelegationView,
  type Entry,
  type Grant,
} from "./delegation-fixture.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

/**
 * Delegations through the control plane's API, on the real PostgreSQL and OpenBao
 * (the token signed by the `warden-tokens` transit key with the control-plane policy's rights only).
 */
type ErrorReply = {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
};

const DAY = 86_400;
let f: ControlPlaneFixture;
let tokens: Record<"admin" | "creator" | "reviewer" | "ursula" | "ulrich" | "limited" | "globex", string>;
let drive: Entry;
let unattested: Entry;
let notices: { channel: string; payload: Record<string, unknown> }[];
let listener: pg.Client;

beforeAll(async () => {
  f = await startControlPlaneFixture({ vault: true, env: { WARDEN_DELEGATION_MAX_TTL_S: String(7 * DAY) } });
  tokens = {
    admin: await f.token({ sub: "ada-admin", roles: ["admin"], tenant: "acme" }),
    creator: await f.token({ sub: "carl-creator", roles: ["creator"] }),
    reviewer: await f.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
    ursula: await f.token({ sub: "ursula", roles: ["user"], tenant: "acme" }),
    ulrich: await f.token({ sub: "ulrich", roles: ["user"], tenant: "acme" }),
    limited: await f.token({
      sub: "lena",
      roles: ["user"],
      tenant: "acme",
      extraClaims: { delegable_scopes: ["google-drive:read"] },
    }),
    globex: await f.token({ sub: "gary", roles: ["user"], tenant: "globex" }),
  };
  drive = await registerAgent(f, tokens.creator, tokens.reviewer, {
    name: "drive-helper",
    capabilities: ["google-drive:read", "google-drive:write", "github:read", "llm:chat"],
    verified: ["google-drive:read", "google-drive:write", "github:read"],
  });
  unattested = await registerAgent(f, tokens.creator, tokens.reviewer, {
    name: "unattested-helper",
    capabilities: ["google-drive:read"],
    verified: null,
  });
  notices = [];
  listener = new pg.Client({ connectionString: f.databaseUrl! });
  await listener.connect();
  listener.on("notification", (n) =>
    notices.push({ channel: n.channel, payload: JSON.parse(n.payload ?? "{}") as Record<string, unknown> }),
  );
  await listener.query("LISTEN warden_delegations");
}, 120_000);

afterAll(async () => {
  await listener?.end();
  await f?.close();
}, TEARDOWN_TIMEOUT_MS);

const waitForNotice = async (match: (p: Record<string, unknown>) => boolean) => {
  for (let i = 0; i < 100; i += 1) {
    const found = notices.find((n) => match(n.payload));
    if (found) return found.payload;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("no matching NOTIFY warden_delegations");
};

describe("granting a delegation", () => {
  let granted: Grant;

  test("a user grants read-only Drive for 24 h: stored, and a token in the ID-JAG shape that the JWKS verifies", async () => {
    const before = Date.now();
    granted = await grant(f, tokens.ursula, { agent_id: drive.id, scopes: ["google-drive:read"] });
    expect(granted.header).toBe("x-warden-delegation");
    expect(granted.delegation).toMatchObject({
      tenant: "acme",
      user_id: "ursula",
      agent_id: drive.id,
      agent_spiffe_id: drive.spiffe_id,
      scopes: ["google-drive:read"],
      destinations: [],
      status: "active",
      signing_key_id: "warden-tokens-v1",
    });
    const lifetime = Date.parse(granted.delegation.expires_at) - Date.parse(granted.delegation.issued_at);
    expect(lifetime).toBe(DAY * 1000);
    expect(Date.parse(granted.delegation.issued_at)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);

    const jwks = createRemoteJWKSet(new URL(`${f.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(granted.token, jwks, {
      typ: "oauth-id-jag+jwt",
      audience: "warden",
      issuer: f.url,
    });
    expect(protectedHeader).toMatchObject({ alg: "ES256", kid: "warden-tokens-v1" });
    expect(payload).toEqual({
      iss: f.url,
      sub: "ursula",
      aud: "warden",
      client_id: drive.spiffe_id,
      act: { sub: drive.spiffe_id },
      scope: "google-drive:read",
      jti: granted.delegation.id,
      iat: Date.parse(granted.delegation.issued_at) / 1000,
      nbf: Date.parse(granted.delegation.issued_at) / 1000,
      exp: Date.parse(granted.delegation.expires_at) / 1000,
      tenant: "acme",
    });
    // The JWKS publishes the attestation key and the token key side by side.
    const keys = (
      (await f.call<{ keys: { kid: string }[] }>("GET", "/.well-known/jwks.json")).body.keys ?? []
    ).map((k) => k.kid);
    expect(keys).toEqual(expect.arrayContaining(["warden-signing-v1", "warden-tokens-v1"]));
    // The token is not stored anywhere.
    const stored = await f.controlPlane.db.query(`SELECT * FROM delegations WHERE id = $1`, [
      granted.delegation.id,
    ]);
    expect(JSON.stringify(stored.rows)).not.toContain(granted.token.split(".")[2]!);
  });

  test("a chosen lifetime and destinations are honoured and signed", async () => {
    const g = await grant(f, tokens.ursula, {
      agent_id: drive.id,
      scopes: ["google-drive:read", "github:read"],
      ttl_seconds: 3_600,
      destinations: ["google-drive"],
    });
    const claims = claimsOf(g.token);
    expect(claims.exp as number).toBe((claims.iat as number) + 3_600);
    expect(claims.scope).toBe("google-drive:read github:read");
    expect(claims.destinations).toEqual(["google-drive"]);
    expect(headerOf(g.token).typ).toBe("oauth-id-jag+jwt");
  });

  test("the grant is audited with the user, the agent and the delegation", async () => {
    const events = await f.call<{
      items: { action: string; user_id: string; delegation_id: string; agent_id: string }[];
    }>("GET", `/v1/audit/events?action=delegation.granted&user_id=ursula`, { token: tokens.admin });
    expect(events.body.items[0]).toMatchObject({
      action: "delegation.granted",
      user_id: "ursula",
      agent_id: drive.id,
      delegation_id: granted.delegation.id,
    });
  });
});

describe("scope escalation is impossible (403, each offending scope named)", () => {
  test("a scope the agent's KYA attestation did not verify", async () => {
    const res = await f.call<ErrorReply>("POST", "/v1/delegations", {
      token: tokens.ursula,
      body: { agent_id: drive.id, scopes: ["google-drive:read", "salesforce:read", "github:write"] },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/salesforce:read, github:write/);
    expect(res.body.error.details).toEqual([
      { field: "scopes[1]", message: '"salesforce:read" is not among the agent\'s verified capabilities' },
      { field: "scopes[2]", message: '"github:write" is not among the agent\'s verified capabilities' },
    ]);
  });

  test("a scope the user may not give (their token's delegable_scopes)", async () => {
    const res = await f.call<ErrorReply>("POST", "/v1/delegations", {
      token: tokens.limited,
      body: { agent_id: drive.id, scopes: ["google-drive:read", "google-drive:write"] },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual([
      { field: "scopes[1]", message: '"google-drive:write" is not a scope you may delegate' },
    ]);
    expect(
      (
        await f.call("POST", "/v1/delegations", {
          token: tokens.limited,
          body: { agent_id: drive.id, scopes: ["google-drive:read"] },
        })
      ).status,
    ).toBe(201);
  });

  test("an agent without an approved KYA attestation gets nothing", async () => {
    const res = await f.call<ErrorReply>("POST", "/v1/delegations", {
      token: tokens.ursula,
      body: { agent_id: unattested.id, scopes: ["google-drive:read"] },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.details?.[0]?.message).toMatch(/no approved KYA attestation/);
  });

  test("another tenant's agent does not exist for the user (404), nothing is stored", async () => {
    const res = await f.call<ErrorReply>("POST", "/v1/delegations", {
      token: tokens.globex,
      body: { agent_id: drive.id, scopes: ["google-drive:read"] },
    });
    expect(res.status).toBe(404);
    const rows = await f.controlPlane.db.query(`SELECT 1 FROM delegations WHERE user_id = 'gary'`);
    expect(rows.rowCount).toBe(0);
  });
});

describe("claims fail closed", () => {
  test("a tenant claim that is not a tenant name is a 401, never 'every tenant'", async () => {
    for (const tenant of [42, "", ["acme", "globex"], { id: "acme" }]) {
      const token = await f.token({ sub: "ursula", roles: ["user"], extraClaims: { tenant } });
      const res = await f.call<ErrorReply>("GET", "/v1/me/delegations", { token });
      expect(res.status).toBe(401);
      expect(res.body.error.message).toMatch(/tenant claim is malformed/);
    }
  });

  test("a user token without a tenant claim grants, lists and revokes nothing across tenants", async () => {
    const token = await f.token({ sub: "ursula", roles: ["user"] });
    const granted = await f.call<ErrorReply>("POST", "/v1/delegations", {
      token,
      body: { agent_id: drive.id, scopes: ["google-drive:read"] },
    });
    expect(granted.status).toBe(403);
    expect(granted.body.error.message).toMatch(/tenant claim/);
    expect((await f.call("GET", "/v1/me/delegations", { token })).status).toBe(403);
    expect(
      (await f.call("POST", "/v1/delegations/revoke", { token, body: { user_id: "ursula" } })).status,
    ).toBe(403);
  });

  test("a malformed delegable_scopes claim limits everything, not nothing", async () => {
    for (const claim of [42, { "google-drive:read": true }, ["google-drive:read", 7], null]) {
      const token = await f.token({
        sub: "lena",
        roles: ["user"],
        tenant: "acme",
        extraClaims: { delegable_scopes: claim },
      });
      const res = await f.call<ErrorReply>("POST", "/v1/delegations", {
        token,
        body: { agent_id: drive.id, scopes: ["google-drive:read"] },
      });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/delegable-scopes claim is malformed/);
    }
  });
});

describe("bad input is a 400 naming the field", () => {
  const cases: [string, unknown, string][] = [
    ["an unknown scope", { scopes: ["google-drive:admin"] }, "scopes[0]"],
    [
      "a lifetime over the configured maximum",
      { scopes: ["google-drive:read"], ttl_seconds: 7 * DAY + 1 },
      "ttl_seconds",
    ],
    ["a zero lifetime", { scopes: ["google-drive:read"], ttl_seconds: 0 }, "ttl_seconds"],
    [
      "a lifetime that is not an integer",
      { scopes: ["google-drive:read"], ttl_seconds: "3600" },
      "ttl_seconds",
    ],
    [
      "an unknown destination",
      { scopes: ["google-drive:read"], destinations: ["dropbox"] },
      "destinations[0]",
    ],
    ["no scopes", { scopes: [] }, "scopes"],
    ["the same scope twice", { scopes: ["google-drive:read", "google-drive:read"] }, "scopes"],
    ["an unknown field", { scopes: ["google-drive:read"], admin: true }, "admin"],
  ];
  test.each(cases)("%s", async (_name, patch, field) => {
    const res = await f.call<ErrorReply>("POST", "/v1/delegations", {
      token: tokens.ursula,
      body: { agent_id: drive.id, ...(patch as object) },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details?.map((d) => d.field)).toContain(field);
  });

  test("no agent, or an id that is not a UUID", async () => {
    const missing = await f.call<ErrorReply>("POST", "/v1/delegations", {
      token: tokens.ursula,
      body: { scopes: ["google-drive:read"] },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details).toEqual([{ field: "agent_id", message: "is required" }]);
    expect((await f.call("GET", "/v1/delegations/not-a-uuid", { token: tokens.ursula })).status).toBe(400);
    expect((await f.call("GET", "/v1/delegations?status=forever", { token: tokens.ursula })).status).toBe(
      400,
    );
  });

  test("a bulk revocation must name exactly one of agent, user or tenant", async () => {
    for (const body of [{}, { agent_id: drive.id, tenant: "acme" }, { reason: "no selector" }]) {
      const res = await f.call<ErrorReply>("POST", "/v1/delegations/revoke", { token: tokens.admin, body });
      expect(res.status).toBe(400);
    }
  });

  test("no token is a 401; a suspended agent cannot be granted (409)", async () => {
    expect(
      (await f.call("POST", "/v1/delegations", { body: { agent_id: drive.id, scopes: ["github:read"] } }))
        .status,
    ).toBe(401);
    const paused = await registerAgent(f, tokens.creator, tokens.reviewer, {
      name: "paused-helper",
      capabilities: ["github:read"],
      verified: ["github:read"],
    });
    const current = await f.call<{ version: number }>("GET", `/v1/agents/${paused.id}`, {
      token: tokens.admin,
    });
    await f.call("PATCH", `/v1/agents/${paused.id}`, {
      token: tokens.admin,
      body: { status: "suspended" },
      headers: { "if-match": `"v${current.body.version}"` },
    });
    const res = await f.call<ErrorReply>("POST", "/v1/delegations", {
      token: tokens.ursula,
      body: { agent_id: paused.id, scopes: ["github:read"] },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/suspended/);
  });
});

describe("views", () => {
  test("a user sees which agents can act for them, with which scopes, until when, and what they did", async () => {
    const mine = await grant(f, tokens.ulrich, {
      agent_id: drive.id,
      scopes: ["github:read"],
      ttl_seconds: 7_200,
    });
    const view = await f.call<{
      items: {
        delegation: DelegationView;
        agent: { name: string; spiffe_id: string };
        activity: { events: number };
      }[];
    }>("GET", "/v1/me/delegations", { token: tokens.ulrich });
    expect(view.status).toBe(200);
    expect(view.body.items).toEqual([
      {
        delegation: expect.objectContaining({
          id: mine.delegation.id,
          scopes: ["github:read"],
          expires_at: mine.delegation.expires_at,
        }),
        agent: { id: drive.id, name: "drive-helper", kind: "agent", spiffe_id: drive.spiffe_id },
        activity: { events: 1, allowed: 0, denied: 0, last_event_at: expect.any(String) },
      },
    ]);
    const events = await f.call<{ items: { action: string }[] }>(
      "GET",
      `/v1/delegations/${mine.delegation.id}/events`,
      { token: tokens.ulrich },
    );
    expect(events.body.items.map((e) => e.action)).toEqual(["delegation.granted"]);
    // Someone else's delegation does not exist for them.
    expect(
      (await f.call("GET", `/v1/delegations/${mine.delegation.id}`, { token: tokens.ursula })).status,
    ).toBe(404);
    expect(
      (await f.call("GET", `/v1/delegations/${mine.delegation.id}/events`, { token: tokens.ursula })).status,
    ).toBe(404);
    expect(
      (await f.call("GET", `/v1/delegations/${mine.delegation.id}`, { token: tokens.ulrich })).status,
    ).toBe(200);
  });

  test("an admin lists every delegation of an agent; a user only their own", async () => {
    const all = await f.call<{ items: DelegationView[] }>(
      "GET",
      `/v1/delegations?agent_id=${drive.id}&status=active&limit=500`,
      {
        token: tokens.admin,
      },
    );
    expect(all.status).toBe(200);
    expect(new Set(all.body.items.map((d) => d.user_id))).toEqual(new Set(["ursula", "ulrich", "lena"]));
    const own = await f.call<{ items: DelegationView[] }>("GET", `/v1/delegations?agent_id=${drive.id}`, {
      token: tokens.ursula,
    });
    expect(new Set(own.body.items.map((d) => d.user_id))).toEqual(new Set(["ursula"]));
    expect((await f.call("GET", "/v1/delegations?user_id=ulrich", { token: tokens.ursula })).status).toBe(
      403,
    );
    // Pages are stable: two pages of one hold what one page of two holds.
    const first = await f.call<{ items: DelegationView[]; next_cursor: string }>(
      "GET",
      `/v1/delegations?agent_id=${drive.id}&limit=1`,
      { token: tokens.admin },
    );
    const second = await f.call<{ items: DelegationView[] }>(
      "GET",
      `/v1/delegations?agent_id=${drive.id}&limit=1&cursor=${first.body.next_cursor}`,
      { token: tokens.admin },
    );
    expect([...first.body.items, ...second.body.items].map((d) => d.id)).toEqual(
      all.body.items.slice(0, 2).map((d) => d.id),
    );
  });
});

describe("revocation: audited and announced to the data plane as it commits", () => {
  test("by delegation (its user): status revoked, NOTIFY lists the id, a second revocation is a 409", async () => {
    const g = await grant(f, tokens.ursula, { agent_id: drive.id, scopes: ["google-drive:read"] });
    const res = await f.call<DelegationView>("POST", `/v1/delegations/${g.delegation.id}/revoke`, {
      token: tokens.ursula,
      body: { reason: "done with it" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "revoked", revoked_via: "delegation" });
    const notice = await waitForNotice((p) => JSON.stringify(p.ids ?? []).includes(g.delegation.id));
    expect(notice).toMatchObject({ v: 1, op: "revoked", by: "delegation", tenant: "acme" });
    expect((notice.ids as [string, number][])[0]).toEqual([
      g.delegation.id,
      Date.parse(g.delegation.expires_at) / 1000,
    ]);
    const again = await f.call<ErrorReply>("POST", `/v1/delegations/${g.delegation.id}/revoke`, {
      token: tokens.ursula,
    });
    expect(again.status).toBe(409);
    const events = await f.call<{ items: { action: string; reason: string }[] }>(
      "GET",
      `/v1/delegations/${g.delegation.id}/events`,
      {
        token: tokens.ursula,
      },
    );
    expect(events.body.items.map((e) => [e.action, e.reason])).toEqual([
      ["delegation.granted", null],
      ["delegation.revoked", "done with it"],
    ]);
  });

  test("by user: a user takes back everything they gave; another user's delegations are untouched", async () => {
    const a = await grant(f, tokens.ulrich, { agent_id: drive.id, scopes: ["github:read"] });
    const res = await f.call<{ revoked: number }>("POST", "/v1/delegations/revoke", {
      token: tokens.ulrich,
      body: { user_id: "ulrich" },
    });
    expect(res.body.revoked).toBe(2);
    await waitForNotice((p) => p.by === "user" && p.user_id === "ulrich");
    expect(
      (await f.call<DelegationView>("GET", `/v1/delegations/${a.delegation.id}`, { token: tokens.ulrich }))
        .body.revoked_via,
    ).toBe("user");
    expect(
      (await f.call("POST", "/v1/delegations/revoke", { token: tokens.ulrich, body: { user_id: "ursula" } }))
        .status,
    ).toBe(403);
    const ursulas = await f.call<{ items: DelegationView[] }>("GET", "/v1/delegations?status=active", {
      token: tokens.ursula,
    });
    expect(ursulas.body.items.length).toBeGreaterThan(0);
  });

  test("by agent (admin incident button): every live delegation of the agent, one audit event, one notice", async () => {
    const live = await f.call<{ items: DelegationView[] }>(
      "GET",
      `/v1/delegations?agent_id=${drive.id}&status=active&limit=500`,
      {
        token: tokens.admin,
      },
    );
    expect(
      (await f.call("POST", "/v1/delegations/revoke", { token: tokens.ursula, body: { agent_id: drive.id } }))
        .status,
    ).toBe(403);
    const res = await f.call<{ revoked: number }>("POST", "/v1/delegations/revoke", {
      token: tokens.admin,
      body: { agent_id: drive.id, reason: "agent compromised" },
    });
    expect(res.body.revoked).toBe(live.body.items.length);
    const notice = await waitForNotice((p) => p.by === "agent");
    expect(notice).toMatchObject({ by: "agent", tenant: "acme", agent_spiffe_id: drive.spiffe_id });
    const after = await f.call<{ items: DelegationView[] }>(
      "GET",
      `/v1/delegations?agent_id=${drive.id}&status=active`,
      { token: tokens.admin },
    );
    expect(after.body.items).toEqual([]);
    const audit = await f.call<{ items: { action: string; details: { revoked: number }; reason: string }[] }>(
      "GET",
      `/v1/audit/events?action=delegations.revoked_by_agent&agent_id=${drive.id}`,
      { token: tokens.admin },
    );
    expect(audit.body.items).toEqual([
      expect.objectContaining({
        details: { via: "agent", revoked: live.body.items.length },
        reason: "agent compromised",
      }),
    ]);
  });

  test("by tenant (admin): nothing of the tenant stays live", async () => {
    await grant(f, tokens.ursula, { agent_id: drive.id, scopes: ["google-drive:read"] });
    const res = await f.call<{ revoked: number }>("POST", "/v1/delegations/revoke", {
      token: tokens.admin,
      body: { tenant: "acme" },
    });
    expect(res.body.revoked).toBeGreaterThanOrEqual(1);
    await waitForNotice((p) => p.by === "tenant");
    const rows = await f.controlPlane.db.query(
      `SELECT 1 FROM delegations WHERE tenant = 'acme' AND revoked_at IS NULL`,
    );
    expect(rows.rowCount).toBe(0);
    expect(
      (await f.call("POST", "/v1/delegations/revoke", { token: tokens.ursula, body: { tenant: "acme" } }))
        .status,
    ).toBe(403);
  });

  test("the audit chain still verifies", async () => {
    expect((await f.call("POST", "/v1/audit/verify", { token: tokens.admin })).body).toMatchObject({
      ok: true,
    });
  });
});

describe("discovery and coverage", () => {
  test("the token service's metadata is public", async () => {
    const res = await f.call<Record<string, unknown>>("GET", "/.well-known/openid-configuration");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      issuer: f.url,
      jwks_uri: `${f.url}/.well-known/jwks.json`,
      grant_types_supported: ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
      token_endpoint_auth_methods_supported: ["tls_client_auth"],
      tls_client_certificate_bound_access_tokens: true,
    });
  });

  test("every delegation operation of the OpenAPI document was exercised with a documented status", () => {
    const ours = f.operations.filter((op) =>
      /^\/(v1\/delegations|v1\/me\/delegations|\.well-known\/openid-configuration)/.test(op.path),
    );
    expect(ours.length).toBe(8);
    expect(ours.map((op) => op.operationId).filter((id) => !f.covered.has(id))).toEqual([]);
  });
});

describe("embedded PGlite", () => {
  test("the same migration, grant, views and revocation notice work without a database server", async () => {
    const embedded = await startControlPlaneFixture({ postgres: false, vault: true });
    try {
      expect(embedded.controlPlane.db.kind).toBe("pglite");
      const heard: string[] = [];
      const unlisten = await embedded.controlPlane.db.listen("warden_delegations", (p) => heard.push(p));
      const [creator, reviewer, user] = await Promise.all([
        embedded.token({ sub: "carl", roles: ["creator"] }),
        embedded.token({ sub: "rita", roles: ["reviewer"] }),
        embedded.token({ sub: "uma", roles: ["user"], tenant: "acme" }),
      ]);
      const agent = await registerAgent(embedded, creator, reviewer, {
        name: "embedded-helper",
        capabilities: ["github:read"],
        verified: ["github:read"],
      });
      const g = await grant(embedded, user, { agent_id: agent.id, scopes: ["github:read"] });
      expect(
        (await embedded.call<{ items: unknown[] }>("GET", "/v1/me/delegations", { token: user })).body.items,
      ).toHaveLength(1);
      expect(
        (await embedded.call("POST", `/v1/delegations/${g.delegation.id}/revoke`, { token: user })).status,
      ).toBe(200);
      for (let i = 0; i < 50 && heard.length === 0; i += 1) await new Promise((r) => setTimeout(r, 20));
      expect(heard.map((p) => (JSON.parse(p) as { by: string }).by)).toEqual(["delegation"]);
      await unlisten();
    } finally {
      await embedded.close();
    }
  }, 120_000);
});
