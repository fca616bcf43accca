import { pooled, type LoadResult } from "./rounds.js";
import { summarize } from "./stats.js";

const run = (samplesMs: number[], durationS: number, errors = 0): LoadResult => ({
  requests: samplesMs.length + errors,
  errors,
  achieved_rps: Math.round((samplesMs.length + errors) / durationS),
  latency: summarize(samplesMs),
  statuses: { "200": samplesMs.length },
  samplesMs,
  durationS,
});

describe("rounds pooled", () => {
  test("percentiles over every request of every round, throughput over the total time", () => {
    const result = pooled([run([1, 2, 3], 1), run([10, 20, 30, 40, 50], 2, 1)]);
    expect(result.latency.count).toBe(8);
    expect(result.latency.max_ms).toBe(50);
    expect(result.latency.p50_ms).toBe(10);
    expect(result.achieved_rps).toBe(3);
    expect(result.errors).toBe(1);
    expect(result.statuses).toEqual({ "200": 8 });
  });
});
