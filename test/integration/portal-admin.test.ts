import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readTarGz, writeTarGz } from "../../lib/src/policy-bundle/tar.js";
import type { Browser, Locator, Page } from "playwright-core";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { buildBundle, removeDir, signingKeys, tempDir } from "../harness/policy-bundles.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startPortalStack, type PortalStack } from "../harness/portal.js";
import { launchBrowser, screenshot, seriousA11yViolations, signIn } from "../harness/portal-browser.js";
import { seedPortalData, type SeededData } from "../support/portal-data.js";

/**
 * The admin's portal in a real browser (Debian's chromium), signed in through the real Keycloak
 * login form, against the real control plane, PostgreSQL and OpenBao: usage and cost charts,
 * budgets, revoke-all with its confirmation, audit search, export and chain verification, the
 * policy revision in force; a non-admin is refused every admin page. Each page is checked with
 * axe-core and screenshotted into docs/portal/admin-*.png.
 */
let stack: PortalStack;
let browser: Browser;
let db: Database;
let ada: Page;
let seeded: SeededData;
/** The signed policy bundle (the shipped policies/) the portal is pointed at, as `warden up` does. */
let policyDir: string;
let bundleFile: string;
let signedBundle: Buffer;

/** A story drives several pages through Keycloak-backed sessions on a shared, busy machine. */
const STORY_MS = 90_000;

/** Users whose delegations the revoke-all story cuts off (fixture rows, see beforeAll). */
const REVOKED_USER = "user-3";

async function api<T = Record<string, unknown>>(user: string, method: string, path: string, body?: unknown) {
  const res = await stack.cp.call<T>(method, path, { token: await stack.apiToken(user), body });
  if (res.status >= 300) throw new Error(`${method} ${path} as ${user}: ${res.status} ${res.text}`);
  return res.body;
}

const text = async (locator: Locator) =>
  ((await locator.first().textContent()) ?? "").replace(/\s+/g, " ").trim();

/** Clicks a form's button and waits for the page it leads to. */
async function submit(page: Page, button: Locator): Promise<void> {
  await Promise.all([page.waitForNavigation(), button.click()]);
}

async function checked(page: Page, name: string): Promise<void> {
  expect(await seriousA11yViolations(page)).toEqual([]);
  await screenshot(page, name);
}

async function liveDelegationsOf(user: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM delegations WHERE user_id = $1 AND revoked_at IS NULL",
    [user],
  );
  return rows[0]!.n;
}

beforeAll(async () => {
  policyDir = tempDir("portal-policy");
  bundleFile = join(policyDir, "bundle.tar.gz");
  const keys = signingKeys(policyDir);
  const publicKeyFile = join(policyDir, "signing-key.pub.pem");
  writeFileSync(publicKeyFile, keys.publicKeyPem);
  signedBundle = buildBundle({ out: bundleFile, signingKey: keys.privateKeyFile, revision: "portal-r1" });
  stack = await startPortalStack("portal-admin", {
    env: { WARDEN_PORTAL_POLICY_BUNDLE: bundleFile, WARDEN_PORTAL_POLICY_PUBLIC_KEY: publicKeyFile },
  });
  db = createPostgresDatabase(stack.databaseUrl);
  // Tenant `default` (the realm's users): agents, usage over the last 30 days, budgets and a
  // hash-chained audit log, as portal-data.ts builds them for the bench, only smaller.
  seeded = await seedPortalData(db, {
    size: { agents: 40, auditRows: 600, usageRows: 900, budgets: 4, users: 10, days: 30 },
    tenants: ["default"],
  });
  // Two live delegations of one user to seeded agents (fixture rows; the revocation goes through the API).
  await db.query(
    `INSERT INTO delegations (tenant, user_id, agent_id, agent_spiffe_id, scopes, issued_at, expires_at, signing_key_id, granted_by)
     SELECT 'default', $1, id, spiffe_id, '["google-drive:read"]', now(), now() + interval '1 day', 'fixture', $1
       FROM agents ORDER BY created_at LIMIT 2`,
    [REVOKED_USER],
  );
  browser = await launchBrowser();
  ada = await signIn(browser, stack.portalUrl, "ada");
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await db?.close();
  await stack?.stop();
  if (policyDir) removeDir(policyDir);
}, TEARDOWN_TIMEOUT_MS);

