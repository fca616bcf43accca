import { percentile, ratio, summarize } from "./stats.js";

describe("bench statistics", () => {
  test("nearest-rank percentiles: p50 of 1..100 is 50, p99 is 99, p99.9 is the maximum", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 99.9)).toBe(100);
  });

  test("a summary sorts its samples and rounds to microseconds", () => {
    expect(summarize([3, 1, 2.00049])).toEqual({
      count: 3,
      mean_ms: 2,
      p50_ms: 2,
      p90_ms: 3,
      p99_ms: 3,
      p999_ms: 3,
      max_ms: 3,
    });
  });

  test("no samples give NaN, never a made-up zero", () => {
    expect(summarize([]).p99_ms).toBeNaN();
  });

  test("a ratio against nothing is null", () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeNull();
    expect(ratio(undefined, 2)).toBeNull();
  });
});
