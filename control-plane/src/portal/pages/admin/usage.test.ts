import type { UsageReport, UsageTotals } from "../../../usage/query.js";
import {
  dailyCost,
  dollars,
  daysOf,
  parseUsageSelection,
  renderUsage,
  renderUsageFilter,
  type UsageData,
} from "./usage.js";
import { flat } from "./flat-markup.js";

const NOW = new Date("2026-12-08T02:00:00Z");

function totals(cost: string, requests = 1): UsageTotals {
  return {
    requests,
    completed_requests: requests,
    incomplete_requests: 0,
    not_forwarded_requests: 0,
    unpriced_requests: 0,
    input_tokens: 10,
    cached_input_tokens: 0,
    cache_write_tokens: 0,
    output_tokens: 5,
    cost_usd: cost,
    cost_pico_usd: "0",
  };
}

const report = (groups: [Record<string, string>, string][], truncated = false): UsageReport => ({
  group_by: [],
  totals: totals("3.50", 3),
  groups: groups.map(([key, cost]) => ({ key, totals: totals(cost) })),
  truncated,
});

describe("usage page filter", () => {
  it("defaults to the last 30 days per agent, today included", () => {
    const parsed = parseUsageSelection({}, NOW);
    expect(parsed.ok && parsed.value).toEqual({
      by: "agent",
      from: new Date("2026-11-09T00:00:00Z"),
      to: new Date("2026-12-09T00:00:00Z"),
      tenant: undefined,
    });
  });

  it("reads per user or team and a day range, the last day counting whole", () => {
    const parsed = parseUsageSelection(
      { by: "team", from: "2026-12-01", to: "2026-12-03", tenant: "acme" },
      NOW,
    );
    expect(parsed.ok && parsed.value).toEqual({
      by: "team",
      from: new Date("2026-12-01T00:00:00Z"),
      to: new Date("2026-12-04T00:00:00Z"),
      tenant: "acme",
    });
  });

  it("names the field that is wrong", () => {
    const parsed = parseUsageSelection({ by: "model", from: "2026-13-01", tenant: "Not A Tenant" }, NOW);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.errors.map((e) => e.field).sort()).toEqual(["by", "from", "tenant"]);
  });

  it("refuses a reversed or too long range", () => {
    const reversed = parseUsageSelection({ from: "2026-12-05", to: "2026-12-01" }, NOW);
    expect(!reversed.ok && reversed.errors[0]).toEqual({
      field: "from",
      message: "must not be after the last day",
    });
    const long = parseUsageSelection({ from: "2026-01-01", to: "2026-12-01" }, NOW);
    expect(!long.ok && long.errors[0]?.message).toMatch(/at most 92 days/);
  });

  it("shows the error next to its field, linked for screen readers", () => {
    const out = flat(
      renderUsageFilter({ from: "x" }, [{ field: "from", message: "must be a date (YYYY-MM-DD)" }]),
    );
    expect(out).toContain('aria-describedby="usage-from-error"');
    expect(out).toContain('id="usage-from-error">From must be a date');
    expect(out).toContain('value="x"');
  });
});

describe("usage page", () => {
  const selection = {
    by: "agent" as const,
    from: new Date("2026-12-01T00:00:00Z"),
    to: new Date("2026-12-04T00:00:00Z"),
  };

  it("fills days without usage with zero", () => {
    const days = daysOf(selection);
    expect(days).toEqual(["2026-12-01", "2026-12-02", "2026-12-03"]);
    expect(dailyCost(report([[{ day: "2026-12-02" }, "1.25"]]), days)).toEqual([0, 1.25, 0]);
  });

  it("charts the total and the top spenders and lists the spenders with exact costs", () => {
    const data: UsageData = {
      selection,
      total: report([
        [{ day: "2026-12-01" }, "2.00"],
        [{ day: "2026-12-03" }, "1.50"],
      ]),
      top: report([[{ agent: "spiffe://warden.local/agent/a" }, "3.000001"]], true),
      leaders: [{ key: "spiffe://warden.local/agent/a", daily: report([[{ day: "2026-12-01" }, "2.00"]]) }],
    };
    const out = flat(renderUsage(data));
    expect(out).toContain("2026-12-01 to 2026-12-03");
    expect(out).toContain("<dt>Cost</dt><dd>$3.50</dd>");
    expect(out).toContain('<td class="num">3.000001</td>');
    expect(out).toContain("Only the top 1 are listed.");
    expect(out).toContain('<th scope="col">spiffe://warden.local/agent/a</th>');
  });

  it("reads small costs to two significant digits, and dollars to the cent", () => {
    expect([0, 0.0077205, 0.005, 0.125, 3.456].map(dollars)).toEqual([
      "$0",
      "$0.0077",
      "$0.005",
      "$0.13",
      "$3.46",
    ]);
  });

  it("says so when nothing was used", () => {
    const out = flat(renderUsage({ selection, total: report([]), top: report([]), leaders: [] }));
    expect(out).toContain("No usage in this range.");
  });
});
