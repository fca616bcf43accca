import type { SuiteRun } from "../results.js";
import { realPathTables } from "./tables.js";

const latency = (p50: number, p99: number, p999: number) => ({ p50_ms: p50, p99_ms: p99, p999_ms: p999 });

const run = {
  suite: "realpath",
  started_at: "2026-12-07T23:36:00.000Z",
  finished_at: "2026-12-07T23:40:00.000Z",
  machine: {},
  settings: { rates: [500] },
  results: [
    { system: "sidecar", mode: "rate", target_rps: 500, achieved_rps: 480, latency: latency(4, 9, 12) },
    { system: "envoy-only", mode: "rate", target_rps: 500, achieved_rps: 500, latency: latency(0.5, 2, 3) },
    { system: "sidecar", mode: "usage", answered_200: 100, usage_rows: 100, delegated_rows: 100 },
    {
      system: "sidecar",
      mode: "envoy-timing",
      histogram: "cluster.warden_authz.upstream_rq_time",
      count: 100,
      p50_ms: 2,
      p99_ms: 6,
      p999_ms: 8,
    },
  ],
  headline: {
    added_p50_ms_500: 3.5,
    added_p99_ms_500: 7,
    added_p999_ms_500: 9,
    sat_rps_sidecar: 600,
    sat_rps_envoy: 3000,
    sat_vs_envoy: 0.2,
    added_p99_500_target_met: false,
    sat_target_met: false,
  },
} as unknown as SuiteRun;

describe("the real path's tables", () => {
  const text = realPathTables(run);

  test("each rate shows both systems and what the sidecar adds", () => {
    expect(text).toContain(
      "| 500 | 480 / 4.00 / 9.00 / 12.0 | 500 / 0.500 / 2.00 / 3.00 | 3.50 / 7.00 / 9.00 |",
    );
  });

  test("saturation, usage rows, Envoy's timings and both targets are reported", () => {
    expect(text).toContain("sidecar 600 rps, Envoy alone 3000 rps: **0.2×**");
    expect(text).toContain("Usage rows written: 100 for 100 answered calls");
    expect(text).toContain("| cluster.warden_authz.upstream_rq_time | 100 | 2.00 | 6.00 | 8.00 |");
    expect(text).toContain(
      "added p99 ≤ 5 ms at 500 rps: **missed**; saturation ≥ 0.3× Envoy alone: **missed**",
    );
  });
});
