import { summarize, type LatencySummary } from "./stats.js";

/**
 * One load-generator run, and several runs pooled: on a shared machine the suites measure each
 * system in rounds that alternate between systems, then compute the percentiles over all rounds'
 * requests together, so a burst of other work lands on every system alike. Pure.
 */
export interface LoadResult {
  requests: number;
  errors: number;
  achieved_rps: number;
  latency: LatencySummary;
  statuses: Record<string, number>;
  /** Latency of every successful request (ms); kept in memory, never written to the results. */
  samplesMs: number[];
  durationS: number;
}

export function pooled(runs: readonly LoadResult[]): LoadResult {
  const samplesMs = runs.flatMap((r) => r.samplesMs);
  const statuses: Record<string, number> = {};
  for (const run of runs) {
    for (const [status, count] of Object.entries(run.statuses))
      statuses[status] = (statuses[status] ?? 0) + count;
  }
  const requests = runs.reduce((sum, r) => sum + r.requests, 0);
  const durationS = runs.reduce((sum, r) => sum + r.durationS, 0);
  return {
    requests,
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    achieved_rps: durationS === 0 ? 0 : Math.round(requests / durationS),
    latency: summarize(samplesMs),
    statuses,
    samplesMs,
    durationS,
  };
}
