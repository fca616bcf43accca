import { X509Certificate } from "node:crypto";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import pg from "pg";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import type { X509Svid, X509SvidUpdate } from "../../lib/src/spiffe/svid-update.js";
import { certificateThumbprint } from "../../lib/src/tokens/thumbprint.js";
import { responseText } from "../agents/response-text.js";
import { dataPlaneLogin } from "../harness/control-plane.js";
import { REPO_ROOT, stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { currentProcessSelector, type SpireStack } from "../harness/spire.js";
import { destinationsWithServiceAt, startStack, type Stack } from "../harness/stack.js";
import { startDriveStub } from "../stubs/saas-drive.js";
import type { StubUpstream } from "../stubs/upstream.js";
import { startTokenServiceFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import {
  callSidecar,
  claimsOf,
  errorCode,
  grant,
  headerOf,
  registerAgent,
  svidAgent,
  type Entry,
} from "./delegation-fixture.js";

/**
 * The OAuth 2.0 token service on the control plane's mutual-TLS listener (its SVID
 * and the SPIRE bundle from the Workload API), against real SPIRE, PostgreSQL and OpenBao; and the
 * data plane (real Envoy + authz-server) accepting the access tokens it issues, bound to the
 * certificate they were issued to. The test process holds every SVID involved (registered for its
 * uid), including two different certificates for the same agent.
 */
const TD = "warden.local";
const CONTROL_PLANE_ID = `spiffe://${TD}/warden/control-plane`;
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_JAG = "urn:ietf:params:oauth:token-type:id-jag";
const RETENTION_S = 6;

let spire: SpireStack;
let f: ControlPlaneFixture;
let drive: StubUpstream;
let stack: Stack;
let bot: Entry;
let rival: Entry;
let outsider: Entry;
let reviewerToken: string;
let mtlsUrl: string;
let ursula: string;
/** `bot` has two SVIDs (two registration entries): `bot` and `botAgain`, different certificates. */
let certs: { bot: X509Svid; botAgain: X509Svid; rival: X509Svid; stranger: X509Svid; outsider: X509Svid };
let bundlesPem: Record<string, string>;

interface OAuthReply {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

/** One form POST to the token service, presenting `svid` (or no certificate). */
function oauth(
  path: string,
  form: Record<string, string>,
  svid: X509Svid | null,
  headers: Record<string, string> = {},
): Promise<OAuthReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${mtlsUrl}${path}`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        ...(svid ? { cert: svid.certChainPem, key: svid.keyPem } : {}),
        ca: Object.values(bundlesPem),
        // The client checks it is talking to the control plane's SPIFFE ID, not to a host name.
        checkServerIdentity: (_host, cert) =>
          (cert.subjectaltname ?? "").split(", ").includes(`URI:${CONTROL_PLANE_ID}`)
            ? undefined
            : new Error("not the control plane"),
        agent: false,
      },
      (res) => {
        responseText(res).then(
          (text) =>
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(text || "{}") as Record<string, unknown>,
              headers: res.headers,
            }),
          reject,
        );
      },
    );
    req.on("error", reject);
    req.end(new URLSearchParams(form).toString());
  });
}

const thumbprintOf = (svid: X509Svid) => certificateThumbprint(new X509Certificate(svid.certChainPem));

async function jwks(): Promise<JSONWebKeySet> {
  return (await f.call<JSONWebKeySet>("GET", "/.well-known/jwks.json")).body;
}

function pools() {
  return {
    bot: svidAgent(certs.bot, bundlesPem),
    botAgain: svidAgent(certs.botAgain, bundlesPem),
    rival: svidAgent(certs.rival, bundlesPem),
  };
}
let agents: ReturnType<typeof pools>;

const readDrive = (agent: HttpsAgent, token: string) =>
  callSidecar(agent, `${stack.agentUrl}/google-drive/drive/v3/files`, {
    headers: { "x-warden-delegation": token },
  });
const chat = (agent: HttpsAgent, token: string) =>
  callSidecar(agent, `${stack.agentUrl}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "x-warden-delegation": token, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });

async function exchange(svid: X509Svid, delegation: string, extra: Record<string, string> = {}) {
  return oauth(
    "/oauth2/token",
    { grant_type: TOKEN_EXCHANGE, subject_token: delegation, subject_token_type: ID_JAG, ...extra },
    svid,
  );
}

beforeAll(async () => {
  ({ spire, fixture: f } = await startTokenServiceFixture("token-service-spire", TD, {
    WARDEN_TOKEN_KEY_RETENTION_S: String(RETENTION_S),
    WARDEN_ACCESS_TOKEN_TTL_S: "300",
  }));
  const [creator, reviewer] = await Promise.all([
    f.token({ sub: "carl-creator", roles: ["creator"] }),
    f.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
  ]);
  ursula = await f.token({ sub: "ursula", roles: ["user"], tenant: "acme" });
  const spec = {
    capabilities: ["google-drive:read", "google-drive:write", "llm:chat"],
    verified: ["google-drive:read", "llm:chat"],
    team: "engineering",
  };
  reviewerToken = reviewer;
  bot = await registerAgent(f, creator, reviewer, { name: "token-bot", ...spec });
  rival = await registerAgent(f, creator, reviewer, { name: "rival-bot", ...spec });
  // A resource server of another tenant: not entitled to introspect acme's tokens.
  outsider = await registerAgent(f, creator, reviewer, { name: "globex-bot", tenant: "globex", ...spec });
  const stranger = `spiffe://${TD}/agent/stranger`; // an SVID, but no registration
  await spire.register(bot.spiffe_id, [currentProcessSelector()]);
  await spire.register(bot.spiffe_id, [`unix:gid:${process.getgid?.() ?? 0}`]);
  await spire.register(rival.spiffe_id, [currentProcessSelector()]);
  await spire.register(stranger, [currentProcessSelector()]);
  await spire.register(outsider.spiffe_id, [currentProcessSelector()]);

  const client = spire.workloadClient();
  const watcher = client.watchX509Svids({ retryMaxMs: 250 });
  let update: X509SvidUpdate;
  try {
    update = await watcher.waitForUpdate(
      (u) => u.svids.filter((s) => s.spiffeId === bot.spiffe_id).length === 2 && u.svids.length >= 6,
      30_000,
    );
  } finally {
    watcher.close();
    client.close();
  }
  const of = (id: string) => update.svids.filter((s) => s.spiffeId === id);
  certs = {
    bot: of(bot.spiffe_id)[0]!,
    botAgain: of(bot.spiffe_id)[1]!,
    rival: of(rival.spiffe_id)[0]!,
    stranger: of(stranger)[0]!,
    outsider: of(outsider.spiffe_id)[0]!,
  };
  bundlesPem = update.bundlesPem;
  const discovery = await f.call<{ token_endpoint: string | null }>(
    "GET",
    "/.well-known/openid-configuration",
  );
  mtlsUrl = discovery.body.token_endpoint!.replace(/\/oauth2\/token$/, "");

  drive = await startDriveStub();
  stack = await startStack({
    name: "token-service",
    spire,
    policyDir: join(REPO_ROOT, "policies"),
    destinations: destinationsWithServiceAt("google-drive", drive.port),
    authzEnv: {
      WARDEN_REGISTRY_FILE: "",
      DATABASE_URL: await dataPlaneLogin(f.cluster!, f.databaseUrl!),
      WARDEN_JWKS_URL: `${f.url}/.well-known/jwks.json`,
      WARDEN_TOKEN_ISSUER: f.url,
      WARDEN_JWKS_REFRESH_MS: "500",
    },
  });
  agents = pools();
}, 240_000);

afterAll(async () => {
  for (const agent of Object.values(agents ?? {})) agent.destroy();
  await stack?.stop();
  await drive?.close();
  await f?.close();
  await spire?.stop();
  await stopAll();
}, TEARDOWN_TIMEOUT_MS);

describe("discovery", () => {
  test("the metadata names the mutual-TLS endpoints; both listeners serve it and the JWKS", async () => {
    const doc = (await f.call<Record<string, unknown>>("GET", "/.well-known/openid-configuration")).body;
    expect(doc).toMatchObject({
      issuer: f.url,
      jwks_uri: `${f.url}/.well-known/jwks.json`,
      token_endpoint: `${mtlsUrl}/oauth2/token`,
      revocation_endpoint: `${mtlsUrl}/oauth2/revoke`,
      introspection_endpoint: `${mtlsUrl}/oauth2/introspect`,
      mtls_endpoint_aliases: { token_endpoint: `${mtlsUrl}/oauth2/token` },
      token_endpoint_auth_methods_supported: ["tls_client_auth"],
      tls_client_certificate_bound_access_tokens: true,
    });
    expect(mtlsUrl).toMatch(/^https:\/\//);
    const overTls = await new Promise<Record<string, unknown>>((resolve, reject) => {
      httpsRequest(
        `${mtlsUrl}/.well-known/openid-configuration`,
        { ca: Object.values(bundlesPem), checkServerIdentity: () => undefined },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>),
          );
        },
      )
        .on("error", reject)
        .end();
    });
    expect(overTls).toEqual(doc);
  });
});

