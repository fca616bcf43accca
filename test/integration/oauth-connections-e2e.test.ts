import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import type { Agent as HttpsAgent } from "node:https";
import { tmpdir } from "node:os";
import pg from "pg";
import { join } from "node:path";
import {
  followingControlPlane,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from "../harness/control-plane.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { REPO_ROOT, RUN_DIR, sleep, stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../harness/spire.js";
import { destinationsWithServiceAt, startStack, type Stack } from "../harness/stack.js";
import type { VaultTls } from "../harness/vault-tls.js";
import { connectDrive, extprocDatabaseLogin, startDriveWorld } from "../support/drive-connection.js";
import { startOAuthProviderStub, type OAuthProviderStub } from "../stubs/oauth-provider.js";
import { startStubUpstream, type StubUpstream } from "../stubs/upstream.js";
import { percentile, PUSH_PATH_BOUND_MS } from "../harness/stats.js";
import { StubOidcIssuer } from "../stubs/oidc-issuer.js";
import {
  callSidecar,
  errorCode,
  grant,
  registerAgent,
  svidAgent,
  type Entry,
  type SidecarResponse,
} from "./delegation-fixture.js";

/**
 * All real but the provider: SPIRE SVIDs, Envoy, authz-server (delegations
 * verified against the control plane's JWKS), extproc-server (Vault TLS cert auth), OpenBao (KV v2,
 * transit, the policies of vault/*.hcl), PostgreSQL, the control plane as a process. The OAuth
 * provider and its Drive-like API are one stub (test/stubs/oauth-provider.ts).
 */
const TD = "warden.local";
const CLIENT = { clientId: "warden-drive-client", clientSecret: "stub-client-secret-5b2e9c1d" };
const LATENCY_TRIALS = Number(process.env.WARDEN_OAUTH_REFRESH_TRIALS ?? 30);

const startedAt = Date.now();
let work: string;
let spire: SpireStack;
let cluster: PostgresCluster;
let databaseUrl: string;
let vault: VaultTls;
let oidc: StubOidcIssuer;
let cp: ControlPlaneProcess;
let provider: OAuthProviderStub;
/** Where a misbehaving provider would like credentials sent (another host). */
let elsewhere: StubUpstream;
let stack: Stack;
let helper: Entry;
let agent: HttpsAgent;
let ursula: string;
let victor: string;
let readToken: string;
let extprocDatabaseUrl: string;
const agentSaw: string[] = [];
const figures: Record<string, unknown> = {};

const driveUrl = (path = "/drive/v3/files") => `${stack.agentUrl}/google-drive${path}`;

async function asAgent(
  path = "/drive/v3/files",
  options: {
    method?: string;
    delegation?: string | null;
    headers?: Record<string, string>;
    body?: string;
  } = {},
): Promise<SidecarResponse> {
  const delegation = options.delegation === undefined ? readToken : options.delegation;
  const res = await callSidecar(agent, driveUrl(path), {
    method: options.method ?? "GET",
    headers: { ...(delegation ? { "x-warden-delegation": delegation } : {}), ...options.headers },
    body: options.body,
  });
  agentSaw.push(res.body);
  return res;
}

function sql<Row extends Record<string, unknown> = Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
) {
  return cluster.sql<Row>(text, params, new URL(databaseUrl).pathname.slice(1));
}

/** The provider revokes the live token: the next call gets 401 and extproc refreshes to a token of `ttl` seconds. */
async function replaceTokenWithOneLiving(ttlSeconds: number): Promise<void> {
  provider.accessTtlSeconds = ttlSeconds;
  provider.revokeAccessTokens();
  // 401 and a refresh on it; or, when the cached token was already due, a refresh before the call.
  const refreshes = provider.counts.refreshes;
  const res = await asAgent();
  expect([200, 401]).toContain(res.status);
  expect(provider.counts.refreshes).toBe(refreshes + 1);
}

/**
 * The user's side of the flow, in one browser: start (the binding cookie is set), follow the
 * provider's consent redirect, land on the callback (the cookie goes with it), see the account, confirm.
 */
