import type { Budget } from "../../../lib/src/llm/budgets.js";
import { BudgetBook } from "./budget-book.js";
import { budgetExceededMessage, budgetGuard } from "./budget-guard.js";

const DAY = new Date("2025-07-14T10:00:00Z");
const spender = { tenant: "acme", team: "support", agentId: "agt-1", agentSpiffeId: null, userId: "alice" };
const teamDaily: Budget = {
  id: "team-daily",
  tenant: "acme",
  scope: "team",
  subject: "support",
  period: "daily",
  limitMicros: 1_000n, // $0.001 = 1_000_000_000 pico
  enforcement: "hard",
};
const tenantSoft: Budget = {
  ...teamDaily,
  id: "tenant-soft",
  scope: "tenant",
  subject: "acme",
  period: "monthly",
  enforcement: "soft",
};

function book(spend: Record<string, bigint> = {}) {
  const b = new BudgetBook();
  b.resync([teamDaily, tenantSoft], new Map(Object.entries(spend)), 0, DAY);
  return b;
}

describe("the budget book", () => {
  test("a hard budget refuses once its period's spend reaches the limit, not before", () => {
    const b = book({ "team-daily": 999_999_999n });
    expect(b.hardBreach(spender, DAY)).toBeNull();
    b.charge(b.nextSeq(), spender, DAY, 1n, DAY);
    expect(b.hardBreach(spender, DAY)).toMatchObject({
      budget: { id: "team-daily" },
      spentPico: 1_000_000_000n,
    });
    expect(b.hardBreach({ ...spender, team: "sales" }, DAY)).toBeNull();
    expect(b.hardBreach({ ...spender, tenant: "other" }, DAY)).toBeNull();
  });

  test("the guard turns a breach into a 402 naming the budget, the period and the spend", () => {
    const b = book({ "team-daily": 1_500_000_000n });
    expect(() => budgetGuard(b, () => DAY).check(spender)).toThrow(
      expect.objectContaining({
        code: "budget_exceeded",
        status: 402,
        message:
          "the daily budget of team support (tenant acme) is used up for 2025-07-14 (UTC): spent $0.0015 of $0.001; no request was sent upstream",
      }),
    );
    expect(budgetExceededMessage(b.statuses(DAY).find((s) => s.budget.id === "tenant-soft")!)).toContain(
      "for 2025-07 (UTC)",
    );
  });

  test("a new period starts from zero; a call that started in the old one is not charged to the new", () => {
    const b = book({ "team-daily": 5_000_000_000n });
    const tomorrow = new Date("2025-07-15T00:00:01Z");
    expect(b.hardBreach(spender, tomorrow)).toBeNull();
    b.charge(b.nextSeq(), spender, DAY, 2_000_000_000n, tomorrow);
    expect(b.statuses(tomorrow).find((s) => s.budget.id === "team-daily")?.spentPico).toBe(0n);
  });

  test("a soft budget is reported once per period when a charge reaches it, and never refuses", () => {
    const b = book({ "tenant-soft": 900_000_000n });
    expect(b.charge(b.nextSeq(), spender, DAY, 50_000_000n, DAY)).toEqual([]);
    const crossed = b.charge(b.nextSeq(), spender, DAY, 50_000_000n, DAY);
    expect(crossed.map((s) => s.budget.id)).toEqual(["tenant-soft"]);
    expect(b.charge(b.nextSeq(), spender, DAY, 50_000_000n, DAY)).toEqual([]);
    expect(b.hardBreach({ ...spender, team: null }, DAY)).toBeNull();
  });

  test("a resync counts the database up to its mark and this sidecar's later charges once", () => {
    const b = book();
    b.charge(b.nextSeq(), spender, DAY, 100n, DAY); // seq 1: in the database read
    const mark = b.lastSeq;
    b.charge(b.nextSeq(), spender, DAY, 10n, DAY); // seq 2: after the mark, left out of the read
    // The database holds seq 1 (100) and another sidecar's 1000.
    b.resync([teamDaily, tenantSoft], new Map([["team-daily", 1_100n]]), mark, DAY);
    expect(b.statuses(DAY).find((s) => s.budget.id === "team-daily")?.spentPico).toBe(1_110n);
    // The next read holds seq 2 too: nothing is counted twice.
    b.resync([teamDaily, tenantSoft], new Map([["team-daily", 1_110n]]), b.lastSeq, DAY);
    expect(b.statuses(DAY).find((s) => s.budget.id === "team-daily")?.spentPico).toBe(1_110n);
  });

  test("budgets deleted in the database stop applying at the next resync", () => {
    const b = book({ "team-daily": 5_000_000_000n });
    b.resync([], new Map(), b.lastSeq, DAY);
    expect(b.hardBreach(spender, DAY)).toBeNull();
    expect(b.size).toBe(0);
  });
});
