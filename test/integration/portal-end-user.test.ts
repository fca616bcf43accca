import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { freePort, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startPortalStack, type PortalStack } from "../harness/portal.js";
import { launchBrowser, screenshot, seriousA11yViolations, signIn } from "../harness/portal-browser.js";
import {
  catalogueWithDriveAt,
  startOAuthProviderStub,
  type OAuthProviderStub,
} from "../stubs/oauth-provider.js";
import { appendDataPlaneAudit } from "../support/data-plane-audit.js";
import { EVIDENCE } from "./delegation-fixture.js";

/**
 * The end user's portal in a real browser (Debian's chromium), signed in through the real Keycloak
 * login form, against the real control plane, PostgreSQL and OpenBao: every story of issue 21's end
 * user, the security headers and cookie flags, a cross-site form refused, nothing secret in the
 * browser's storage, sign-out. Each page is checked with axe-core and screenshotted into docs/portal/.
 */
const CLIENT = { clientId: "warden-drive-client", clientSecret: "stub-client-secret-portal-7c1e" };

let stack: PortalStack;
let provider: OAuthProviderStub;
let browser: Browser;
let db: Database;
let work: string;
let alice: Page;
let agentId: string;
let aliceSubject: string;
let formTargets: string[];
/** A browser step on a machine shared with other builds: seconds, not milliseconds. */
const STEP_MS = 60_000;

async function api<T = Record<string, unknown>>(user: string, method: string, path: string, body?: unknown) {
  const res = await stack.cp.call<T>(method, path, { token: await stack.apiToken(user), body });
  if (res.status >= 300) throw new Error(`${method} ${path} as ${user}: ${res.status} ${res.text}`);
  return res.body;
}

const text = async (locator: Locator) => ((await locator.first().textContent()) ?? "").trim();

/** Clicks a form's button and waits for the page the POST's redirect leads to. */
async function submit(page: Page, button: Locator): Promise<void> {
  await Promise.all([page.waitForNavigation(), button.click()]);
}

async function checked(page: Page, name: string): Promise<void> {
  expect(await seriousA11yViolations(page)).toEqual([]);
  await screenshot(page, name);
}

