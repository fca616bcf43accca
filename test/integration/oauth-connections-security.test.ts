import { readFileSync, rmSync, mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlaneProcess, type ControlPlaneProcess } from "../harness/control-plane.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { stopAll, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startVault, type VaultDev } from "../harness/vault.js";
import {
  catalogueWithDriveAt,
  startOAuthProviderStub,
  type OAuthProviderStub,
} from "../stubs/oauth-provider.js";
import { StubOidcIssuer } from "../stubs/oidc-issuer.js";
import { startStubUpstream, type StubUpstream } from "../stubs/upstream.js";

/**
 * Control-plane security through the real control plane process,
 * PostgreSQL and OpenBao; the OAuth provider is the stub, and a second host (127.0.0.2) stands for
 * wherever a malicious or compromised provider would like credentials sent.
 */
const CLIENT = { clientId: "warden-drive-client", clientSecret: "stub-client-secret-17a-9f3c" };
const GITHUB = { client_id: "warden-drive-client", client_secret: "gh-secret-17a-77d1" };
const HUGE = 256 * 1024 * 1024;

let work: string;
let cluster: PostgresCluster;
let databaseUrl: string;
let vault: VaultDev;
let oidc: StubOidcIssuer;
let provider: OAuthProviderStub;
let elsewhere: StubUpstream;
let cp: ControlPlaneProcess;
let tokens: Record<"ursula" | "victor" | "mallory", string>;
const figures: Record<string, unknown> = {};

type Json = Record<string, unknown>;

const sql = <Row extends Json = Json>(text: string, params: unknown[] = []) =>
  cluster.sql<Row>(text, params, new URL(databaseUrl).pathname.slice(1));

/** A browser: it keeps the cookie the control plane set, and sends it back to the control plane only. */
class Browser {
  cookie = "";
  async start(token: string, service = "google-drive", scopes = [`${service}:read`]) {
    const res = await cp.call<{ authorization_url: string }>("POST", `/v1/connections/${service}/authorize`, {
      token,
      body: { scopes },
    });
    if (res.status !== 201) throw new Error(`authorize: ${res.status} ${res.text}`);
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(
      /^__Host-warden-oauth-link=[A-Za-z0-9_-]{43}; .*Secure; HttpOnly; SameSite=Lax/,
    );
    this.cookie = setCookie.split(";")[0]!;
    return res.body.authorization_url;
  }
  /** Consent at the provider as `account` (who is signed in there), returning the redirect back. */
  async consent(authorizationUrl: string, account = "ursula"): Promise<string> {
    const url = new URL(authorizationUrl);
    url.searchParams.set("login_hint", account);
    const res = await fetch(url, { redirect: "manual" });
    expect(res.status).toBe(302);
    return res.headers.get("location")!;
  }
  async land(callback: string) {
    const res = await fetch(callback, { headers: this.cookie ? { cookie: this.cookie } : {} });
    return { status: res.status, body: (await res.json()) as Json };
  }
  confirm(token: string, confirmUrl: string) {
    return cp.call("POST", confirmUrl, { token, headers: this.cookie ? { cookie: this.cookie } : {} });
  }
}

const storedFor = async (user: string) =>
  (await sql("SELECT 1 FROM oauth_connections WHERE user_id = $1 AND status = 'active'", [user])).length;
const vaultHas = async (user: string) =>
  (
    await vault
      .request("GET", `warden/metadata/oauth/acme/${user}/google-drive`, undefined, vault.rootToken)
      .catch(() => ({ status: 404 }))
  ).status === 200;
const errorOf = (body: Json) =>
  body.error as { code: string; message: string; details?: { message: string }[] };

function rssMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)![1]);
  return { rss: Math.round(kib("VmRSS") / 1024), peak: Math.round(kib("VmHWM") / 1024) };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "woauth-sec-"));
  chmodSync(work, 0o755);
  cluster = await startPostgres();
  databaseUrl = await cluster.createDatabase("oauthsec");
  vault = await startVault();
  oidc = await StubOidcIssuer.start();
  provider = await startOAuthProviderStub(CLIENT);
  provider.callbackIss = provider.url;
  elsewhere = await startStubUpstream({ host: "127.0.0.2" });
  await vault.request("POST", "warden/data/providers/google-drive", {
    data: { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret },
  });
  await vault.request("POST", "warden/data/providers/github", { data: GITHUB });
  const shipped: Record<string, Json> = catalogueWithDriveAt(provider.url);
  shipped["google-drive"] = {
    ...shipped["google-drive"],
    issuer: provider.url,
    iss_parameter_supported: true,
  };
  // A service whose token endpoint is on a non-public address nobody allowed.
  shipped.github = {
    ...shipped.github,
    authorize_url: `${provider.url}/authorize`,
    token_url: `http://127.0.0.2:${elsewhere.port}/login/oauth/access_token`,
  };
  const catalogue = join(work, "services.json");
  writeFileSync(catalogue, JSON.stringify(shipped));
  chmodSync(catalogue, 0o644);
  cp = await startControlPlaneProcess({
    name: "oauth-sec-cp",
    databaseUrl,
    oidcIssuer: oidc.issuer,
    vault,
    env: {
      WARDEN_SAAS_CATALOGUE: catalogue,
      WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: "127.0.0.1",
      WARDEN_OAUTH_PROVIDER_TIMEOUT_MS: "20000",
    },
  });
  tokens = {
    ursula: await oidc.token({ sub: "ursula", roles: ["user"], tenant: "acme" }),
    victor: await oidc.token({ sub: "victor", roles: ["user"], tenant: "acme" }),
    mallory: await oidc.token({ sub: "mallory", roles: ["user"], tenant: "acme" }),
  };
}, 180_000);

afterAll(async () => {
  await cp?.stop();
  await elsewhere?.close();
  await provider?.close();
  await oidc?.close();
  await vault?.stop();
  await cluster?.destroy();
  await stopAll();
  if (work) rmSync(work, { recursive: true, force: true });
  process.stdout.write(`oauth security figures: ${JSON.stringify(figures, null, 2)}\n`);
}, TEARDOWN_TIMEOUT_MS);

