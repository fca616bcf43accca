import { niceCeiling, pointsOf, renderLineChart, type ChartSpec } from "./chart.js";
import { flat } from "./flat-markup.js";

const spec = (over: Partial<ChartSpec> = {}): ChartSpec => ({
  id: "cost",
  title: "Cost per day",
  description: "Dollars per day",
  xLabels: ["2026-12-01", "2026-12-02", "2026-12-03"],
  series: [
    { name: "All", values: [1, 4, 2] },
    { name: "spiffe://warden.local/agent/<script>", values: [0.5, 1, 0] },
  ],
  format: (v) => `$${v.toFixed(2)}`,
  ...over,
});

describe("server-rendered charts", () => {
  it("are labelled images with a title and a description screen readers announce", () => {
    const out = flat(renderLineChart(spec()));
    expect(out).toMatch(/<svg [^>]*role="img" aria-labelledby="cost-title cost-desc"/);
    expect(out).toContain('<title id="cost-title">Cost per day</title>');
    expect(out).toContain('<desc id="cost-desc">Dollars per day</desc>');
  });

  it("come with the same numbers as a table, one row per day and one column per series", () => {
    const out = flat(renderLineChart(spec()));
    const table = out.slice(out.indexOf("<table"));
    expect(table).toContain(
      '<th scope="row">2026-12-02</th><td class="num">$4.00</td><td class="num">$1.00</td>',
    );
    expect(table.match(/<tr>/g)).toHaveLength(4);
  });

  it("escape series names (agent names come from registrations)", () => {
    const out = flat(renderLineChart(spec()));
    expect(out).not.toContain("<script>");
    expect(out).toContain("agent/&lt;script&gt;");
  });

  it("use no inline style or script, only classes (the CSP forbids both)", () => {
    const out = flat(renderLineChart(spec()));
    expect(out).not.toMatch(/style=|<style|<script|on[a-z]+=/);
    expect(out).toContain('class="chart-series chart-series-1"');
  });

  it("scale the highest value to a round axis maximum and plot zero at the bottom", () => {
    expect(niceCeiling(4)).toBe(5);
    expect(niceCeiling(0.37)).toBe(0.5);
    expect(niceCeiling(100)).toBe(100);
    expect(niceCeiling(0)).toBe(1);
    const [first, , last] = pointsOf([5, 0, 0], 3, 5);
    expect(first![1]).toBe(16); // top padding
    expect(last![1]).toBe(200); // bottom of the plot
    expect(last![0]).toBeGreaterThan(first![0]);
  });

  it("draw an empty range without dividing by zero", () => {
    const out = flat(
      renderLineChart(spec({ xLabels: ["2026-12-01"], series: [{ name: "All", values: [0] }] })),
    );
    expect(out).not.toContain("NaN");
    expect(out).not.toContain("Infinity");
  });
});
