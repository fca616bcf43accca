/**
 * Run lengths, from the environment so a quick look and a careful run use the same code:
 * BENCH_DURATION_S (each measured run, default 8), BENCH_WARMUP_S (default 3).
 */
function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

export const DURATION_S = seconds("BENCH_DURATION_S", 8);
export const WARMUP_S = seconds("BENCH_WARMUP_S", 3);
/** The fixed rates of the latency-vs-rate runs (requests per second). */
export const RATES = [500, 1_000, 2_000] as const;
