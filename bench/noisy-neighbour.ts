/**
 * Noisy neighbour through shared rate limits (docs/rate-limits.md#measured), printed, not saved:
 *
 *   node dist/bench/noisy-neighbour.js [rounds=4] [phaseSeconds=10]
 *
 * Three sidecars (three Envoys, one authz-server and extproc-server, the real envoyproxy/ratelimit
 * over Redis). B sends 10 requests/s, under its limit, throughout; A is a neighbour limited to
 * 600/min (10/s) that floods at 100/s (10× its limit) in every other phase. Phases alternate
 * (B alone, B with A's flood, …) for `rounds` rounds, so a drift of the shared machine's load hits
 * both sides alike; B's p50/p99 are pooled per side, and the p99 ratio is printed per round and
 * pooled, with the machine's load average at start and end.
 *
 * A and B are two subjects of one tenant's descriptor tree (team limits of requests without a
 * registered agent): this bench runs without SPIRE, so no request carries a registered agent's
 * tenant. The service keeps one counter per descriptor either way, and the path a request takes
 * (ext_authz, two rate-limit stages, the same Redis) is the same for a tenant limit.
 */
import { loadavg } from "node:os";
import { stopAll } from "../test/harness/process.js";
import { RATE_LIMIT_POLICY, startOnRateLimitBackend, teamLimit } from "../test/harness/rate-limit.js";
import { offer, percentile, startSidecars, type Outcome } from "../test/support/rate-limit-load.js";

const ROUNDS = Number(process.argv[2] ?? 4);
const PHASE_S = Number(process.argv[3] ?? 10);
const B_RPS = 10;
const A_LIMIT_PER_MINUTE = 600;
const A_RPS = (A_LIMIT_PER_MINUTE / 60) * 10;

const admittedMs = (outcomes: readonly Outcome[]) =>
  outcomes.filter((o) => o.status === 200).map((o) => o.latencyMs);
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

async function main(): Promise<void> {
  const { backend, started: sidecars } = await startOnRateLimitBackend("bench-noisy-neighbour", (started) =>
    startSidecars("bench-noisy-neighbour", RATE_LIMIT_POLICY, started, 3),
  );
  try {
    const run = `${process.pid}-${Date.now() % 100_000}`;
    const a = `neighbour-a-${run}`;
    const b = `tenant-b-${run}`;
    await backend.setLimits([teamLimit(a, A_LIMIT_PER_MINUTE), teamLimit(b, 100_000)]);
    console.log(`load average at start: ${load()}`);
    // Warm-up (connections, JIT) for both.
    await Promise.all([offer(sidecars.urls, b, 200, 8), offer(sidecars.urls, a, 200, 8)]);

    const alone: number[] = [];
    const flooded: number[] = [];
    let refusedA = 0;
    let offeredA = 0;
    let bNotAdmitted = 0;
    const perB = PHASE_S * B_RPS;
    for (let round = 1; round <= ROUNDS; round++) {
      const quiet = await offer(sidecars.urls, b, perB, 4, B_RPS);
      const [noisy, flood] = await Promise.all([
        offer(sidecars.urls, b, perB, 4, B_RPS),
        offer(sidecars.urls, a, PHASE_S * A_RPS, 24, A_RPS),
      ]);
      bNotAdmitted += perB * 2 - admittedMs(quiet).length - admittedMs(noisy).length;
      offeredA += flood.length;
      refusedA += flood.filter((o) => o.status === 429).length;
      alone.push(...admittedMs(quiet));
      flooded.push(...admittedMs(noisy));
      const [q, n] = [percentile(admittedMs(quiet), 99), percentile(admittedMs(noisy), 99)];
      console.log(
        `round ${round}: B p99 alone ${fmt(q)}, with A's flood ${fmt(n)} (ratio ${(n / q).toFixed(2)})`,
      );
    }
    const [p50a, p99a, p50f, p99f] = [
      percentile(alone, 50),
      percentile(alone, 99),
      percentile(flooded, 50),
      percentile(flooded, 99),
    ];
    console.log(
      `noisy neighbour (${ROUNDS} rounds of ${PHASE_S} s per side, B at ${B_RPS}/s, A at ${A_RPS}/s against ${A_LIMIT_PER_MINUTE}/min): ` +
        `B alone p50 ${fmt(p50a)} p99 ${fmt(p99a)}; with A's flood p50 ${fmt(p50f)} p99 ${fmt(p99f)}; ` +
        `p99 moved ${(((p99f - p99a) / p99a) * 100).toFixed(1)}%; B not admitted: ${bNotAdmitted}; ` +
        `A refused ${refusedA} of ${offeredA}`,
    );
    console.log(`load average at end: ${load()}`);
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
