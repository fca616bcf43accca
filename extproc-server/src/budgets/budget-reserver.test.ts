import type { Database, QueryResult } from "../../../lib/src/db/types.js";
import { WardenError } from "../../../lib/src/errors.js";
import type { Budget, Spender } from "../../../lib/src/llm/budgets.js";
import { PriceTable } from "../usage/prices.js";
import { BudgetBook } from "./budget-book.js";
import { BudgetReserver, RESERVATIONS_UNAVAILABLE } from "./budget-reserver.js";

/** A database that is unreachable, and counts how often it was asked. */
class UnreachableDatabase implements Database {
  readonly kind = "postgres";
  asked = 0;
  private fail(): Promise<never> {
    this.asked += 1;
    return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432 (postgres://warden:s3cret@db)"));
  }
  query<Row>(): Promise<QueryResult<Row>> {
    return this.fail();
  }
  exec(): Promise<void> {
    return this.fail();
  }
  transaction<T>(): Promise<T> {
    return this.fail();
  }
  listen(): Promise<() => Promise<void>> {
    return this.fail();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const prices = PriceTable.fromJson({
  version: "t",
  currency: "USD",
  unit: "per_million_tokens",
  providers: { openai: { "gpt-4o-mini": { input: "0.15", output: "0.6" } } },
});
const NOW = new Date("2025-07-14T12:00:00Z");
const spender: Spender = {
  tenant: "acme",
  team: "support",
  agentId: "a1",
  agentSpiffeId: null,
  userId: null,
};
const budget = (
  id: string,
  scope: Budget["scope"],
  subject: string,
  enforcement: Budget["enforcement"],
): Budget => ({
  id,
  tenant: "acme",
  scope,
  subject,
  period: "daily",
  limitMicros: 1_000_000n,
  enforcement,
});

function reserverWith(budgets: Budget[]) {
  const db = new UnreachableDatabase();
  const book = new BudgetBook();
  book.resync(budgets, new Map(), 0, NOW);
  const errors: unknown[] = [];
  const reserver = new BudgetReserver({
    db,
    book,
    prices,
    reservedBy: "test",
    ttlMs: 60_000,
    defaultMaxOutputTokens: 100,
    logger: { warn: () => undefined, error: (...args: unknown[]) => void errors.push(args) },
    tokenCounter: () => Promise.resolve({ count: (text) => text.length }),
    now: () => NOW,
  });
  return { db, reserver, errors };
}

const call = { spender, provider: "openai", models: ["gpt-4o-mini"], body: { max_tokens: 10 } };

test("a call no hard budget applies to (none, another team's, a soft one) makes no database round trip", async () => {
  const { db, reserver } = reserverWith([
    budget("b1", "team", "sales", "hard"),
    budget("b2", "tenant", "acme", "soft"),
  ]);
  await expect(reserver.reserve(call)).resolves.toBeNull();
  expect(db.asked).toBe(0);
});

test("a budgeted call with the database unreachable: 503 `unavailable` with the reason, no connection detail", async () => {
  const { db, reserver } = reserverWith([budget("b1", "team", "support", "hard")]);
  const refusal = await reserver.reserve(call).catch((error: unknown) => error);
  expect(refusal).toBeInstanceOf(WardenError);
  expect(refusal).toMatchObject({ status: 503, code: "unavailable", message: RESERVATIONS_UNAVAILABLE });
  expect((refusal as Error).message).not.toMatch(/s3cret|5432|ECONNREFUSED/);
  expect(db.asked).toBe(1);
});

test("a settlement that fails is tried again (else the call's cost would be missing from the shared counter)", async () => {
  const { db, reserver } = reserverWith([]);
  const handle = { tenant: "acme", ids: ["r-1"], budgets: [], amountPico: 10n };
  reserver.settle(handle, null);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(db.asked).toBe(1);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  expect(db.asked).toBe(2);
});