const subjectOf = (jwt: string) =>
  (JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as { sub: string }).sub;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "portal-end-user-"));
  provider = await startOAuthProviderStub(CLIENT);
  const catalogue = join(work, "services.json");
  const services = catalogueWithDriveAt(provider.url);
  writeFileSync(catalogue, JSON.stringify(services));
  const port = await freePort();
  stack = await startPortalStack("portal-end-user", {
    port,
    env: {
      WARDEN_SAAS_CATALOGUE: catalogue,
      WARDEN_OAUTH_CALLBACK_URL: `http://localhost:${port}/portal/connections/callback`,
      WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: "127.0.0.1",
    },
  });
  await stack.vault.request("POST", "warden/data/providers/google-drive", {
    data: { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret },
  });
  db = createPostgresDatabase(stack.databaseUrl);
  // A form post may be redirected to the identity provider (sign-out) and to a provider's consent page.
  formTargets = [
    new URL(stack.idp.issuer).origin,
    ...new Set(Object.values(services).map((s) => new URL(String(s.authorize_url)).origin)),
  ];

  // An agent of tenant `default`, registered by a creator and attested by a reviewer (four eyes).
  const agent = await api<{ id: string }>("carl", "POST", "/v1/agents", {
    name: "drive-helper",
    tenant: "default",
    team: "productivity",
    type: "assistant",
    environment: "production",
    capabilities: ["google-drive:read", "google-drive:write", "github:read"],
  });
  agentId = agent.id;
  const attestation = await api<{ id: string }>("carl", "POST", "/v1/attestations", {
    agent_id: agentId,
    evidence: EVIDENCE,
  });
  await api("rita", "POST", `/v1/attestations/${attestation.id}/approve`, {
    level: 2,
    verified_capabilities: ["google-drive:read", "github:read"],
  });
  aliceSubject = subjectOf(await stack.apiToken("alice"));

  browser = await launchBrowser();
  alice = await signIn(browser, stack.portalUrl, "alice");
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await db?.close();
  await stack?.stop();
  await provider?.close();
  if (work) rmSync(work, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

describe("portal: signing in", () => {
  it(
    "lands on the portal with only a hardened session cookie, and nothing secret in the browser",
    async () => {
      expect(alice.url()).toBe(`${stack.portalUrl}/`);
      expect(await text(alice.locator("h1"))).toBe("Welcome");
      const cookies = await alice.context().cookies(`${stack.portalUrl}/`);
      expect(cookies.map((c) => c.name)).toEqual(["__Host-warden_session"]);
      const [session] = cookies;
      expect(session).toMatchObject({ secure: true, httpOnly: true, sameSite: "Lax", path: "/" });
      expect(session!.domain).toBe("localhost"); // host-only: no Domain attribute
      expect(session!.value).not.toMatch(/^eyJ/);
      const storage = await alice.evaluate(
        "({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie })",
      );
      expect(storage).toEqual({ local: 0, session: 0, cookie: "" });
      await checked(alice, "home");
    },
    STEP_MS,
  );

  it(
    "answers every page with the strict security headers",
    async () => {
      const response = await alice.goto(`${stack.portalUrl}/agents`);
      const headers = response!.headers();
      expect(headers["content-security-policy"]).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
          `form-action 'self' ${formTargets.join(" ")}; ` +
          "frame-ancestors 'none'; base-uri 'none'",
      );
      expect(headers["x-frame-options"]).toBe("DENY");
      expect(headers["referrer-policy"]).toBe("no-referrer");
      expect(headers["x-content-type-options"]).toBe("nosniff");
      expect(headers["cache-control"]).toBe("no-store");
    },
    STEP_MS,
  );

  it(
    "sends someone without a session to the identity provider, and a wrong role gets a 403 page",
    async () => {
      const anonymous = await browser.newContext();
      const page = await anonymous.newPage();
      await page.goto(`${stack.portalUrl}/agents`);
      expect(page.url()).toContain(`${stack.idp.issuer}/protocol/openid-connect/auth`);
      await anonymous.close();

      const rita = await signIn(browser, stack.portalUrl, "rita");
      const response = await rita.goto(`${stack.portalUrl}/agents`);
      expect(response!.status()).toBe(403);
      expect(await text(rita.locator("h1"))).toBe("Not allowed");
      expect(await text(rita.locator("nav"))).not.toContain("Agents");
      await rita.context().close();
    },
    STEP_MS,
  );
});

