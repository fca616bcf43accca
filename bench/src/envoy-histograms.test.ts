import {
  bucketQuantiles,
  parseDetailedHistograms,
  windowBuckets,
  windowQuantiles,
} from "./envoy-histograms.js";

const detailed = (name: string, totals: { lower_bound: number; width: number; count: number }[]) => ({
  stats: [{ name: "other", value: 0 }, { histograms: { details: [{ name, totals, intervals: [] }] } }],
});

describe("Envoy's histograms over a measured window", () => {
  it("keeps only what was recorded between the two snapshots", () => {
    const before = [{ lower_bound: 1, width: 1, count: 50 }];
    const after = [
      { lower_bound: 1, width: 1, count: 60 },
      { lower_bound: 9, width: 1, count: 10 },
    ];
    expect(windowBuckets(before, after)).toEqual([
      { lower_bound: 1, width: 1, count: 10 },
      { lower_bound: 9, width: 1, count: 10 },
    ]);
  });

  it("reads quantiles at the bucket's upper edge, none from an empty window", () => {
    const buckets = [
      { lower_bound: 0, width: 1, count: 98 },
      { lower_bound: 20, width: 1, count: 2 },
    ];
    expect(bucketQuantiles(buckets)).toEqual({ count: 100, p50_ms: 1, p99_ms: 21, p999_ms: 21 });
    expect(bucketQuantiles([])).toEqual({ count: 0, p50_ms: null, p99_ms: null, p999_ms: null });
  });

  it("parses the admin answer and compares snapshots per histogram", () => {
    const name = "cluster.authz.upstream_rq_time";
    const before = parseDetailedHistograms(detailed(name, [{ lower_bound: 2, width: 1, count: 5 }]));
    const after = parseDetailedHistograms(detailed(name, [{ lower_bound: 2, width: 1, count: 9 }]));
    expect(windowQuantiles(before, after)[name]).toEqual({ count: 4, p50_ms: 3, p99_ms: 3, p999_ms: 3 });
  });
});
