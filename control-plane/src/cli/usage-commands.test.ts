import { budgetTarget, groupBy, instant, renderUsage, usd } from "./usage-commands.js";
import { runWarden } from "./warden.js";

const totals = (requests: number, cost: string) => ({
  requests,
  input_tokens: requests * 10,
  output_tokens: requests * 5,
  unpriced_requests: 0,
  cost_usd: cost,
});

test("--group-by takes the API's dimensions, each once", () => {
  expect(groupBy({ "group-by": "agent, day" })).toBe("agent,day");
  expect(groupBy({})).toBeUndefined();
  expect(() => groupBy({ "group-by": "agent,colour" })).toThrow(/not "colour"/);
  expect(() => groupBy({ "group-by": "day,day" })).toThrow(/twice/);
});

test("times are ISO dates or date-times; a bare date is its UTC start", () => {
  expect(instant({ from: "2026-12-01" }, "from")).toBe("2026-12-01T00:00:00.000Z");
  expect(instant({ to: "2026-12-01T09:30:00+01:00" }, "to")).toBe("2026-12-01T08:30:00.000Z");
  expect(() => instant({ from: "yesterday" }, "from")).toThrow(/ISO date/);
  expect(() => instant({ from: "2026-13-45" }, "from")).toThrow(/ISO date/);
});

test("dollar amounts are decimal strings, never floats", () => {
  expect(usd("250", "limit-usd")).toBe("250");
  expect(usd("0.50", "limit-usd")).toBe("0.50");
  for (const bad of ["-1", "1e3", "0.1234567", "$5", ""])
    expect(() => usd(bad, "limit-usd")).toThrow(/US dollars/);
});

test("a budget is identified by tenant, scope, subject and period; a tenant budget's subject is the tenant", () => {
  expect(budgetTarget({ tenant: "acme", "limit-usd": "100" })).toMatchObject({
    tenant: "acme",
    scope: "tenant",
    subject: "acme",
    period: "monthly",
    limit_usd: "100",
  });
  expect(
    budgetTarget({ tenant: "acme", scope: "team", subject: "eng", period: "daily", "limit-usd": "5" }),
  ).toMatchObject({ scope: "team", subject: "eng", period: "daily" });
  expect(() => budgetTarget({ tenant: "acme", scope: "team", "limit-usd": "5" })).toThrow(
    /--subject is required/,
  );
  expect(() => budgetTarget({ tenant: "acme", scope: "org", "limit-usd": "5" })).toThrow(
    /--scope must be one of/,
  );
  expect(() => budgetTarget({ tenant: "acme", "limit-usd": "5", period: "weekly" })).toThrow(/--period/);
  expect(() => budgetTarget({ "limit-usd": "5" })).toThrow(/--tenant is required/);
});

test("grouped usage is a table with one row per group and a total", () => {
  const table = renderUsage({
    group_by: ["agent", "model"],
    totals: totals(3, "0.000013"),
    groups: [
      { key: { agent: "bot-a", model: "gpt-4o-mini" }, totals: totals(2, "0.000009") },
      { key: { agent: "bot-b", model: null }, totals: totals(1, "0.000004") },
    ],
    truncated: true,
  }).split("\n");
  expect(table[0]).toMatch(/^AGENT\s+MODEL\s+REQUESTS\s+INPUT\s+OUTPUT\s+UNPRICED\s+COST USD$/);
  expect(table[1]).toMatch(/^bot-a\s+gpt-4o-mini\s+2\s+20\s+10\s+0\s+0\.000009$/);
  expect(table[2]).toMatch(/^bot-b\s+-\s+1/);
  expect(table[3]).toMatch(/^TOTAL\s+-\s+3/);
  expect(table[4]).toMatch(/raise --limit/);
  expect(
    renderUsage({ group_by: [], totals: totals(1, "0.1"), groups: [], truncated: false }).split("\n"),
  ).toHaveLength(2);
});

test("warden usage and warden budgets refuse bad flags with one line and the usage, exit 2", async () => {
  const err: string[] = [];
  const io = {
    env: { WARDEN_API_URL: "http://127.0.0.1:9", WARDEN_TOKEN: "t", WARDEN_HOME: "/nonexistent" },
    stdout: () => undefined,
    stderr: (line: string) => err.push(line),
  };
  expect(await runWarden(["usage", "--group-by", "planet"], io)).toBe(2);
  expect(err.at(-1)).toMatch(/^warden usage: --group-by takes .*\nusage: warden usage \[--tenant t\]/);
  expect(await runWarden(["usage", "--limit", "0"], io)).toBe(2);
  expect(await runWarden(["budgets", "set", "--tenant", "acme", "--limit-usd", "ten"], io)).toBe(2);
  expect(await runWarden(["budgets", "list", "--scope", "galaxy"], io)).toBe(2);
  expect(await runWarden(["budgets", "list", "--colour", "red"], io)).toBe(2);
  expect(err.join("\n")).not.toMatch(/\n\s+at /);
});
