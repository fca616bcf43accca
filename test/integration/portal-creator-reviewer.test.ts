import type { Browser, Page } from "playwright-core";
import { launchBrowser, screenshot, seriousA11yViolations, signIn } from "../harness/portal-browser.js";
import { startPortalStack, type PortalStack } from "../harness/portal.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

/**
 * Issue 21, creator and reviewer stories in a real browser against the real control plane,
 * Keycloak, PostgreSQL and OpenBao: carl (creator) registers agents and an MCP server and submits
 * KYA evidence; rita (reviewer) approves one at a level and rejects the other with a reason; carl
 * sees both results. Every page passes axe-core with no serious or critical violation.
 */
let stack: PortalStack;
let browser: Browser;
let carl: Page;
let rita: Page;

const DIGEST = `sha256:${"3f".repeat(32)}`;

beforeAll(async () => {
  stack = await startPortalStack("portal-creator-reviewer");
  browser = await launchBrowser();
  carl = await signIn(browser, stack.portalUrl, "carl");
  rita = await signIn(browser, stack.portalUrl, "rita");
  // A missing element fails in seconds, not after Playwright's 30 s default.
  for (const page of [carl, rita]) page.setDefaultTimeout(10_000);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
}, TEARDOWN_TIMEOUT_MS);

/** axe-core on the page as shown, then its screenshot for docs/portal/. */
async function checkAndShoot(page: Page, name: string): Promise<void> {
  expect(await seriousA11yViolations(page)).toEqual([]);
  await screenshot(page, name);
}

/** Clicks a submit button and waits for the answer page (a redirect's target or the form again). */
async function submit(page: Page, button: string): Promise<void> {
  await Promise.all([
    page.waitForNavigation({ waitUntil: "load" }),
    page.click(`button:has-text("${button}")`),
  ]);
}

/** The visible text of the first element matching `selector` (playwright-core has no `expect`). */
const textOf = (page: Page, selector: string) => page.locator(selector).first().innerText();

/** Whether the element has the keyboard focus. */
const focused = async (page: Page, selector: string) =>
  (await page.locator(`${selector}:focus`).count()) === 1;

async function registerAgent(name: string, capabilities: string): Promise<void> {
  await carl.goto(`${stack.portalUrl}/creator/agents/new`);
  await carl.fill("#f-name", name);
  await carl.fill("#f-team", "payments");
  await carl.fill("#f-type", "assistant");
  await carl.fill("#f-environment", "prod");
  await carl.fill("#f-capabilities", capabilities);
  await submit(carl, "Register");
  expect(await textOf(carl, "main")).toContain(`Registered ${name}`);
}

async function submitEvidence(agentName: string): Promise<void> {
  await carl.goto(`${stack.portalUrl}/creator/kya/new`);
  await carl.selectOption("#f-agent_id", { label: `${agentName} (Agent)` });
  await carl.fill("#f-image_digest", DIGEST);
  await carl.fill("#f-endpoints", "https://api.openai.com/v1\nhttps://api.github.com");
  await carl.check("#f-checklist-0");
  await carl.check("#f-checklist-3");
  await submit(carl, "Submit for review");
  expect(await textOf(carl, "main")).toContain("Submitted for KYA review");
}

