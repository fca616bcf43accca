import { percentile as harnessPercentile } from "../../test/harness/stats.js";

/** Latency statistics the suites report, all in milliseconds. Pure. */
export interface LatencySummary {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : harnessPercentile(sorted, p);
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function summarize(samplesMs: readonly number[]): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    count: sorted.length,
    mean_ms: round3(sorted.length === 0 ? Number.NaN : sum / sorted.length),
    p50_ms: round3(percentile(sorted, 50)),
    p90_ms: round3(percentile(sorted, 90)),
    p99_ms: round3(percentile(sorted, 99)),
    p999_ms: round3(percentile(sorted, 99.9)),
    max_ms: round3(sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!),
  };
}

/** a / b to two decimals, or null when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return null;
  return Math.round((a / b) * 100) / 100;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