describe("client_credentials with mutual TLS (RFC 8705)", () => {
  test("the agent's SVID gets an access token bound to that certificate, with its verified capabilities", async () => {
    const res = await oauth("/oauth2/token", { grant_type: "client_credentials" }, certs.bot);
    expect(res.status).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toMatchObject({
      token_type: "Bearer",
      expires_in: 300,
      scope: "google-drive:read llm:chat",
    });
    const token = res.body.access_token as string;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(await jwks()), {
      typ: "at+jwt",
      issuer: f.url,
      audience: "warden",
    });
    expect(protectedHeader.kid).toMatch(/^warden-tokens-v\d+$/);
    expect(payload).toMatchObject({
      sub: bot.spiffe_id,
      client_id: bot.spiffe_id,
      tenant: "acme",
      scope: "google-drive:read llm:chat",
      cnf: { "x5t#S256": thumbprintOf(certs.bot) },
    });
    expect(thumbprintOf(certs.bot)).not.toBe(thumbprintOf(certs.botAgain));
  });

  test("a narrower scope is granted; a wider one is invalid_scope", async () => {
    const narrow = await oauth(
      "/oauth2/token",
      { grant_type: "client_credentials", scope: "llm:chat" },
      certs.bot,
    );
    expect(narrow.body.scope).toBe("llm:chat");
    const wide = await oauth(
      "/oauth2/token",
      { grant_type: "client_credentials", scope: "llm:chat google-drive:write" },
      certs.bot,
    );
    expect(wide).toMatchObject({ status: 400, body: { error: "invalid_scope" } });
    expect(wide.body.error_description).toMatch(/google-drive:write/);
  });

  test.each([
    [
      "a client secret (HTTP Basic)",
      { grant_type: "client_credentials" },
      { authorization: `Basic ${Buffer.from("bot:secret").toString("base64")}` },
    ],
    ["a client_secret parameter", { grant_type: "client_credentials", client_secret: "s3cret" }, {}],
  ])("%s is refused: agents hold no secrets", async (_name, form, headers) => {
    const res = await oauth("/oauth2/token", form, certs.bot, headers);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_client");
    expect(res.headers["www-authenticate"]).toBeDefined();
  });

  test("no client certificate, or one for an unregistered workload, is invalid_client", async () => {
    expect((await oauth("/oauth2/token", { grant_type: "client_credentials" }, null)).body.error).toBe(
      "invalid_client",
    );
    const stranger = await oauth("/oauth2/token", { grant_type: "client_credentials" }, certs.stranger);
    expect(stranger).toMatchObject({ status: 401, body: { error: "invalid_client" } });
    expect(stranger.body.error_description).toMatch(/not a registered agent/);
    const claimed = await oauth(
      "/oauth2/token",
      { grant_type: "client_credentials", client_id: rival.spiffe_id },
      certs.bot,
    );
    expect(claimed).toMatchObject({ status: 401, body: { error: "invalid_client" } });
  });

  test("malformed requests: unknown grant, missing or repeated parameters, wrong content type", async () => {
    expect(
      (await oauth("/oauth2/token", { grant_type: "password", username: "u", password: "p" }, certs.bot)).body
        .error,
    ).toBe("unsupported_grant_type");
    expect((await oauth("/oauth2/token", {}, certs.bot)).body.error).toBe("invalid_request");
    expect((await oauth("/oauth2/token", { grant_type: TOKEN_EXCHANGE }, certs.bot)).body.error).toBe(
      "invalid_request",
    );
    const repeated = await new Promise<number>((resolve, reject) => {
      httpsRequest(
        `${mtlsUrl}/oauth2/token`,
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          cert: certs.bot.certChainPem,
          key: certs.bot.keyPem,
          ca: Object.values(bundlesPem),
          checkServerIdentity: () => undefined,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on("error", reject)
        .end("grant_type=client_credentials&grant_type=client_credentials");
    });
    expect(repeated).toBe(400);
    const json = await oauth("/oauth2/token", {}, certs.bot, { "content-type": "application/json" });
    expect(json).toMatchObject({ status: 400, body: { error: "invalid_request" } });
  });

  test("the same token used over another client certificate is refused by the data plane", async () => {
    const token = (await oauth("/oauth2/token", { grant_type: "client_credentials" }, certs.bot)).body
      .access_token as string;
    // Over the certificate it was issued to: the agent acting as itself (its LLM call goes through).
    expect((await chat(agents.bot, token)).status).toBe(200);
    // The same agent's other certificate, and another agent: refused.
    const other = await chat(agents.botAgain, token);
    expect(other.status).toBe(403);
    expect(errorCode(other)).toBe("delegation_certificate_mismatch");
    expect(errorCode(await chat(agents.rival, token))).toBe("delegation_agent_mismatch");
  });
});

