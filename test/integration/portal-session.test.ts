import type { Browser, BrowserContext, Page } from "playwright-core";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startPortalStack, type PortalStack } from "../harness/portal.js";
import { launchBrowser, signIn } from "../harness/portal-browser.js";

/**
 * The portal's session against the real Keycloak when access tokens expire: with the realm's access
 * token lifespan cut to 40 s, a page loaded after expiry still works on the same session cookie (the
 * portal refreshed the token server-side), and once the user is logged out in Keycloak (refresh token
 * revoked) the next load after expiry sends the browser to sign in instead of failing. Expired
 * session rows are swept by the periodic cleanup, not only at sign-in.
 */
let stack: PortalStack;
let browser: Browser;
let db: Database;

/** Access tokens live this long here; the portal refreshes 30 s before expiry, so 40 s keeps one un-refreshed load possible. */
const ACCESS_TOKEN_S = 40;
const pastExpiry = () => new Promise((resolve) => setTimeout(resolve, (ACCESS_TOKEN_S + 2) * 1000));

beforeAll(async () => {
  stack = await startPortalStack("portal-session");
  db = createPostgresDatabase(stack.databaseUrl);
  await stack.idp.admin("PUT", "", { accessTokenLifespan: ACCESS_TOKEN_S });
  const realm = (await stack.idp.admin("GET", "")) as { accessTokenLifespan: number };
  expect(realm.accessTokenLifespan).toBe(ACCESS_TOKEN_S);
  browser = await launchBrowser();
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await db?.close();
  await stack?.stop();
}, TEARDOWN_TIMEOUT_MS);

async function sessionCookie(context: BrowserContext): Promise<string | undefined> {
  return (await context.cookies()).find((c) => c.name === "__Host-warden_session")?.value;
}

async function sealedTokens(): Promise<string[]> {
  const { rows } = await db.query<{ sealed_tokens: string }>(
    "SELECT sealed_tokens FROM portal_sessions WHERE subject IS NOT NULL AND expires_at > now() ORDER BY created_at",
  );
  return rows.map((r) => r.sealed_tokens);
}

describe("portal session with short-lived access tokens", () => {
  it("refreshes the token server-side after expiry, and sends the user to sign in once Keycloak logged them out", async () => {
    const page: Page = await signIn(browser, stack.portalUrl, "alice");
    const context = page.context();
    const cookie = await sessionCookie(context);
    expect(cookie).toBeDefined();
    const [before] = await sealedTokens();
    // A session nobody returns to, expired an hour ago: the periodic sweep removes it.
    await db.query(
      `INSERT INTO portal_sessions (id_hash, subject, sealed_tokens, expires_at)
         VALUES (sha256('abandoned'::bytea), 'abandoned', 'x', now() - interval '1 hour')`,
    );

    await pastExpiry();
    const refreshed = await page.goto(`${stack.portalUrl}/`);
    expect(refreshed?.status()).toBe(200);
    expect(page.url()).toBe(`${stack.portalUrl}/`);
    expect(await page.locator("h1").count()).toBeGreaterThan(0);
    expect(await sessionCookie(context)).toBe(cookie);
    const [after] = await sealedTokens();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    const { rows } = await db.query("SELECT 1 FROM portal_sessions WHERE subject = 'abandoned'");
    expect(rows).toHaveLength(0);

    // Logged out in Keycloak: its sessions and refresh tokens are revoked.
    const [user] = (await stack.idp.admin("GET", "/users?username=alice&exact=true")) as { id: string }[];
    await stack.idp.admin("POST", `/users/${user!.id}/logout`);
    await pastExpiry();
    const response = await page.goto(`${stack.portalUrl}/`);
    expect(response?.status()).toBe(200);
    expect(page.url().startsWith(`${stack.idp.issuer}/protocol/openid-connect/auth`)).toBe(true);
    expect(await page.locator("#username").isVisible()).toBe(true);
  }, 240_000);
});
