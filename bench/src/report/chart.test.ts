import { latencyChartSvg } from "./chart.js";

describe("latency chart", () => {
  const svg = latencyChartSvg("Check latency <authz>", [
    {
      name: "authz-server",
      points: [
        { rate: 500, p50: 1, p99: 5, achieved: 500 },
        { rate: 1000, p50: 2, p99: 9, achieved: 998 },
      ],
    },
    { name: "opa-envoy-plugin", points: [{ rate: 500, p50: 200, p99: 400, achieved: 240 }] },
  ]);

  test("one line per system and percentile, titles escaped, a log axis covering every value", () => {
    expect(svg.match(/<path /g)).toHaveLength(4);
    expect(svg).toContain("Check latency &lt;authz&gt;");
    expect(svg).toContain(">1000</text>");
    expect(svg).toContain(">1</text>");
  });

  test("a point where the system fell behind the offered rate is hollow", () => {
    const hollow = svg.match(/<circle[^>]*fill="white"\/>/g) ?? [];
    // opa-envoy-plugin's p50 and p99 at 500 rps, plus the legend's example.
    expect(hollow).toHaveLength(3);
  });
});
