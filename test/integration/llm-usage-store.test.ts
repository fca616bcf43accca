import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditWriter } from "../../lib/src/audit/writer.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { createLogger } from "../../lib/src/logger.js";
import { BudgetBook } from "../../extproc-server/src/budgets/budget-book.js";
import { BudgetFeed } from "../../extproc-server/src/budgets/budget-feed.js";
import { budgetGuard } from "../../extproc-server/src/budgets/budget-guard.js";
import { UsageAccounting } from "../../extproc-server/src/usage/accounting.js";
import { auditUsageSink } from "../../extproc-server/src/usage/audit-sink.js";
import { PriceTable } from "../../extproc-server/src/usage/prices.js";
import { NO_TOKENS, type UsageRecord } from "../../extproc-server/src/usage/record.js";
import { insertUsageRows } from "../../extproc-server/src/usage/usage-event.js";
import { waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import { PUSH_PATH_BOUND_MS } from "../harness/stats.js";

/**
 * The usage store and budgets against the real PostgreSQL: extproc-server's usage path (audit
 * writer + usage rows, as the least-privilege role `warden_extproc`), its spool when PostgreSQL is
 * down, two sidecars' budget books kept in step by NOTIFY and resync, and the control plane's usage
 * and budget APIs over the same rows.
 */
const logger = createLogger("llm-usage-store-test", "silent");
const prices = PriceTable.fromJson({
  version: "test-1",
  currency: "USD",
  unit: "per_million_tokens",
  providers: {
    openai: { "gpt-4o-mini*": { input: "0.15", cached_input: "0.075", output: "0.60" } },
    anthropic: {
      "claude-sonnet-4*": { input: "3", cached_input: "0.30", cache_write: "3.75", output: "15" },
    },
  },
});

let f: ControlPlaneFixture;
let admin: string;
let viewer: string;
let acmeViewer: string;
let spoolDir: string;
const opened: { close(): Promise<void> }[] = [];

interface Sidecar {
  name: string;
  db: Database;
  writer: AuditWriter;
  book: BudgetBook;
  feed: BudgetFeed;
  accounting: UsageAccounting;
}

/** One extproc-server's usage and budget machinery, logged in as a role in `warden_extproc`. */
async function sidecar(name: string, resyncMs = 60_000): Promise<Sidecar> {
  const url = new URL(f.databaseUrl!);
  url.username = "extproc_login";
  const db = createPostgresDatabase(url.toString(), { max: 2, connectTimeoutMs: 1_000 });
  const writer = await AuditWriter.open({
    db,
    spoolPath: join(spoolDir, `${name}.ndjson`),
    afterAppend: insertUsageRows,
    retryDelayMs: { min: 50, max: 200 },
  });
  const book = new BudgetBook();
  const feed = new BudgetFeed({
    db,
    book,
    recordedBy: name,
    resyncMs,
    logger,
    ownRowsStored: async () => {
      await writer.flush();
      return writer.status().spooled === 0 && writer.status().queued === 0;
    },
  });
  await feed.start();
  const accounting = new UsageAccounting({
    prices,
    sink: auditUsageSink(writer, logger),
    recordedBy: name,
    budgets: book,
  });
  const running = { name, db, writer, book, feed, accounting };
  opened.push({
    close: async () => {
      await feed.close();
      await writer.close();
      await db.close();
    },
  });
  return running;
}

let decisions = 0;
function call(overrides: Partial<UsageRecord> = {}): UsageRecord {
  decisions += 1;
  return {
    decisionId: `dec-${decisions}`,
    startedAt: new Date().toISOString(),
    agentSpiffeId: "spiffe://warden.local/agent/support-bot",
    agentId: "0b6f3d6c-43c4-4f0f-9a51-1f7c2b1a9e01",
    tenant: "acme",
    team: "support",
    userId: "alice",
    delegationId: "del-1",
    provider: "openai",
    operation: "chat",
    requestedModel: "fast",
    model: "gpt-4o-mini",
    responseModel: "gpt-4o-mini-2024-07-18",
    stream: false,
    status: 200,
    errorCode: null,
    outcome: "completed",
    usage: {
      inputTokens: 1000,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 100,
      reasoningTokens: 0,
    },
    usageSource: "body",
    latencyMs: 10,
    timeToFirstByteMs: 5,
    ...overrides,
  };
}
// 1000 × 0.15 + 100 × 0.60 = 210 $/M tokens → $0.00021 = 210_000_000 pico-dollars.
const CALL_COST = 210_000_000n;

async function countRows(where = "TRUE"): Promise<number> {
  const [row] = await f.cluster!.sql<{ n: string }>(
    `SELECT count(*)::text AS n FROM llm_usage WHERE ${where}`,
    [],
    new URL(f.databaseUrl!).pathname.slice(1),
  );
  return Number(row!.n);
}

beforeAll(async () => {
  f = await startControlPlaneFixture({ postgres: true });
  await f.cluster!.sql("CREATE ROLE extproc_login LOGIN IN ROLE warden_extproc");
  [admin, viewer, acmeViewer] = await Promise.all([
    f.token({ sub: "alice-admin", roles: ["admin"] }),
    f.token({ sub: "vic-viewer", roles: ["viewer"] }),
    f.token({ sub: "ann-acme", roles: ["viewer"], tenant: "acme" }),
  ]);
  spoolDir = mkdtempSync(join(tmpdir(), "warden-usage-"));
}, 120_000);

afterAll(async () => {
  for (const running of opened.splice(0).reverse()) await running.close().catch(() => undefined);
  await f?.close();
  if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

describe("usage rows", () => {
  test("every record is one audit event and one usage row, stored by extproc's own role, priced exactly", async () => {
    const a = await sidecar("rows-a");
    for (let i = 0; i < 40; i++) a.accounting.record(call());
    a.accounting.record(call({ model: "o9-preview", responseModel: null })); // unpriced
    a.accounting.record(
      call({ outcome: "not_forwarded", status: 402, errorCode: "budget_exceeded", usage: NO_TOKENS }),
    );
    await a.writer.delivered(10_000);
    expect(await countRows("recorded_by = 'rows-a'")).toBe(42);
    const db = new URL(f.databaseUrl!).pathname.slice(1);
    const [events] = await f.cluster!.sql<{ n: string }>(
      "SELECT count(*)::text AS n FROM audit_events e JOIN llm_usage u USING (event_id) WHERE u.recorded_by = 'rows-a' AND e.action = 'llm.request'",
      [],
      db,
    );
    expect(Number(events!.n)).toBe(42);
    const [sum] = await f.cluster!.sql<{ cost: string; unpriced: string }>(
      "SELECT sum(cost_pico_usd)::text AS cost, count(*) FILTER (WHERE cost_pico_usd IS NULL)::text AS unpriced FROM llm_usage WHERE recorded_by = 'rows-a'",
      [],
      db,
    );
    expect(BigInt(sum!.cost)).toBe(40n * CALL_COST);
    expect(sum!.unpriced).toBe("1");
    // The chain the usage events joined still verifies.
    expect((await f.call("POST", "/v1/audit/verify", { token: admin, body: {} })).body).toMatchObject({
      ok: true,
    });
  });

  test("the extproc role cannot read other audit events or change a budget", async () => {
    const url = new URL(f.databaseUrl!);
    url.username = "extproc_login";
    const db = createPostgresDatabase(url.toString(), { max: 1 });
    try {
      await expect(db.query("SELECT reason FROM audit_events LIMIT 1")).rejects.toThrow(/permission denied/);
      await expect(db.query("DELETE FROM llm_budgets")).rejects.toThrow(/permission denied/);
      await expect(db.query("UPDATE llm_usage SET status = 1")).rejects.toThrow(
        /permission denied|append-only/,
      );
    } finally {
      await db.close();
    }
  });

  test("with PostgreSQL down, usage is spooled; once it is back every record is stored exactly once", async () => {
    const a = await sidecar("spool-a");
    const before = await countRows("recorded_by = 'spool-a'");
    await f.cluster!.stop();
    try {
      for (let i = 0; i < 25; i++) a.accounting.record(call());
      await waitFor(
        "records spooled",
        async () => {
          await a.writer.flush();
          return a.writer.status().spooled === 25;
        },
        15_000,
      );
    } finally {
      await f.cluster!.start();
    }
    await a.writer.delivered(20_000);
    expect(await countRows("recorded_by = 'spool-a'")).toBe(before + 25);
  }, 60_000);
});

describe("budgets on two sidecars", () => {
  test("a budget set through the API binds both sidecars as soon as it is pushed; spend converges; lifting it frees both", async () => {
    const [a, b] = [await sidecar("budget-a", 300), await sidecar("budget-b", 300)];
    const spender = { tenant: "acme", team: "research", agentId: null, agentSpiffeId: null, userId: null };
    const created = await f.call<{ id: string; spent_usd: string }>("POST", "/v1/budgets", {
      token: admin,
      body: { tenant: "acme", scope: "team", subject: "research", period: "daily", limit_usd: "0.0005" },
    });
    expect(created.status).toBe(201);
    const startedAt = Date.now();
    await waitFor(
      "both sidecars know the budget",
      () => a.book.size > 0 && b.book.size > 0,
      PUSH_PATH_BOUND_MS + 1_000,
    );
    expect(Date.now() - startedAt).toBeLessThan(PUSH_PATH_BOUND_MS);
    expect(() => budgetGuard(a.book).check(spender)).not.toThrow();

    // Three calls on sidecar a: $0.00063 ≥ $0.0005. a refuses at once, b once it has re-read spend.
    for (let i = 0; i < 3; i++) a.accounting.record(call({ team: "research" }));
    expect(() => budgetGuard(a.book).check(spender)).toThrow(
      expect.objectContaining({ status: 402, code: "budget_exceeded" }),
    );
    await waitFor(
      "b sees a's spend",
      () => {
        try {
          budgetGuard(b.book).check(spender);
          return false;
        } catch {
          return true;
        }
      },
      5_000,
    );
    const shown = await f.call<{ spent_usd: string; limit_usd: string }>(
      "GET",
      `/v1/budgets/${created.body.id}`,
      { token: viewer },
    );
    expect(shown.body).toMatchObject({ spent_usd: "0.00063", limit_usd: "0.0005" });

    const raised = await f.call("PATCH", `/v1/budgets/${created.body.id}`, {
      token: admin,
      body: { limit_usd: "1" },
      headers: { "if-match": shown.headers.get("etag")! },
    });
    expect(raised.status).toBe(200);
    await waitFor(
      "both sidecars allow again",
      () => {
        try {
          budgetGuard(a.book).check(spender);
          budgetGuard(b.book).check(spender);
          return true;
        } catch {
          return false;
        }
      },
      2_000,
    );
    expect((await f.call("DELETE", `/v1/budgets/${created.body.id}`, { token: admin })).status).toBe(204);
    await waitFor("the budget is gone everywhere", () => a.book.size === 0 && b.book.size === 0, 2_000);
  }, 30_000);
});

describe("the usage API", () => {
  test("totals and groups add up to the rows, costs exact; filters narrow them", async () => {
    const a = await sidecar("api-a");
    const from = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 3; i++) a.accounting.record(call({ tenant: "globex", team: "ops", userId: "bob" }));
    a.accounting.record(
      call({
        tenant: "globex",
        team: "ops",
        userId: "carol",
        provider: "anthropic",
        model: "claude-sonnet-4-20250514",
        requestedModel: "claude-sonnet-4-20250514",
        outcome: "cut",
        usage: {
          inputTokens: 10,
          cachedInputTokens: 20,
          cacheWriteTokens: 30,
          outputTokens: 40,
          reasoningTokens: 0,
        },
      }),
    );
    await a.writer.delivered(10_000);
    const report = await f.call<Record<string, unknown>>(
      "GET",
      `/v1/usage?tenant=globex&from=${encodeURIComponent(from)}&group_by=user,model`,
      { token: viewer },
    );
    expect(report.status).toBe(200);
    // 10×3 + 20×0.30 + 30×3.75 + 40×15 = 748.5 $/M → 748_500_000 pico
    expect(report.body).toEqual({
      group_by: ["user", "model"],
      totals: expect.objectContaining({
        requests: 4,
        completed_requests: 3,
        incomplete_requests: 1,
        input_tokens: 3010,
        cost_pico_usd: String(3n * CALL_COST + 748_500_000n),
        cost_usd: "0.0013785",
      }),
      groups: [
        {
          key: { user: "carol", model: "claude-sonnet-4-20250514" },
          totals: expect.objectContaining({ requests: 1, cost_usd: "0.0007485" }),
        },
        {
          key: { user: "bob", model: "gpt-4o-mini" },
          totals: expect.objectContaining({ requests: 3, cost_usd: "0.00063" }),
        },
      ],
      truncated: false,
    });
    const byAgentDay = await f.call<{ groups: { key: Record<string, string> }[] }>(
      "GET",
      `/v1/usage?tenant=globex&user_id=bob&group_by=agent,day&limit=1`,
      { token: viewer },
    );
    expect(byAgentDay.body.groups).toEqual([
      {
        key: { agent: "spiffe://warden.local/agent/support-bot", day: new Date().toISOString().slice(0, 10) },
        totals: expect.objectContaining({ requests: 3 }),
      },
    ]);
  });

  test.each([
    ["an unknown dimension", "group_by=colour"],
    ["a dimension twice", "group_by=model,model"],
    ["a malformed time", "from=yesterday"],
    ["from after to", "from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z"],
    ["an unknown parameter", "currency=eur"],
    ["a limit out of range", "limit=0"],
  ])("%s is a 400 naming the parameter", async (_name, query) => {
    const response = await f.call<{ error: { code: string; details?: { field: string }[] } }>(
      "GET",
      `/v1/usage?${query}`,
      { token: viewer },
    );
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("bad_request");
    expect(response.body.error.details?.[0]?.field).toMatch(/^query\./);
  });

  test("a tenant's token sees its own tenant only", async () => {
    expect((await f.call("GET", "/v1/usage?tenant=globex", { token: acmeViewer })).status).toBe(403);
    const own = await f.call<{ totals: { requests: number } }>("GET", "/v1/usage", { token: acmeViewer });
    expect(own.status).toBe(200);
    expect(own.body.totals.requests).toBe(await countRows("tenant = 'acme'"));
  });
});

describe("the budgets API", () => {
  test.each([
    ["a zero limit", { tenant: "acme", scope: "tenant", period: "daily", limit_usd: "0" }, "limit_usd"],
    [
      "a limit with seven decimals",
      { tenant: "acme", scope: "tenant", period: "daily", limit_usd: "0.0000001" },
      "limit_usd",
    ],
    [
      "a team budget without its team",
      { tenant: "acme", scope: "team", period: "daily", limit_usd: "5" },
      "subject",
    ],
    [
      "a tenant budget naming another tenant",
      { tenant: "acme", scope: "tenant", subject: "globex", period: "daily", limit_usd: "5" },
      "subject",
    ],
    ["an unknown period", { tenant: "acme", scope: "tenant", period: "weekly", limit_usd: "5" }, "period"],
  ])("%s is refused with 400", async (_name, body, field) => {
    const response = await f.call<{ error: { details?: { field: string }[] } }>("POST", "/v1/budgets", {
      token: admin,
      body,
    });
    expect(response.status).toBe(400);
    expect(response.body.error.details?.map((d) => d.field)).toContain(field);
  });

  test("only admins change budgets; a tenant's token sees its own; stale If-Match is 412; unknown ids 404", async () => {
    const body = {
      tenant: "acme",
      scope: "user",
      subject: "alice",
      period: "monthly",
      limit_usd: "12.5",
      enforcement: "soft",
    };
    expect((await f.call("POST", "/v1/budgets", { token: viewer, body })).status).toBe(403);
    const created = await f.call<{ id: string; limit_usd: string; enforcement: string }>(
      "POST",
      "/v1/budgets",
      { token: admin, body },
    );
    expect(created.body).toMatchObject({ limit_usd: "12.50", enforcement: "soft" });
    expect((await f.call("POST", "/v1/budgets", { token: admin, body })).status).toBe(409);
    const globex = await f.call<{ id: string }>("POST", "/v1/budgets", {
      token: admin,
      body: { tenant: "globex", scope: "tenant", period: "monthly", limit_usd: "100" },
    });
    const listed = await f.call<{ items: { id: string }[] }>("GET", "/v1/budgets", { token: acmeViewer });
    expect(listed.body.items.map((item) => item.id)).toContain(created.body.id);
    expect(listed.body.items.map((item) => item.id)).not.toContain(globex.body.id);
    expect((await f.call("GET", `/v1/budgets/${globex.body.id}`, { token: acmeViewer })).status).toBe(404);
    const stale = await f.call("PATCH", `/v1/budgets/${created.body.id}`, {
      token: admin,
      body: { enforcement: "hard" },
      headers: { "if-match": '"v9"' },
    });
    expect(stale.status).toBe(412);
    expect((await f.call("PATCH", `/v1/budgets/${created.body.id}`, { token: admin, body: {} })).status).toBe(
      400,
    );
    expect(
      (await f.call("DELETE", "/v1/budgets/00000000-0000-4000-8000-000000000000", { token: admin })).status,
    ).toBe(404);
    expect((await f.call("GET", "/v1/budgets?scope=user", { token: viewer })).status).toBe(200);
    // Every change is in the audit log.
    const audit = await f.call<{ items: { action: string }[] }>(
      "GET",
      "/v1/audit/events?action=llm_budget.created",
      { token: admin },
    );
    expect(audit.body.items.length).toBeGreaterThanOrEqual(2);
  });
});

describe("coverage", () => {
  test("every usage and budget operation was exercised with a documented status", () => {
    const mine = f.operations
      .filter((op) => /^\/v1\/(usage|budgets)/.test(op.path))
      .map((op) => op.operationId);
    expect(mine.length).toBe(6);
    expect(mine.filter((id) => !f.covered.has(id))).toEqual([]);
  });
});