describe("portal: the end user's stories", () => {
  it(
    "shows the agents with their trust level and the KYA evidence",
    async () => {
      await alice.goto(`${stack.portalUrl}/agents`);
      const row = alice.locator("tr", { hasText: "drive-helper" });
      expect(await text(row)).toContain("KYA level 2");
      expect(await text(row)).toContain("google-drive:read, github:read");
      await checked(alice, "agents");
      await Promise.all([alice.waitForNavigation(), row.locator("a").click()]);
      expect(await text(alice.locator("h1"))).toBe("Agent drive-helper");
      expect(await text(alice.locator("dl.facts").nth(1))).toContain(EVIDENCE.endpoints[0]!);
      await checked(alice, "agent-kya");
    },
    STEP_MS,
  );

  it(
    "grants a delegation with the chosen scopes and expiry",
    async () => {
      await alice.goto(`${stack.portalUrl}/agents/${agentId}`);
      await alice.getByLabel("google-drive:read").check();
      await alice.getByLabel("For how long").selectOption({ label: "1 day" });
      await submit(alice, alice.getByRole("button", { name: "Grant delegation" }));
      expect(alice.url()).toContain(`${stack.portalUrl}/delegations`);
      expect(await text(alice.locator(".notice"))).toContain("Delegation granted until");
      expect(await text(alice.locator("tr", { hasText: "drive-helper" }))).toContain("google-drive:read");
      await checked(alice, "delegations");
      const mine = await api<{
        items: { delegation: { scopes: string[]; issued_at: string; expires_at: string } }[];
      }>("alice", "GET", "/v1/me/delegations");
      expect(mine.items).toHaveLength(1);
      const { scopes, issued_at, expires_at } = mine.items[0]!.delegation;
      expect(scopes).toEqual(["google-drive:read"]);
      expect(Date.parse(expires_at) - Date.parse(issued_at)).toBe(86_400_000);
    },
    STEP_MS,
  );

  it(
    "shows what agents did under the user's delegations, from the audit log",
    async () => {
      const [{ delegation }] = (
        await api<{ items: { delegation: { id: string } }[] }>("alice", "GET", "/v1/me/delegations")
      ).items as [{ delegation: { id: string } }];
      await appendDataPlaneAudit(db, [
        {
          tenant: "default",
          source: "authz-server",
          action: "authz.decision",
          decision: "allow",
          agent_id: agentId,
          user_id: aliceSubject,
          delegation_id: delegation.id,
          upstream: "google-drive",
          decision_id: `dec-${randomUUID()}`,
        },
        {
          tenant: "default",
          source: "authz-server",
          action: "authz.decision",
          decision: "deny",
          reason: "scope_not_delegated",
          agent_id: agentId,
          user_id: aliceSubject,
          delegation_id: delegation.id,
          upstream: "github",
          decision_id: `dec-${randomUUID()}`,
        },
      ]);
      await alice.goto(`${stack.portalUrl}/activity`);
      const rows = alice.locator("tbody tr");
      expect(await rows.count()).toBe(2);
      expect(await text(alice.locator("tbody"))).toContain("scope_not_delegated");
      expect(await text(alice.locator("tbody"))).toContain("google-drive");
      await checked(alice, "activity");
    },
    STEP_MS,
  );

  it(
    "approves and rejects pending tool calls",
    async () => {
      const insert = (name: string) =>
        db.query<{ id: string }>(
          `INSERT INTO mcp_approvals (tenant, agent_spiffe_id, agent_id, user_id, server, method, name, arguments_digest, requested_decision_id, expires_at)
         VALUES ('default', 'spiffe://warden.local/agent/drive-helper', $1, $2, 'files', 'tools/call', $3, $4, $5, now() + interval '10 minutes') RETURNING id`,
          [agentId, aliceSubject, name, `sha256:${"a".repeat(64)}`, `dec-${randomUUID()}`],
        );
      const [deleteRow, shareRow] = await Promise.all([insert("delete_file"), insert("share_file")]);
      await alice.goto(`${stack.portalUrl}/approvals`);
      expect(await alice.locator("tbody tr").count()).toBe(2);
      await checked(alice, "approvals");
      await submit(alice, alice.getByRole("form", { name: "Approve share_file" }).getByRole("button"));
      expect(await text(alice.locator(".notice"))).toBe("share_file: Approved.");
      await submit(alice, alice.getByRole("form", { name: "Reject delete_file" }).getByRole("button"));
      expect(await text(alice.locator(".notice"))).toBe("delete_file: Rejected.");
      expect(await alice.locator("tbody tr").count()).toBe(0);
      const states = await db.query<{ id: string; state: string; decided_by: string }>(
        `SELECT id, state, decided_by FROM mcp_approvals WHERE id = ANY($1::uuid[])`,
        [[deleteRow.rows[0]!.id, shareRow.rows[0]!.id]],
      );
      const byId = new Map(states.rows.map((r) => [r.id, r]));
      expect(byId.get(shareRow.rows[0]!.id)).toMatchObject({ state: "approved", decided_by: aliceSubject });
      expect(byId.get(deleteRow.rows[0]!.id)).toMatchObject({ state: "rejected", decided_by: aliceSubject });
    },
    STEP_MS,
  );

  it(
    "connects an account through the provider's consent and the confirmation, then disconnects it",
    async () => {
      await alice.goto(`${stack.portalUrl}/connections`);
      const drive = alice.getByRole("form", { name: "Connect Google Drive" });
      await drive.getByLabel("google-drive:read").check();
      await submit(alice, drive.getByRole("button"));
      // The stub consents at once and sends the browser back to the portal's callback.
      await alice.waitForURL(`${stack.portalUrl}/connections/callback**`);
      expect(await text(alice.locator("h1"))).toBe("Connect Google Drive?");
      await checked(alice, "connection-confirm");
      await submit(alice, alice.getByRole("button", { name: "Connect this account" }));
      expect(await text(alice.locator(".notice"))).toBe("Google Drive connected.");
      expect(await text(alice.locator("tr", { hasText: "Google Drive" }))).toMatch(
        /active.*\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/s,
      );
      expect(await text(alice.locator("tr", { hasText: "Google Drive" }))).toContain("active");
      await checked(alice, "connections");
      expect(provider.counts.codeExchanges).toBe(1);

      await submit(alice, alice.getByRole("form", { name: "Disconnect google-drive" }).getByRole("button"));
      expect(await text(alice.locator(".notice"))).toBe("Google Drive disconnected.");
      const { items } = await api<{ items: { status: string }[] }>("alice", "GET", "/v1/connections");
      expect(items.filter((c) => c.status === "active")).toEqual([]);
    },
    STEP_MS,
  );

  it(
    "revokes a delegation now",
    async () => {
      await alice.goto(`${stack.portalUrl}/delegations`);
      await submit(
        alice,
        alice.getByRole("form", { name: "Revoke the delegation to drive-helper" }).getByRole("button"),
      );
      expect(await text(alice.locator(".notice"))).toBe("Delegation to drive-helper revoked.");
      const mine = await api<{ items: unknown[] }>("alice", "GET", "/v1/me/delegations");
      expect(mine.items).toEqual([]);
    },
    STEP_MS,
  );
});