describe("finding 1: account linking is bound to the browser that started it", () => {
  test("the attack fails: a victim finishing the attacker's consent link links nothing, anywhere", async () => {
    const attacker = new Browser();
    const consentLink = await attacker.start(tokens.mallory);
    // The attacker sends the link; the victim, signed in at the provider as herself, consents.
    const victim = new Browser();
    const callback = await victim.consent(consentLink, "victim");
    const exchanges = provider.counts.codeExchanges;
    const landed = await victim.land(callback);
    expect(landed.status).toBe(403);
    expect(errorOf(landed.body).details?.[0]?.message).toBe("browser_mismatch");
    // The code was never exchanged: no token of the victim's exists, let alone under mallory.
    expect(provider.counts.codeExchanges).toBe(exchanges);
    expect(await storedFor("mallory")).toBe(0);
    expect(await vaultHas("mallory")).toBe(false);
    // Even if the victim's browser had its own binding from its own flow, it is not the attacker's.
    await victim.start(tokens.victor);
    const again = await victim.land(await victim.consent(await attacker.start(tokens.mallory), "victim"));
    expect(again.status).toBe(403);
    // And the victim's callback URL, handed back to the attacker's browser, is used up.
    const replay = await attacker.land(callback);
    expect(replay.status).toBe(400);
    expect(errorOf(replay.body).details?.[0]?.message).toBe("state_replayed");
    expect(provider.counts.codeExchanges).toBe(exchanges);
    expect(await storedFor("mallory")).toBe(0);
  });

  test("the callback shows the provider account and stores nothing until the same user confirms from the same browser", async () => {
    const browser = new Browser();
    const landed = await browser.land(await browser.consent(await browser.start(tokens.ursula), "ursula"));
    expect(landed.status).toBe(200);
    expect(landed.body).toMatchObject({
      status: "pending_confirmation",
      service: "google-drive",
      user_id: "ursula",
      tenant: "acme",
      account: { subject: "stub-ursula", email: "ursula@example.com", name: "ursula" },
      scopes: ["google-drive:read"],
    });
    const confirmUrl = landed.body.confirm_url as string;
    expect(await storedFor("ursula")).toBe(0);
    expect(await vaultHas("ursula")).toBe(false);
    // Another user of the tenant, even with the right cookie, does not see the link.
    expect((await browser.confirm(tokens.victor, confirmUrl)).status).toBe(404);
    // The right user from another browser (no cookie) is refused.
    const elsewhereBrowser = new Browser();
    const foreign = await elsewhereBrowser.confirm(tokens.ursula, confirmUrl);
    expect(foreign.status).toBe(403);
    expect(await storedFor("ursula")).toBe(0);
    const confirmed = await browser.confirm(tokens.ursula, confirmUrl);
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({ user_id: "ursula", status: "active", service: "google-drive" });
    expect(confirmed.headers.get("set-cookie")).toMatch(/Max-Age=0/);
    expect(await storedFor("ursula")).toBe(1);
    expect(await vaultHas("ursula")).toBe(true);
    const [audit] = await sql<{ details: Json }>(
      "SELECT details FROM audit_events WHERE action = 'oauth.connected' AND user_id = 'ursula'",
    );
    expect(audit?.details.provider_account).toMatchObject({ email: "ursula@example.com" });
    expect((await browser.confirm(tokens.ursula, confirmUrl)).status).toBe(404);
  });
  test("the user may decline the account shown: nothing is stored and the link is gone", async () => {
    const browser = new Browser();
    const landed = await browser.land(
      await browser.consent(await browser.start(tokens.victor), "someone-else"),
    );
    expect(landed.body.account).toMatchObject({ email: "someone-else@example.com" });
    const linkPath = (landed.body.confirm_url as string).replace(/\/confirm$/, "");
    expect((await cp.call("DELETE", linkPath, { token: tokens.ursula })).status).toBe(404);
    expect((await cp.call("DELETE", linkPath, { token: tokens.victor })).status).toBe(204);
    expect((await browser.confirm(tokens.victor, landed.body.confirm_url as string)).status).toBe(404);
    expect(await storedFor("victor")).toBe(0);
    expect(
      await sql("SELECT 1 FROM audit_events WHERE action = 'oauth.link_declined' AND user_id = 'victor'"),
    ).toHaveLength(1);
  });
});

describe("finding 6: the callback follows RFC 6749 §4.1.2 and RFC 9207", () => {
  test("parameters real providers add (authuser, prompt, hd, session_state) are ignored", async () => {
    provider.callbackExtras = {
      authuser: "0",
      prompt: "consent",
      hd: "example.com",
      session_state: "abc.def",
    };
    try {
      const browser = new Browser();
      const landed = await browser.land(await browser.consent(await browser.start(tokens.victor), "victor"));
      expect(landed.status).toBe(200);
      expect(landed.body.status).toBe("pending_confirmation");
    } finally {
      provider.callbackExtras = {};
    }
  });

  test("a wrong or missing iss is refused before the code is used", async () => {
    const exchanges = provider.counts.codeExchanges;
    for (const [iss, reason] of [
      ["https://idp.attacker.example", "issuer_mismatch"],
      [null, "issuer_missing"],
    ] as const) {
      provider.callbackIss = iss;
      try {
        const browser = new Browser();
        const landed = await browser.land(
          await browser.consent(await browser.start(tokens.victor), "victor"),
        );
        expect(landed.status).toBe(400);
        expect(errorOf(landed.body).details?.[0]).toMatchObject({ field: "query.iss", message: reason });
      } finally {
        provider.callbackIss = provider.url;
      }
    }
    expect(provider.counts.codeExchanges).toBe(exchanges);
  });

  test.each(["constructor", "__proto__", "toString", "hasOwnProperty"])(
    "the scope name %s is not a scope of the service (400, not a pass or a 500)",
    async (scope) => {
      const res = await cp.call("POST", "/v1/connections/google-drive/authorize", {
        token: tokens.victor,
        body: { scopes: [scope] },
      });
      expect(res.status).toBe(400);
    },
  );
});