describe("creator and reviewer pages", () => {
  test("a creator's registration with wrong input comes back with each error at its input, input kept, the summary focused", async () => {
    await carl.goto(`${stack.portalUrl}/creator`);
    await checkAndShoot(carl, "creator-empty");
    await carl.click("text=Register an agent");
    await carl.fill("#f-name", "Billing Bot");
    await carl.fill("#f-team", "payments");
    await carl.fill("#f-type", "assistant");
    await carl.fill("#f-environment", "prod");
    await carl.fill("#f-capabilities", "llm:chat\nNot A Capability");
    await submit(carl, "Register");

    expect(await focused(carl, ".error-summary")).toBe(true);
    expect(await textOf(carl, ".error-summary")).toContain("Name must look like this");
    expect(await textOf(carl, "#f-name-error")).toContain("lower-case letters");
    expect(await textOf(carl, "#f-capabilities-error")).toContain('"Not A Capability"');
    expect(await carl.getAttribute("#f-name", "aria-describedby")).toBe("f-name-hint f-name-error");
    expect(await carl.getAttribute("#f-name", "aria-invalid")).toBe("true");
    expect(await carl.inputValue("#f-name")).toBe("Billing Bot");
    expect(await carl.inputValue("#f-team")).toBe("payments");
    await checkAndShoot(carl, "creator-register-errors");
  }, 60_000);

  test("a creator registers two agents and an MCP server, and submits KYA evidence for both agents", async () => {
    await registerAgent("billing-bot", "llm:chat\ngithub:repo.read");
    await checkAndShoot(carl, "creator-agent-registered");
    await registerAgent("scraper-bot", "web:fetch");

    await carl.goto(`${stack.portalUrl}/creator/mcp-servers/new`);
    await carl.fill("#f-name", "docs-search");
    await carl.fill("#f-team", "payments");
    await carl.fill("#f-type", "search");
    await carl.fill("#f-environment", "prod");
    await carl.fill("#f-capabilities", "tools:search");
    await carl.fill("#f-external_services", "github");
    await carl.fill("#f-resource_uri", "https://mcp.example.com/mcp");
    await checkAndShoot(carl, "creator-register-mcp-server");
    await submit(carl, "Register");
    expect(await textOf(carl, "main")).toContain("Registered docs-search");

    // Neither an image digest nor a code hash: the API's rule, shown at the input.
    await carl.goto(`${stack.portalUrl}/creator/kya/new`);
    await carl.selectOption("#f-agent_id", { label: "billing-bot (Agent)" });
    await carl.fill("#f-endpoints", "https://api.openai.com/v1");
    await submit(carl, "Submit for review");
    expect(await textOf(carl, "#f-image_digest-error")).toContain(
      "fill in at least one of: Image digest, Code hash",
    );
    expect(await carl.inputValue("#f-endpoints")).toBe("https://api.openai.com/v1");

    await carl.fill("#f-image_digest", DIGEST);
    await carl.fill("#f-endpoints", "https://api.openai.com/v1\nhttps://api.github.com");
    await carl.check("#f-checklist-0");
    await carl.check("#f-checklist-3");
    await checkAndShoot(carl, "creator-kya-evidence");
    await submit(carl, "Submit for review");
    expect(await textOf(carl, "main")).toContain("Submitted for KYA review");
    expect(await textOf(carl, "h1")).toBe("Agent billing-bot");
    expect(await textOf(carl, "dl.facts")).toContain("Waiting for review");

    await submitEvidence("scraper-bot");
  }, 120_000);

  test("a creator cannot reach the reviewer pages", async () => {
    const response = await carl.goto(`${stack.portalUrl}/reviewer`);
    expect(response?.status()).toBe(403);
    expect(await textOf(carl, ".error")).toContain("reviewer");
    expect(await carl.locator("nav").textContent()).not.toContain("KYA queue");
  }, 30_000);

  test("a reviewer sees the queue with the evidence, approves one at a level and rejects the other with a reason", async () => {
    await rita.goto(`${stack.portalUrl}/reviewer`);
    const waiting = await textOf(rita, "table");
    expect(waiting).toContain("billing-bot");
    expect(waiting).toContain("scraper-bot");
    await checkAndShoot(rita, "reviewer-queue");

    await rita.click("a:has-text('billing-bot')");
    expect(await textOf(rita, "h1")).toBe("Review billing-bot");
    expect(await textOf(rita, "main")).toContain(DIGEST);
    expect(await textOf(rita, "main")).toContain("https://api.github.com");
    await checkAndShoot(rita, "reviewer-review");
    await rita.check("label:has-text('Level 2') input");
    await rita.check("#f-verified_capabilities-0");
    await submit(rita, "Approve and sign");
    expect(await textOf(rita, "main")).toContain("Approved billing-bot at level 2.");

    await rita.click("a:has-text('scraper-bot')");
    // Blanks satisfy the browser's `required`, not the API: the reason is checked on the server.
    await rita.fill("#f-reason", "   ");
    await submit(rita, "Reject");
    // A reason is required: the page comes back with the summary focused and the error at the input.
    expect(await focused(rita, ".error-summary")).toBe(true);
    expect(await textOf(rita, "#f-reason-error")).toContain("Reason is required");
    await checkAndShoot(rita, "reviewer-reject-needs-reason");
    await rita.fill("#f-reason", "no dependency scan; web:fetch needs an allow-list of hosts");
    await submit(rita, "Reject");
    expect(await textOf(rita, "main")).toContain("Rejected scraper-bot");

    const decided = await rita.locator("table").last().innerText();
    expect(decided).toContain("Approved at level 2");
    expect(decided).toContain("Rejected: no dependency scan");
    expect(await textOf(rita, "main")).toContain("Nothing is waiting for review.");
    await checkAndShoot(rita, "reviewer-queue-decided");
  }, 120_000);

  test("the creator sees both results on their status pages", async () => {
    await carl.goto(`${stack.portalUrl}/creator`);
    const row = (name: string) => carl.locator("tbody tr", { hasText: name }).innerText();
    expect(await row("billing-bot")).toMatch(/Approved at level 2 until \d{4}-\d\d-\d\d/);
    expect(await row("scraper-bot")).toContain(
      "Rejected: no dependency scan; web:fetch needs an allow-list of hosts",
    );
    expect(await row("docs-search")).toContain("Not submitted yet");
    await checkAndShoot(carl, "creator-status");

    await carl.click("a:has-text('billing-bot')");
    const history = await textOf(carl, "table");
    expect(history).toContain("Approved at level 2");
    expect(history).toContain("llm:chat");
    await checkAndShoot(carl, "creator-agent-history");
  }, 60_000);
});