describe("token exchange (RFC 8693): a delegation becomes a short-lived, certificate-bound access token", () => {
  test("the agent the user delegated to gets the user's scopes for an audience; it works on the data plane", async () => {
    const delegated = await grant(f, ursula, {
      agent_id: bot.id,
      scopes: ["google-drive:read"],
      ttl_seconds: 3_600,
    });
    const res = await exchange(certs.bot, delegated.token, { audience: "google-drive" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      token_type: "Bearer",
      expires_in: 300,
      scope: "google-drive:read",
    });
    const token = res.body.access_token as string;
    expect(headerOf(token).typ).toBe("at+jwt");
    expect(claimsOf(token)).toMatchObject({
      sub: "ursula",
      act: { sub: bot.spiffe_id },
      client_id: bot.spiffe_id,
      delegation_id: delegated.delegation.id,
      scope: "google-drive:read",
      destinations: ["google-drive"],
      cnf: { "x5t#S256": thumbprintOf(certs.bot) },
    });
    expect((await readDrive(agents.bot, token)).status).toBe(200);
    // Bound to the certificate: the same agent's other SVID, or another agent, cannot use it.
    expect(errorCode(await readDrive(agents.botAgain, token))).toBe("delegation_certificate_mismatch");
    expect(errorCode(await readDrive(agents.rival, token))).toBe("delegation_agent_mismatch");
    // The exchange and the allowed use of the token (authz-server's decision, audited asynchronously)
    // are part of what the user sees the agent did; the refused uses carry no valid delegation.
    let actions: string[] = [];
    await waitFor(
      "the data-plane decision in the delegation's events",
      async () => {
        const events = await f.call<{ items: { action: string }[] }>(
          "GET",
          `/v1/delegations/${delegated.delegation.id}/events`,
          { token: ursula },
        );
        actions = events.body.items.map((e) => e.action);
        return actions.length >= 3;
      },
      10_000,
    );
    expect(actions).toEqual(["delegation.granted", "oauth.token_exchanged", "authz.decision"]);
  });

  test("never for another agent, never more scope, never longer than the delegation, never outside its destinations", async () => {
    const delegated = await grant(f, ursula, {
      agent_id: bot.id,
      scopes: ["google-drive:read"],
      ttl_seconds: 60,
      destinations: ["google-drive"],
    });
    expect((await exchange(certs.rival, delegated.token)).body).toMatchObject({ error: "invalid_grant" });
    expect((await exchange(certs.bot, delegated.token, { scope: "google-drive:write" })).body).toMatchObject({
      error: "invalid_scope",
    });
    expect((await exchange(certs.bot, delegated.token, { audience: "github" })).body).toMatchObject({
      error: "invalid_target",
    });
    expect((await exchange(certs.bot, delegated.token, { audience: "nowhere" })).body).toMatchObject({
      error: "invalid_target",
    });
    const short = await exchange(certs.bot, delegated.token);
    expect(short.status).toBe(200);
    expect(claimsOf(short.body.access_token as string).exp).toBe(claimsOf(delegated.token).exp);
    expect((await exchange(certs.bot, "not.a.token")).body).toMatchObject({ error: "invalid_grant" });
  });

  test("a revoked delegation cannot be exchanged, and tokens already exchanged from it stop working", async () => {
    const delegated = await grant(f, ursula, { agent_id: bot.id, scopes: ["google-drive:read"] });
    const token = (await exchange(certs.bot, delegated.token)).body.access_token as string;
    expect((await readDrive(agents.bot, token)).status).toBe(200);
    await f.call("POST", `/v1/delegations/${delegated.delegation.id}/revoke`, { token: ursula });
    expect((await exchange(certs.bot, delegated.token)).body).toMatchObject({
      error: "invalid_grant",
      error_description: "the delegation has been revoked",
    });
    await waitFor(
      "the exchanged token is refused",
      async () => errorCode(await readDrive(agents.bot, token)) === "delegation_revoked",
      1_000,
    );
  });
});