describe("findings 2 and 3: providers are called with the hardened client", () => {
  test("a 307 from the token endpoint: 502, nothing stored, and the other host never sees the secret, code or verifier", async () => {
    provider.tokenRedirect = `${elsewhere.url}/steal`;
    elsewhere.reset();
    try {
      const browser = new Browser();
      const landed = await browser.land(await browser.consent(await browser.start(tokens.victor), "victor"));
      expect(landed.status).toBe(502);
      expect(errorOf(landed.body).code).toBe("bad_gateway");
      expect(errorOf(landed.body).message).toMatch(/redirect/);
      expect(elsewhere.requests).toEqual([]);
      expect(await storedFor("victor")).toBe(0);
    } finally {
      provider.tokenRedirect = null;
    }
  });

  test("a 307 from the revocation endpoint: the refresh token goes nowhere else and the answer says it was not revoked", async () => {
    provider.revokeRedirect = `${elsewhere.url}/steal`;
    elsewhere.reset();
    try {
      const res = await cp.call<{ revoked_at_provider: boolean; connection: { status: string } }>(
        "DELETE",
        "/v1/connections/google-drive",
        { token: tokens.ursula },
      );
      expect(res.status).toBe(200);
      expect(res.body.revoked_at_provider).toBe(false);
      expect(res.body.connection.status).toBe("revoked");
      expect(elsewhere.requests).toEqual([]);
      const [audit] = await sql<{ reason: string; details: Json }>(
        "SELECT reason, details FROM audit_events WHERE action = 'oauth.disconnected' AND user_id = 'ursula'",
      );
      expect(audit?.details.revoked_at_provider).toBe(false);
      expect(audit?.reason).toMatch(/redirect/);
    } finally {
      provider.revokeRedirect = null;
    }
  });

  test("a token endpoint on a non-public address nobody allowed is never called", async () => {
    elsewhere.reset();
    const browser = new Browser();
    const landed = await browser.land(
      await browser.consent(await browser.start(tokens.victor, "github"), "victor"),
    );
    expect(landed.status).toBe(502);
    expect(errorOf(landed.body).message).toMatch(/non-public/);
    expect(elsewhere.requests).toEqual([]);
  });

  test.each([
    ["declared (Content-Length)", false],
    ["chunked", true],
  ])(
    "a 256 MiB token response, %s: 502 at once, and the control plane's memory stays put",
    async (label, chunked) => {
      const pid = cp.process.pid!;
      const before = rssMiB(pid);
      provider.tokenResponseBytes = HUGE;
      provider.tokenResponseChunked = chunked;
      try {
        const browser = new Browser();
        const callback = await browser.consent(await browser.start(tokens.victor), "victor");
        const started = Date.now();
        const landed = await browser.land(callback);
        const ms = Date.now() - started;
        expect(landed.status).toBe(502);
        expect(errorOf(landed.body).message).toMatch(/more than 1048576 bytes/);
        const after = rssMiB(pid);
        figures[`huge_token_response_${chunked ? "chunked" : "declared"}`] = {
          rss_before_mib: before.rss,
          rss_after_mib: after.rss,
          peak_before_mib: before.peak,
          peak_after_mib: after.peak,
          answer_ms: ms,
          label,
        };
        expect(after.peak - before.peak).toBeLessThan(64);
        expect(await storedFor("victor")).toBe(0);
      } finally {
        provider.tokenResponseBytes = 0;
        provider.tokenResponseChunked = false;
      }
    },
    60_000,
  );

  test("no secret of the provider client in any answer or audit row", async () => {
    const audit = JSON.stringify(await sql("SELECT * FROM audit_events"));
    for (const secret of [CLIENT.clientSecret, GITHUB.client_secret, ...provider.issued])
      expect(audit).not.toContain(secret);
    expect(cp.process.log()).not.toContain(CLIENT.clientSecret);
  });
});
