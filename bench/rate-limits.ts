/**
 * Shared rate limits under load (docs/rate-limits.md), printed, not saved:
 *
 *   node dist/bench/rate-limits.js [limitPerMinute=10000] [offered=11000]
 *
 * 1. accuracy: three sidecars (three Envoys, one authz-server and extproc-server, the real
 *    envoyproxy/ratelimit over Redis) share one limit; `offered` requests as fast as 48 in flight
 *    allow, starting at a minute's beginning; admitted per minute window vs the limit.
 * 2. noisy neighbour, same run: team B at 10 requests/s (under its limit) alone, then with team A
 *    offering 10× its own limit at the same time; B's p50/p99 in both phases and the ratio.
 */
import { stopAll } from "../test/harness/process.js";
import { RATE_LIMIT_POLICY, startOnRateLimitBackend, teamLimit } from "../test/harness/rate-limit.js";
import {
  admittedPerWindow,
  offer,
  percentile,
  startSidecars,
  windowWithRoom,
  type Outcome,
} from "../test/support/rate-limit-load.js";

const LIMIT = Number(process.argv[2] ?? 10_000);
const OFFERED = Number(process.argv[3] ?? 11_000);
const PHASE_S = 20;
const B_RPS = 10;
const A_LIMIT = 600;

function latency(outcomes: readonly Outcome[]): { p50: number; p99: number } {
  const ms = outcomes.filter((o) => o.status === 200).map((o) => o.latencyMs);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

async function main(): Promise<void> {
  const { backend, started: sidecars } = await startOnRateLimitBackend("bench-rate-limits", (started) =>
    startSidecars("bench-rate-limits", RATE_LIMIT_POLICY, started, 3),
  );
  try {
    const run = `${process.pid}-${Date.now() % 100_000}`;
    const shared = `shared-${run}`;
    const a = `tenant-a-${run}`;
    const b = `tenant-b-${run}`;
    await backend.setLimits([teamLimit(shared, LIMIT), teamLimit(a, A_LIMIT), teamLimit(b, 100_000)]);

    // Warm-up (connections, JIT) on team B, which has room to spare.
    await offer(sidecars.urls, b, 300, 12);

    await windowWithRoom(58);
    const started = Date.now();
    const outcomes = await offer(sidecars.urls, shared, OFFERED, 48);
    const seconds = (Date.now() - started) / 1000;
    const windows = admittedPerWindow(outcomes);
    const other = outcomes.filter((o) => o.status !== 200 && o.status !== 429).length;
    const [firstWindow, admitted] = [...windows.entries()][0]!;
    const offeredInFirst = outcomes.filter((o) => Math.floor(o.at / 60_000) === firstWindow).length;
    console.log(
      `accuracy: limit ${LIMIT}/min shared by 3 sidecars; offered ${OFFERED} in ${seconds.toFixed(1)} s ` +
        `(${Math.round((OFFERED / seconds) * 60)}/min); admitted per minute window: ${[...windows.values()].join(", ")}; ` +
        `first window: ${admitted} admitted of ${offeredInFirst} offered, error ${(((admitted - LIMIT) / LIMIT) * 100).toFixed(2)}%` +
        (offeredInFirst <= LIMIT
          ? " (fewer offered than the limit in that window: accuracy not measured)"
          : "") +
        `; answers other than 200/429: ${other}`,
    );

    const total = PHASE_S * B_RPS;
    const alone = await offer(sidecars.urls, b, total, 4, B_RPS);
    const [withNeighbour] = await Promise.all([
      offer(sidecars.urls, b, total, 4, B_RPS),
      // A at 10× its limit (600/min = 10/s): 100/s for the phase.
      offer(sidecars.urls, a, PHASE_S * 100, 16, 100),
    ]);
    const before = latency(alone);
    const after = latency(withNeighbour);
    console.log(
      `noisy neighbour: B alone p50 ${before.p50.toFixed(1)} ms p99 ${before.p99.toFixed(1)} ms; ` +
        `with A at 10x its limit p50 ${after.p50.toFixed(1)} ms p99 ${after.p99.toFixed(1)} ms; ` +
        `p99 ratio ${(after.p99 / before.p99).toFixed(2)}; B admitted ${withNeighbour.filter((o) => o.status === 200).length}/${total}`,
    );
  } finally {
    await sidecars.stop();
    await backend.stop();
    await stopAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