const connect = (userToken: string, scopes?: string[]) => connectDrive(cp, userToken, scopes);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "woauth-"));
  chmodSync(work, 0o755);
  spire = await startSpire({ name: "oauth-e2e-spire", trustDomain: TD });
  cluster = await startPostgres();
  databaseUrl = await cluster.createDatabase("oauth");
  oidc = await StubOidcIssuer.start();
  provider = await startOAuthProviderStub(CLIENT);
  elsewhere = await startStubUpstream({ host: "127.0.0.2" });

  // One OpenBao for everyone, over TLS: the control plane with a token of its policy, extproc with cert auth.
  // OpenBao starts as `warden up` starts it: transit keys and vault/*.hcl policies are in place.
  const world = await startDriveWorld("oauth-e2e", work, provider.url, CLIENT);
  vault = world.vault;

  cp = await startControlPlaneProcess({
    name: "oauth-e2e-cp",
    databaseUrl,
    oidcIssuer: oidc.issuer,
    env: {
      VAULT_ADDR: vault.address,
      VAULT_TOKEN: world.controlPlaneToken,
      NODE_EXTRA_CA_CERTS: vault.caFile,
      WARDEN_SAAS_CATALOGUE: world.catalogue,
      WARDEN_OAUTH_STATE_TTL_S: "3",
      // The provider stub is on loopback: allowed by configuration, as an on-premises IdP would be.
      WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: "127.0.0.1",
    },
  });
  const [creator, reviewer] = await Promise.all([
    oidc.token({ sub: "carl-creator", roles: ["creator"] }),
    oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
  ]);
  ursula = await oidc.token({ sub: "ursula", roles: ["user"], tenant: "acme" });
  victor = await oidc.token({ sub: "victor", roles: ["user"], tenant: "acme" });
  helper = await registerAgent(cp, creator, reviewer, {
    name: "drive-reader",
    capabilities: ["google-drive:read", "google-drive:write"],
    verified: ["google-drive:read", "google-drive:write"],
  });
  await spire.register(helper.spiffe_id, [currentProcessSelector()]);

  extprocDatabaseUrl = await extprocDatabaseLogin(cluster, databaseUrl, "oauth_e2e_extproc");
  stack = await startStack({
    name: "oauth-e2e",
    spire,
    policyDir: join(REPO_ROOT, "policies"),
    destinations: destinationsWithServiceAt("google-drive", provider.port),
    authzEnv: await followingControlPlane(cluster, databaseUrl, cp.url, { acceptTokens: true }),
    extprocEnv: {
      ...world.extprocEnv,
      WARDEN_OAUTH_REFRESH_MARGIN_S: "30",
      WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: "127.0.0.1",
      DATABASE_URL: extprocDatabaseUrl,
    },
  });
  const update = await spire.waitForSvid(helper.spiffe_id);
  agent = svidAgent(
    update.svids.find((s) => s.spiffeId === helper.spiffe_id)!,
    update.bundlesPem,
  );
  readToken = (await grant(cp, ursula, { agent_id: helper.id, scopes: ["google-drive:read"] })).token;
  await waitFor(
    "the agent reaches the data plane",
    async () => errorCode(await asAgent("/drive/v3/files", { delegation: null })) === "delegation_required",
    30_000,
  );
}, 300_000);

afterAll(async () => {
  agent?.destroy();
  await stack?.stop();
  await cp?.stop();
  await provider?.close();
  await elsewhere?.close();
  await oidc?.close();
  await vault?.stop();
  await cluster?.destroy();
  await spire?.stop();
  await stopAll();
  if (work) rmSync(work, { recursive: true, force: true });
  process.stdout.write(`oauth connection figures: ${JSON.stringify(figures, null, 2)}\n`);
}, TEARDOWN_TIMEOUT_MS);

