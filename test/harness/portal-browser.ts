import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { passwordOf } from "./keycloak.js";
import { REPO_ROOT } from "./process.js";

/**
 * The portal in a real browser: Debian's chromium (scripts/setup installs it) driven by
 * playwright-core, signed in through the real Keycloak login form, checked with axe-core, and
 * screenshotted into docs/portal/ for the README.
 */
export const CHROMIUM = process.env.WARDEN_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOT_DIR = join(REPO_ROOT, "docs", "portal");

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: chromium's sandbox needs user namespaces this machine may not give.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** A fresh browser context (its own cookies) signed in as `username` through Keycloak's form. */
export async function signIn(browser: Browser, portalUrl: string, username: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await page.goto(`${portalUrl}/`);
  await page.fill("#username", username);
  await page.fill("#password", passwordOf(username));
  await Promise.all([page.waitForURL(`${portalUrl}/**`), page.click("#kc-login")]);
  return page;
}

export interface A11yViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * axe-core's serious and critical violations on the page as it is now. axe runs through the
 * DevTools protocol (evaluate), which the page's CSP does not govern: the CSP stays strict.
 */
export async function seriousA11yViolations(page: Page): Promise<A11yViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations as {
      id: string;
      impact: string | null;
      help: string;
      nodes: { target: string[] }[];
    }[];
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
}

/** docs/portal/<name>.png: the whole page. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