describe("portal: cross-site requests and sign-out", () => {
  let evil: Server;

  afterAll(() => new Promise<void>((resolve) => (evil ? evil.close(() => resolve()) : resolve())));

  it(
    "refuses a form posted from another site's page with 403, and nothing changes",
    async () => {
      const granted = await api<{ delegation: { id: string } }>("alice", "POST", "/v1/delegations", {
        agent_id: agentId,
        scopes: ["github:read"],
      });
      const target = `${stack.portalUrl}/delegations/${granted.delegation.id}/revoke`;
      const evilPort = await freePort();
      evil = createServer((_req, res) => {
        res.setHeader("content-type", "text/html");
        res.end(
          `<!doctype html><title>win a prize</title><form id="f" method="post" action="${target}"><input name="_csrf" value="guess"><button>go</button></form>`,
        );
      });
      await new Promise<void>((resolve) => evil.listen(evilPort, "127.0.0.1", resolve));
      const page = await alice.context().newPage();
      await page.goto(`http://127.0.0.1:${evilPort}/`);
      const [response] = await Promise.all([page.waitForNavigation(), page.click("button")]);
      expect(response!.status()).toBe(403);
      await page.close();
      const still = await api<{ status: string }>("alice", "GET", `/v1/delegations/${granted.delegation.id}`);
      expect(still.status).toBe("active");
    },
    STEP_MS,
  );

  it(
    "signs out: the session is gone server-side, so its old cookie opens nothing",
    async () => {
      const [session] = await alice.context().cookies(`${stack.portalUrl}/`);
      await alice.goto(`${stack.portalUrl}/`);
      await alice.getByRole("button", { name: "Sign out" }).click();
      await alice.waitForURL(`${stack.portalUrl}/signed-out`);
      expect(await text(alice.locator("h1"))).toBe("Signed out");
      expect(await alice.context().cookies(`${stack.portalUrl}/`)).toEqual([]);
      await checked(alice, "signed-out");

      const replay = await fetch(`${stack.portalUrl}/agents`, {
        headers: { cookie: `${session!.name}=${session!.value}` },
        redirect: "manual",
      });
      expect(replay.status).toBe(303);
      expect(replay.headers.get("location")).toMatch(/^\/portal\/login\?return_to=/);
    },
    STEP_MS,
  );
});