describe("a user connects Google Drive and lets an agent read it", () => {
  test("before connecting, the agent's call is refused with 409 account_not_connected and nothing reaches Drive", async () => {
    const before = provider.requests.length;
    const res = await asAgent();
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe("account_not_connected");
    expect((JSON.parse(res.body) as { error: { decision_id: string } }).error.decision_id).toBeTruthy();
    expect(provider.requests.length).toBe(before);
  });

  test("the code + PKCE flow connects the account; the database holds metadata only", async () => {
    const connected = await connect(ursula);
    expect(connected.status).toBe(200);
    expect(connected.body).toMatchObject({
      service: "google-drive",
      status: "active",
      user_id: "ursula",
      scopes: ["google-drive:read"],
    });
    expect(provider.counts.codeExchanges).toBe(1);
    // Before anything was stored, the user was shown which provider account was being linked.
    expect(connected.pending).toMatchObject({
      status: "pending_confirmation",
      user_id: "ursula",
      account: { email: "ursula@example.com" },
    });
    const [row] = await sql("SELECT to_jsonb(c) AS row FROM oauth_connections c WHERE user_id = 'ursula'");
    for (const token of provider.issued) expect(JSON.stringify(row)).not.toContain(token);
    // The callback's state is single-use.
    const replay = await fetch(connected.callback);
    expect(replay.status).toBe(400);
    expect(JSON.stringify(await replay.json())).toContain("state_replayed");
  });

  test("the agent reads through the sidecar: Drive saw the user's token, the agent never did", async () => {
    const before = provider.requests.length;
    const res = await asAgent("/drive/v3/files", {
      headers: { authorization: "Bearer agent-made-up-credential" },
    });
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { kind: string }).kind).toBe("drive#fileList");
    const seen = provider.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(provider.bearerOf(seen[0]!)).not.toBeNull();
    expect(JSON.stringify(seen[0]!.headers)).not.toContain("agent-made-up-credential");
    expect(seen[0]!.headers["x-warden-delegation"]).toBeUndefined();
    for (const token of provider.issued) expect(res.body).not.toContain(token);
  });

  test("token fields a provider echoes never reach the agent", async () => {
    const res = await asAgent("/drive/v3/about");
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { debug: { access_token: string; refresh_token: string } };
    expect(body.debug).toEqual({ access_token: "[REDACTED]", refresh_token: "[REDACTED]" });
    for (const token of provider.issued) expect(res.body).not.toContain(token);
  });

  test("a write with a read-only delegation is refused and nothing reaches Drive", async () => {
    const before = provider.requests.length;
    const res = await asAgent("/drive/v3/files", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "x" }),
    });
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe("delegation_scope_insufficient");
    expect(provider.requests.length).toBe(before);
  });

  test("a delegating user without a connected account: 409 account_not_connected", async () => {
    const victorsGrant = (await grant(cp, victor, { agent_id: helper.id, scopes: ["google-drive:read"] }))
      .token;
    const res = await asAgent("/drive/v3/files", { delegation: victorsGrant });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe("account_not_connected");
  });

  test("Vault holds transit ciphertext, not the token", async () => {
    const { body } = await vault.request<{ data: { data: Record<string, unknown> } }>(
      "GET",
      "warden/data/oauth/acme/ursula/google-drive",
    );
    const stored = body.data.data;
    expect(stored.access_token).toMatch(/^vault:v1:/);
    expect(stored.refresh_token).toMatch(/^vault:v1:/);
    for (const token of provider.issued) expect(JSON.stringify(stored)).not.toContain(token);
  });
});

