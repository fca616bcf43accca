/** Latency figures for tests and reports: nearest-rank percentiles, in the unit of the samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error("percentile of no samples");
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** p50/p99/max rounded to 0.1 (ms, when the samples are ms). */
export function latencySummary(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    samples: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1]!),
  };
}

/**
 * The bound timing assertions in integration tests use for "pushed, not polled": revocations reaching
 * the data plane over LISTEN/NOTIFY, policy swaps, budgets, token refreshes. The product's targets
 * (e.g. revocation p99 < 1 s) are measured by `npm run bench` and printed by the tests; the tests
 * assert a bound that still holds on a 2-core machine under a CPU hog (`stress-ng --cpu 2`), yet fails
 * when the push path is broken, because every fallback is slower: the registry and revocation resyncs
 * run every 60 s, the JWKS refresh every 30 s.
 */
export const PUSH_PATH_BOUND_MS = 5_000;