describe("introspection (RFC 7662) and revocation (RFC 7009)", () => {
  test("an active token is described; revoking it makes it inactive everywhere, at once", async () => {
    const delegated = await grant(f, ursula, { agent_id: bot.id, scopes: ["google-drive:read"] });
    const token = (await exchange(certs.bot, delegated.token)).body.access_token as string;
    const active = await oauth("/oauth2/introspect", { token }, certs.rival);
    expect(active.body).toMatchObject({
      active: true,
      token_type: "Bearer",
      scope: "google-drive:read",
      client_id: bot.spiffe_id,
      sub: "ursula",
      delegation_id: delegated.delegation.id,
      cnf: { "x5t#S256": thumbprintOf(certs.bot) },
    });
    // Only the client it was issued to may revoke it.
    expect((await oauth("/oauth2/revoke", { token }, certs.rival)).body).toMatchObject({
      error: "unauthorized_client",
    });
    expect(
      (await oauth("/oauth2/revoke", { token, token_type_hint: "access_token" }, certs.bot)).status,
    ).toBe(200);
    expect((await oauth("/oauth2/introspect", { token }, certs.rival)).body).toEqual({ active: false });
    await waitFor(
      "the data plane refuses the revoked token",
      async () => errorCode(await readDrive(agents.bot, token)) === "delegation_revoked",
      1_000,
    );
    // The delegation itself is untouched.
    expect(
      (
        await f.call<{ status: string }>("GET", `/v1/delegations/${delegated.delegation.id}`, {
          token: ursula,
        })
      ).body.status,
    ).toBe("active");
  });

  test("an MCP bearer token minted for the agent is introspected, and revoked by that agent alone", async () => {
    const admin = await f.token({ sub: "ada-admin", roles: ["admin"] });
    const resource = "https://tse-mcp.example.com/mcp";
    const server = await f.call("POST", "/v1/mcp-servers", {
      token: admin,
      body: {
        name: "tse-mcp",
        tenant: bot.tenant,
        team: "t",
        type: "mcp",
        environment: "e",
        resource_uri: resource,
      },
    });
    expect(server.status).toBe(201);
    const minted = await f.call<{ access_token: string; jti: string }>(
      "POST",
      "/v1/mcp-servers/tse-mcp/tokens",
      {
        token: admin,
        body: { agent_id: bot.id },
      },
    );
    expect(minted.status).toBe(201);
    const token = minted.body.access_token;
    expect((await oauth("/oauth2/introspect", { token }, certs.rival)).body).toMatchObject({
      active: true,
      client_id: bot.spiffe_id,
      sub: bot.spiffe_id,
      aud: [resource],
      jti: minted.body.jti,
    });
    expect((await oauth("/oauth2/revoke", { token }, certs.rival)).body).toMatchObject({
      error: "unauthorized_client",
    });
    expect((await oauth("/oauth2/revoke", { token }, certs.bot)).status).toBe(200);
    expect((await oauth("/oauth2/introspect", { token }, certs.rival)).body).toEqual({ active: false });
    const stored = await f.controlPlane.db.query("SELECT 1 FROM oauth_revoked_tokens WHERE jti = $1", [
      minted.body.jti,
    ]);
    expect(stored.rowCount).toBe(1);
  });

  test("unknown tokens: revocation succeeds (RFC 7009 §2.2), introspection says inactive; delegations are revoked through the API", async () => {
    expect((await oauth("/oauth2/revoke", { token: "garbage" }, certs.bot)).status).toBe(200);
    expect((await oauth("/oauth2/introspect", { token: "garbage" }, certs.bot)).body).toEqual({
      active: false,
    });
    const delegated = await grant(f, ursula, { agent_id: bot.id, scopes: ["google-drive:read"] });
    expect((await oauth("/oauth2/revoke", { token: delegated.token }, certs.bot)).body).toMatchObject({
      error: "unsupported_token_type",
    });
    expect((await oauth("/oauth2/introspect", { token: delegated.token }, certs.bot)).body).toMatchObject({
      active: true,
      token_type: "N_A",
    });
    expect(
      (await oauth("/oauth2/introspect", { token: delegated.token }, certs.stranger)).body,
    ).toMatchObject({ error: "invalid_client" });
  });
});

