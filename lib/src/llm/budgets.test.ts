import { budgetApplies, describeBudget, periodStart, type Budget } from "./budgets.js";

const budget = (overrides: Partial<Budget>): Budget => ({
  id: "b1",
  tenant: "acme",
  scope: "tenant",
  subject: "acme",
  period: "monthly",
  limitMicros: 1_000_000n,
  enforcement: "hard",
  ...overrides,
});
const spender = {
  tenant: "acme",
  team: "support",
  agentId: "agt-1",
  agentSpiffeId: "spiffe://warden.local/agent/bot",
  userId: "alice",
};

describe("budgets", () => {
  test("a budget applies to its own tenant's calls of its scope only", () => {
    expect(budgetApplies(budget({}), spender)).toBe(true);
    expect(budgetApplies(budget({ tenant: "other" }), spender)).toBe(false);
    expect(budgetApplies(budget({ scope: "team", subject: "support" }), spender)).toBe(true);
    expect(budgetApplies(budget({ scope: "team", subject: "sales" }), spender)).toBe(false);
    expect(budgetApplies(budget({ scope: "agent", subject: "agt-1" }), spender)).toBe(true);
    expect(budgetApplies(budget({ scope: "agent", subject: spender.agentSpiffeId }), spender)).toBe(true);
    expect(budgetApplies(budget({ scope: "user", subject: "alice" }), spender)).toBe(true);
    expect(budgetApplies(budget({ scope: "user", subject: "alice" }), { ...spender, userId: null })).toBe(
      false,
    );
  });

  test("periods start at UTC midnight or on the first of the month, whatever the local time zone", () => {
    const at = new Date("2025-03-31T23:59:59.999Z");
    expect(periodStart("daily", at).toISOString()).toBe("2025-03-31T00:00:00.000Z");
    expect(periodStart("monthly", at).toISOString()).toBe("2025-03-01T00:00:00.000Z");
    expect(periodStart("monthly", new Date("2025-04-01T00:00:00Z")).toISOString()).toBe(
      "2025-04-01T00:00:00.000Z",
    );
  });

  test("a budget names its scope, subject and tenant", () => {
    expect(describeBudget(budget({ scope: "team", subject: "support", period: "daily" }))).toBe(
      "the daily budget of team support (tenant acme)",
    );
    expect(describeBudget(budget({}))).toBe("the monthly budget of tenant acme");
  });
});