describe("portal admin: usage and cost", () => {
  it(
    "charts cost per day for all and the top agents, with the same numbers as a table",
    async () => {
      await ada.goto(`${stack.portalUrl}/admin/usage`);
      expect(await text(ada.locator("h1"))).toBe("Usage and cost");
      const chart = ada.getByRole("img", { name: /Cost per day, all and top agents/ });
      expect(await chart.count()).toBe(1);
      expect(await ada.locator("svg polyline").count()).toBeGreaterThan(1);
      // 30 days, one row each, in the chart's table.
      expect(await ada.locator("table.chart-table tbody tr").count()).toBe(30);
      expect(await text(ada.locator("table.chart-table thead"))).toContain(
        seeded.agent.spiffe_id.slice(0, 20),
      );
      const total = await api<{ totals: { cost_usd: string } }>(
        "ada",
        "GET",
        "/v1/usage?from=" + encodeURIComponent(new Date(Date.now() - 40 * 86_400_000).toISOString()),
      );
      expect(Number(total.totals.cost_usd)).toBeGreaterThan(0);
      await checked(ada, "admin-usage");
    },
    STORY_MS,
  );

  it(
    "groups per user and per team on request",
    async () => {
      await ada.goto(`${stack.portalUrl}/admin/usage`);
      await ada.selectOption("#usage-by", "team");
      await submit(ada, ada.getByRole("button", { name: "Show" }));
      expect(await text(ada.locator("#usage-top-heading"))).toBe("Top teams by cost");
      expect(await text(ada.locator("section table.data-table").last())).toMatch(
        /support|research|sales|platform|finance/,
      );
      await ada.goto(`${stack.portalUrl}/admin/usage?by=user`);
      expect(await text(ada.locator("#usage-top-heading"))).toBe("Top users by cost");
    },
    STORY_MS,
  );

  it(
    "explains a wrong date next to the field",
    async () => {
      await ada.goto(`${stack.portalUrl}/admin/usage?from=2026-02-30`);
      expect(await ada.locator("#usage-from").getAttribute("aria-invalid")).toBe("true");
      expect(await text(ada.locator("#usage-from-error"))).toBe("From must be a date (YYYY-MM-DD)");
    },
    STORY_MS,
  );
});

describe("portal admin: budgets", () => {
  it(
    "adds a budget after showing what was wrong with the first try",
    async () => {
      await ada.goto(`${stack.portalUrl}/admin/budgets`);
      await checked(ada, "admin-budgets");
      await ada.fill("#budget-tenant", "default");
      await ada.selectOption("#budget-scope", "team");
      await ada.fill("#budget-subject", "portal-team");
      await ada.fill("#budget-limit_usd", "twelve");
      await submit(ada, ada.getByRole("button", { name: "Add budget" }));
      expect(await ada.locator("#budget-limit_usd").getAttribute("aria-invalid")).toBe("true");
      expect(await ada.inputValue("#budget-subject")).toBe("portal-team");
      expect(await seriousA11yViolations(ada)).toEqual([]);
      await ada.fill("#budget-limit_usd", "12.50");
      await submit(ada, ada.getByRole("button", { name: "Add budget" }));
      expect(await text(ada.locator(".notice"))).toBe("Budget added.");
      const { items } = await api<{ items: { id: string; subject: string; limit_usd: string }[] }>(
        "ada",
        "GET",
        "/v1/budgets",
      );
      expect(items.find((b) => b.subject === "portal-team")?.limit_usd).toBe("12.50");
    },
    STORY_MS,
  );

  it(
    "changes a budget's limit and enforcement, then deletes it",
    async () => {
      await ada.goto(`${stack.portalUrl}/admin/budgets`);
      await submit(ada, ada.getByRole("link", { name: /Edit the team budget of portal-team/ }));
      expect(await text(ada.locator("h1"))).toBe("Edit budget");
      await checked(ada, "admin-budget-edit");
      await ada.fill("#budget-limit_usd", "40");
      await ada.selectOption("#budget-enforcement", "soft");
      await submit(ada, ada.getByRole("button", { name: "Save" }));
      expect(await text(ada.locator(".notice"))).toBe("Budget saved.");
      let { items } = await api<{ items: { subject: string; limit_usd: string; enforcement: string }[] }>(
        "ada",
        "GET",
        "/v1/budgets",
      );
      expect(items.find((b) => b.subject === "portal-team")).toMatchObject({
        limit_usd: "40.00",
        enforcement: "soft",
      });

      await submit(ada, ada.getByRole("link", { name: /Edit the team budget of portal-team/ }));
      await submit(ada, ada.getByRole("button", { name: "Delete this budget" }));
      expect(await text(ada.locator(".notice"))).toBe("Budget deleted.");
      ({ items } = await api("ada", "GET", "/v1/budgets"));
      expect(items.some((b) => b.subject === "portal-team")).toBe(false);
    },
    STORY_MS,
  );
});