describe("key rotation with overlap", () => {
  test(`old tokens keep working while the old key is published (${RETENTION_S} s here), and are refused once it is not`, async () => {
    const delegated = await grant(f, ursula, { agent_id: bot.id, scopes: ["google-drive:read"] });
    const before = (await exchange(certs.bot, delegated.token)).body.access_token as string;
    const oldKid = headerOf(before).kid as string;
    await f.vault!.rotateTokenKey();
    const rotatedAt = Date.now();
    const kids = () =>
      jwks().then((set) => set.keys.map((k) => k.kid!).filter((kid) => kid.startsWith("warden-tokens-")));
    // The control plane reads key metadata from Vault at most once a second.
    await waitFor("the new key version to be published", async () => (await kids()).length === 2, 3_000);
    const after = (await exchange(certs.bot, delegated.token)).body.access_token as string;
    const newKid = headerOf(after).kid as string;
    expect(newKid).not.toBe(oldKid);
    expect(await kids()).toEqual(expect.arrayContaining([oldKid, newKid]));
    // The overlap: both work on the data plane. The first call with the new kid makes authz-server
    // fetch the JWKS (it waits at most 150 ms, to stay inside Envoy's ext_authz timeout): on a loaded
    // machine that call may be refused while the fetch completes, so the new token gets a few tries.
    expect((await readDrive(agents.bot, before)).status).toBe(200);
    await waitFor(
      "a token signed with the new key to be accepted",
      async () => (await readDrive(agents.bot, after)).status === 200,
      3_000,
    );
    expect((await readDrive(agents.bot, before)).status).toBe(200);
    // After it: the old key leaves the JWKS and its tokens are refused, new ones still work.
    await waitFor(
      "the old key to leave the JWKS",
      async () => !(await kids()).includes(oldKid),
      (RETENTION_S + 5) * 1000,
    );
    expect(Date.now() - rotatedAt).toBeGreaterThanOrEqual(RETENTION_S * 1000 - 1_500);
    await waitFor(
      "the data plane to refuse the old key's token",
      async () => errorCode(await readDrive(agents.bot, before)) === "delegation_key_unknown",
      3_000,
    );
    expect((await readDrive(agents.bot, after)).status).toBe(200);
    expect((await oauth("/oauth2/introspect", { token: before }, certs.bot)).body).toEqual({ active: false });
    expect(Number(claimsOf(before).exp)).toBeGreaterThan(Date.now() / 1000);
  }, 60_000);
});