describe("refresh", () => {
  test("a 401 from Drive refreshes the token: the agent's next call succeeds", async () => {
    provider.revokeAccessTokens();
    const refreshes = provider.counts.refreshes;
    const refused = await asAgent();
    expect(refused.status).toBe(401);
    expect(provider.counts.refreshes).toBe(refreshes + 1);
    const next = await asAgent();
    expect(next.status).toBe(200);
  });

  test("an expired token at request time is refreshed before the upstream call (latency printed)", async () => {
    // Tokens now live 1 s (inside the 30 s refresh margin); each trial waits until the stored one has expired.
    await replaceTokenWithOneLiving(1);
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_TRIALS; i++) {
      await sleep(1_050);
      const refreshes = provider.counts.refreshes;
      const res = await asAgent();
      expect({ status: res.status, body: res.status === 200 ? "" : res.body }).toEqual({
        status: 200,
        body: "",
      });
      expect(provider.counts.refreshes).toBe(refreshes + 1);
      latencies.push(res.receivedAt - res.sentAt);
    }
    await replaceTokenWithOneLiving(3600);
    expect((await asAgent()).status).toBe(200);
    const cached: number[] = [];
    for (let i = 0; i < LATENCY_TRIALS; i++) {
      const res = await asAgent();
      expect(res.status).toBe(200);
      cached.push(res.receivedAt - res.sentAt);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const base = [...cached].sort((a, b) => a - b);
    const round = (ms: number) => Math.round(ms * 10) / 10;
    figures.refresh_latency_ms = {
      trials: LATENCY_TRIALS,
      p50: round(percentile(sorted, 50)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1)!),
      cached_token_p50: round(percentile(base, 50)),
      cached_token_p99: round(percentile(base, 99)),
    };
    expect(percentile(sorted, 99)).toBeLessThan(PUSH_PATH_BOUND_MS);
  }, 120_000);

  test("50 concurrent requests with an expired token cause exactly one refresh at the provider", async () => {
    await replaceTokenWithOneLiving(1);
    provider.accessTtlSeconds = 3600;
    await sleep(1_100);
    const refreshes = provider.counts.refreshes;
    const all = await Promise.all(Array.from({ length: 50 }, () => asAgent()));
    expect(all.map((r) => r.status)).toEqual(Array(50).fill(200));
    figures.concurrent_refreshes = provider.counts.refreshes - refreshes;
    expect(provider.counts.refreshes - refreshes).toBe(1);
  });

  test("a refused refresh: 409 reconsent_required, the connection says so, and it is audited", async () => {
    await replaceTokenWithOneLiving(1);
    provider.refuseRefresh = true;
    await sleep(1_100);
    const res = await asAgent();
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe("reconsent_required");
    const again = await asAgent();
    expect(errorCode(again)).toBe("reconsent_required");
    const listed = await cp.call<{ items: { status: string }[] }>("GET", "/v1/connections", {
      token: ursula,
    });
    expect(listed.body.items[0]?.status).toBe("needs_reconsent");
    await waitFor(
      "the refresh failure is audited",
      async () =>
        (await sql("SELECT 1 FROM audit_events WHERE action = 'oauth.token_refresh_failed'")).length > 0,
    );
    provider.refuseRefresh = false;
    provider.accessTtlSeconds = 3600;
    // Connecting again makes it work again.
    expect((await connect(ursula)).status).toBe(200);
    expect((await asAgent()).status).toBe(200);
  });
});

describe("refresh through the hardened client", () => {
  test.each([
    ["a 307 to another host", () => (provider.tokenRedirect = `${elsewhere.url}/steal`)],
    ["a 256 MiB answer", () => (provider.tokenResponseBytes = 256 * 1024 * 1024)],
  ])(
    "a refresh answered with %s: 502 to the agent, the other host sees nothing, the connection is not marked for re-consent",
    async (_label, misbehave) => {
      await replaceTokenWithOneLiving(1);
      provider.accessTtlSeconds = 3600;
      elsewhere.reset();
      misbehave();
      try {
        await sleep(1_100);
        const res = await asAgent();
        expect(res.status).toBe(502);
        expect(errorCode(res)).toBe("upstream_unavailable");
        expect(elsewhere.requests).toEqual([]);
        const listed = await cp.call<{ items: { status: string }[] }>("GET", "/v1/connections", {
          token: ursula,
        });
        expect(listed.body.items[0]?.status).toBe("active");
      } finally {
        provider.tokenRedirect = null;
        provider.tokenResponseBytes = 0;
      }
      // The provider behaves again: the next call refreshes and succeeds.
      expect((await asAgent()).status).toBe(200);
    },
    30_000,
  );
});