describe("portal admin: revoke-all", () => {
  it(
    "asks for confirmation, then revokes every live delegation of the user",
    async () => {
      expect(await liveDelegationsOf(REVOKED_USER)).toBe(2);
      await ada.goto(`${stack.portalUrl}/admin/revoke-all`);
      await checked(ada, "admin-revoke-all");
      await ada.check("#revoke-target-user");
      await ada.fill("#revoke-subject", REVOKED_USER);
      await ada.fill("#revoke-reason", "laptop stolen");
      await submit(ada, ada.getByRole("button", { name: "Review" }));
      expect(await text(ada.locator("#confirm-heading"))).toBe("Confirm revocation");
      expect(await text(ada.locator(".confirm strong"))).toBe(
        `every live delegation granted by the user ${REVOKED_USER}`,
      );
      await checked(ada, "admin-revoke-confirm");
      // Nothing is revoked before the confirmation.
      expect(await liveDelegationsOf(REVOKED_USER)).toBe(2);
      await submit(ada, ada.getByRole("button", { name: "Revoke now" }));
      expect(await text(ada.locator("[role=status] p").first())).toBe(
        `2 delegations were revoked: every live delegation granted by the user ${REVOKED_USER}.`,
      );
      expect(await liveDelegationsOf(REVOKED_USER)).toBe(0);
      const { rows } = await db.query<{ revoked_via: string; revocation_reason: string }>(
        "SELECT DISTINCT revoked_via, revocation_reason FROM delegations WHERE user_id = $1",
        [REVOKED_USER],
      );
      expect(rows).toEqual([{ revoked_via: "user", revocation_reason: "laptop stolen" }]);
    },
    STORY_MS,
  );

  it(
    "refuses an agent that is not an id, next to the field",
    async () => {
      await ada.goto(`${stack.portalUrl}/admin/revoke-all`);
      await ada.fill("#revoke-subject", "spiffe://warden.local/agent/x");
      await ada.fill("#revoke-reason", "test");
      await submit(ada, ada.getByRole("button", { name: "Review" }));
      expect(await text(ada.locator("#revoke-subject-error"))).toMatch(/agent's id/);
    },
    STORY_MS,
  );
});

describe("portal admin: audit log", () => {
  it(
    "searches by user, pages by cursor, and downloads what the search finds",
    async () => {
      await ada.goto(`${stack.portalUrl}/admin/audit?user=${seeded.user}`);
      const ids = async () => ada.locator("table.audit-table tbody tr td:first-child").allTextContents();
      const first = await ids();
      expect(first.length).toBe(50);
      expect(
        new Set(await ada.locator("table.audit-table tbody tr td:nth-child(6)").allTextContents()),
      ).toEqual(new Set([seeded.user]));
      await checked(ada, "admin-audit");
      await submit(ada, ada.getByRole("link", { name: /Next 50 events/ }));
      const second = await ids();
      expect(second.length).toBeGreaterThan(0);
      expect(Number(second[0])).toBeGreaterThan(Number(first[first.length - 1]));

      const [download] = await Promise.all([
        ada.waitForEvent("download"),
        ada.getByRole("link", { name: "NDJSON" }).click(),
      ]);
      expect(download.suggestedFilename()).toBe("audit.ndjson");
      const lines = readFileSync((await download.path())!, "utf8")
        .trim()
        .split("\n");
      const users = new Set(lines.map((line) => (JSON.parse(line) as { user_id: string }).user_id));
      expect(users).toEqual(new Set([seeded.user]));
      expect(lines.length).toBe(first.length + second.length);
    },
    STORY_MS,
  );

  it(
    "verifies the hash chain and shows the result",
    async () => {
      await ada.goto(`${stack.portalUrl}/admin/audit`);
      await submit(ada, ada.getByRole("button", { name: "Verify the hash chain" }));
      expect(await text(ada.locator(".verify-result h2"))).toBe("Chain intact");
      expect(await text(ada.locator(".verify-result p"))).toMatch(/^\d+ events of \d+ tenants? verified/);
      await checked(ada, "admin-audit-verified");
    },
    STORY_MS,
  );
});

describe("portal admin: policy in force", () => {
  it(
    "shows the revision of the data plane's latest decisions",
    async () => {
      await ada.goto(`${stack.portalUrl}/admin/policy`);
      expect(await text(ada.locator("dl.summary dd code"))).toBe("bench-r1");
      // The model allow-lists of the signed bundle, verified, per level, with how to change them.
      expect(await text(ada.locator(".bundle-revision"))).toBe("portal-r1");
      const rows = ada.locator('table:has(caption:text("Model allow-lists")) tbody tr');
      expect(await text(rows.filter({ hasText: "support" }))).toBe("Team support openai gpt-4o-mini");
      expect(await text(rows.filter({ hasText: /^\s*Everyone\s+openai/ }))).toBe(
        "Everyone openai gpt-4o, gpt-4o-mini, gpt-4.1*, o3-mini",
      );
      expect(await ada.locator("main").textContent()).toMatch(/warden policy push/);
      await checked(ada, "admin-policy");
    },
    STORY_MS,
  );

  it(
    "refuses a tampered bundle with a clear message and lists none of its models",
    async () => {
      const files = readTarGz(signedBundle);
      const data = files.get("data.json")!.toString("utf8");
      files.set("data.json", Buffer.from(data.replace('"gpt-4o-mini"', '"gpt-5-unvetted"')));
      writeFileSync(bundleFile, writeTarGz(files));
      try {
        await ada.goto(`${stack.portalUrl}/admin/policy`);
        const alert = await text(ada.locator('#models-heading ~ [role="alert"]'));
        expect(alert).toMatch(
          /^The policy bundle was refused, so its model lists are not shown: bundle_tampered/,
        );
        expect(await ada.locator('table:has(caption:text("Model allow-lists"))').count()).toBe(0);
        expect(await ada.locator("main").textContent()).not.toMatch(/gpt-5-unvetted/);
        await checked(ada, "admin-policy-refused");
      } finally {
        writeFileSync(bundleFile, signedBundle);
      }
    },
    STORY_MS,
  );
});

describe("portal admin: role gating", () => {
  it(
    "refuses every admin page to a user without the admin role",
    async () => {
      const alice = await signIn(browser, stack.portalUrl, "alice");
      for (const path of ["usage", "budgets", "revoke-all", "audit", "audit/export", "policy"]) {
        const response = await alice.goto(`${stack.portalUrl}/admin/${path}`);
        expect([path, response?.status()]).toEqual([path, 403]);
      }
      expect(await text(alice.locator("[role=alert]"))).toMatch(/needs one of the roles: admin/);
      expect(await alice.locator("nav a", { hasText: "Budgets" }).count()).toBe(0);
      await alice.context().close();
    },
    STORY_MS,
  );
});