describe("control plane security: the token service fails closed", () => {
  test("introspection answers only callers entitled to the token: same tenant or its own client", async () => {
    const delegated = await grant(f, ursula, { agent_id: bot.id, scopes: ["google-drive:read"] });
    const token = (await exchange(certs.bot, delegated.token)).body.access_token as string;
    expect((await oauth("/oauth2/introspect", { token }, certs.bot)).body).toMatchObject({ active: true });
    expect((await oauth("/oauth2/introspect", { token }, certs.rival)).body).toMatchObject({ active: true });
    // globex's resource server learns nothing about acme's token.
    expect((await oauth("/oauth2/introspect", { token }, certs.outsider)).body).toEqual({ active: false });
    expect((await oauth("/oauth2/introspect", { token: delegated.token }, certs.outsider)).body).toEqual({
      active: false,
    });
  });

  test("no exchange is issued after a revocation commits (80 exchanges racing one revocation)", async () => {
    const delegated = await grant(f, ursula, { agent_id: bot.id, scopes: ["google-drive:read"] });
    // One exchange every 10 ms for 800 ms; the revocation is sent once the first has answered, while
    // the others are in flight.
    const exchanges = Array.from({ length: 80 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i * 10)).then(() => exchange(certs.bot, delegated.token)),
    );
    await exchanges[0];
    const revokeStarted = Date.now();
    const revoked = await f.call("POST", `/v1/delegations/${delegated.delegation.id}/revoke`, {
      token: ursula,
    });
    const revokeMs = Date.now() - revokeStarted;
    expect(revoked.status).toBe(200);
    const answers = await Promise.all(exchanges);
    const issued = answers.filter((a) => a.status === 200).length;
    for (const answer of answers)
      if (answer.status !== 200) expect(answer.body).toMatchObject({ error: "invalid_grant" });
    expect(issued).toBeGreaterThan(0);
    expect(issued).toBeLessThan(80);
    const client = new pg.Client({ connectionString: f.databaseUrl! });
    await client.connect();
    try {
      // The audit log is appended in commit order (one chain lock): every exchange was recorded before the revocation.
      const { rows } = await client.query<{ action: string; id: string }>(
        "SELECT action, id FROM audit_events WHERE delegation_id = $1 AND action IN ('oauth.token_exchanged', 'delegation.revoked') ORDER BY id",
        [delegated.delegation.id],
      );
      expect(rows.filter((r) => r.action === "oauth.token_exchanged")).toHaveLength(issued);
      expect(rows.at(-1)?.action).toBe("delegation.revoked");
      process.stdout.write(
        `exchange/revocation race: ${issued} of 80 exchanges issued before the revocation committed, ${80 - issued} refused after; revoke API ${revokeMs} ms\n`,
      );
    } finally {
      await client.end();
    }
  });

  test("an agent whose KYA attestation is revoked can no longer exchange, and its tokens introspect inactive", async () => {
    const delegated = await grant(f, ursula, { agent_id: rival.id, scopes: ["google-drive:read"] });
    const token = (await exchange(certs.rival, delegated.token)).body.access_token as string;
    expect((await oauth("/oauth2/introspect", { token }, certs.bot)).body).toMatchObject({ active: true });
    const attestations = await f.call<{ items: { id: string; status: string }[] }>(
      "GET",
      `/v1/attestations?agent_id=${rival.id}`,
      { token: reviewerToken },
    );
    const approved = attestations.body.items.find((a) => a.status === "approved")!;
    const revoked = await f.call("POST", `/v1/attestations/${approved.id}/revoke`, {
      token: reviewerToken,
      body: { reason: "evidence withdrawn" },
    });
    expect(revoked.status).toBe(200);
    expect((await exchange(certs.rival, delegated.token)).body).toMatchObject({
      error: "unauthorized_client",
      error_description: "the agent has no approved KYA attestation",
    });
    expect((await oauth("/oauth2/introspect", { token }, certs.bot)).body).toEqual({ active: false });
  });
});