describe("connect flow edge cases and disconnect", () => {
  test("an expired or unknown state is a 400 naming why", async () => {
    const started = await cp.call<{ authorization_url: string }>(
      "POST",
      "/v1/connections/google-drive/authorize",
      {
        token: victor,
        body: { scopes: ["google-drive:read"] },
      },
    );
    const consent = await fetch(started.body.authorization_url, { redirect: "manual" });
    await sleep(3_200);
    const late = await fetch(consent.headers.get("location")!);
    expect(late.status).toBe(400);
    expect(JSON.stringify(await late.json())).toContain("state_expired");
    const unknown = await fetch(`${cp.url}/v1/connections/callback?state=forged&code=x`);
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain("state_unknown");
    const bad = await cp.call("POST", "/v1/connections/google-drive/authorize", {
      token: victor,
      body: { scopes: ["github:read"] },
    });
    expect(bad.status).toBe(400);
  });

  test("every token use is audited with agent, user, service, scopes and delegation, without the token", async () => {
    await waitFor(
      "oauth audit events",
      async () => (await sql("SELECT 1 FROM audit_events WHERE action = 'oauth.token_injected'")).length > 0,
    );
    const rows = await sql<{
      action: string;
      agent_spiffe_id: string;
      user_id: string;
      delegation_id: string;
      details: { service: string; scopes: string[] };
    }>(
      "SELECT action, agent_spiffe_id, user_id, delegation_id, details FROM audit_events WHERE action LIKE 'oauth.%' AND source = 'extproc-server'",
    );
    const actions = new Set(rows.map((r) => r.action));
    for (const action of ["oauth.token_read", "oauth.token_refreshed", "oauth.token_injected"])
      expect(actions).toContain(action);
    const ursulas = new Set(rows.filter((r) => r.user_id === "ursula").map((r) => r.action));
    expect(ursulas).toEqual(
      new Set([
        "oauth.token_read",
        "oauth.token_refreshed",
        "oauth.token_injected",
        "oauth.token_refresh_failed",
      ]),
    );
    for (const row of rows) {
      expect(row.agent_spiffe_id).toBe(helper.spiffe_id);
      expect(["ursula", "victor"]).toContain(row.user_id);
      expect(row.delegation_id).toBeTruthy();
      expect(row.details.service).toBe("google-drive");
      expect(row.details.scopes).toEqual(["google-drive:read"]);
    }
    const cpEvents = await sql("SELECT action FROM audit_events WHERE action IN ('oauth.connected')");
    expect(cpEvents.length).toBeGreaterThanOrEqual(2);
  });

  test("disconnect revokes at the provider, destroys the secret, and the agent is refused", async () => {
    const revocations = provider.counts.revocations;
    const res = await cp.call<{ connection: { status: string }; revoked_at_provider: boolean }>(
      "DELETE",
      "/v1/connections/google-drive",
      { token: ursula },
    );
    expect(res.status).toBe(200);
    expect(res.body.revoked_at_provider).toBe(true);
    expect(res.body.connection.status).toBe("revoked");
    expect(provider.counts.revocations).toBe(revocations + 1);
    await expect(vault.request("GET", "warden/metadata/oauth/acme/ursula/google-drive")).rejects.toThrow(
      /404/,
    );
    // extproc's cached token was revoked at the provider: 401, then the refresh finds no connection.
    const first = await asAgent();
    expect([401, 409]).toContain(first.status);
    const second = await asAgent();
    expect(second.status).toBe(409);
    expect(errorCode(second)).toBe("account_not_connected");
    expect((await sql("SELECT 1 FROM audit_events WHERE action = 'oauth.disconnected'")).length).toBe(1);
  });

  test("extproc's database role can mark a connection as needing re-consent, and change nothing else", async () => {
    const client = new pg.Client({ connectionString: extprocDatabaseUrl });
    await client.connect();
    try {
      await expect(client.query("UPDATE oauth_connections SET status = 'active'")).rejects.toThrow(
        /permission denied/,
      );
      await expect(client.query("SELECT * FROM oauth_connections")).rejects.toThrow(/permission denied/);
      await expect(client.query("SELECT * FROM oauth_connect_states")).rejects.toThrow(/permission denied/);
      const { rows } = await client.query(
        "SELECT oauth_connection_needs_reconsent('acme', 'ursula', 'google-drive', 'test') AS changed",
      );
      // The connection is revoked by now: the function moves only an active one.
      expect(rows[0]).toEqual({ changed: false });
    } finally {
      await client.end();
    }
  });

  test("no token value in any log, audit row or anything the agent received", async () => {
    const logs = readdirSync(RUN_DIR)
      .filter((name) => name.includes("oauth-e2e") && name.endsWith(".log"))
      .filter((name) => statSync(join(RUN_DIR, name)).mtimeMs >= startedAt)
      .map((name) => readFileSync(join(RUN_DIR, name), "utf8"));
    // This run's control plane, OpenBao, Envoy, authz-server and extproc-server (and SPIRE) at least.
    expect(logs.length).toBeGreaterThanOrEqual(5);
    expect(logs.join("\n")).toContain("SaaS token injection from Vault");
    const audit = JSON.stringify(await sql("SELECT * FROM audit_events"));
    const agentBodies = agentSaw.join("\n");
    figures.scanned = {
      tokens: provider.issued.length,
      logs: logs.length,
      audit_bytes: audit.length,
      agent_bodies: agentSaw.length,
    };
    for (const token of [...provider.issued, CLIENT.clientSecret]) {
      for (const log of logs) expect(log).not.toContain(token);
      expect(audit).not.toContain(token);
      expect(agentBodies).not.toContain(token);
    }
  });
});
