import {
  RATE_LIMIT_POLICY,
  startOnRateLimitBackend,
  teamLimit,
  type RateLimitBackend,
} from "../harness/rate-limit.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import {
  admittedPerWindow,
  offer,
  percentile,
  startSidecars,
  windowWithRoom,
  type Sidecars,
} from "../support/rate-limit-load.js";

/**
 * One limit shared by three sidecars (three Envoys, one real rate-limit service and Redis): the
 * count admitted in a minute is the limit, whichever sidecar the requests go through. Looser bounds
 * and smaller numbers than bench/rate-limits.ts (which measures 10,000 requests/min), so it runs in
 * seconds on a loaded machine; a sidecar that counted on its own would admit 3× the limit.
 */
let backend: RateLimitBackend;
let sidecars: Sidecars;

beforeAll(async () => {
  ({ backend, started: sidecars } = await startOnRateLimitBackend("rate-limits-accuracy", (started) =>
    startSidecars("rate-limits-accuracy", RATE_LIMIT_POLICY, started, 3),
  ));
}, 180_000);

afterAll(async () => {
  await sidecars?.stop();
  await backend?.stop();
}, TEARDOWN_TIMEOUT_MS);

test("three sidecars sharing a 300/min limit admit 300 (±10%) of 450 requests in the minute", async () => {
  const team = `accuracy-${process.pid}-${Date.now() % 100_000}`;
  await backend.setLimits([teamLimit(team, 300)]);
  await windowWithRoom(40);
  const outcomes = await offer(sidecars.urls, team, 450, 12);
  const windows = [...admittedPerWindow(outcomes).values()];
  process.stdout.write(
    `[rate-limits-accuracy] admitted per minute window: ${windows.join(", ")} (limit 300)\n`,
  );
  expect(windows).toHaveLength(1);
  expect(windows[0]!).toBeGreaterThanOrEqual(270);
  expect(windows[0]!).toBeLessThanOrEqual(330);
  expect(outcomes.filter((o) => o.status !== 200 && o.status !== 429)).toEqual([]);
}, 120_000);

test("a neighbour at 10× its limit leaves another team's requests admitted, each refused one a 429", async () => {
  const noisy = `noisy-${process.pid}-${Date.now() % 100_000}`;
  const quiet = `quiet-${process.pid}-${Date.now() % 100_000}`;
  await backend.setLimits([teamLimit(noisy, 30), teamLimit(quiet, 300)]);
  await windowWithRoom(40);
  const [noisyOutcomes, quietOutcomes] = await Promise.all([
    offer(sidecars.urls, noisy, 300, 8),
    offer(sidecars.urls, quiet, 90, 2, 10),
  ]);
  const admitted = (outcomes: typeof noisyOutcomes) => outcomes.filter((o) => o.status === 200).length;
  process.stdout.write(
    `[rate-limits-accuracy] noisy admitted ${admitted(noisyOutcomes)}/300 (limit 30); quiet admitted ${admitted(quietOutcomes)}/90, p99 ${percentile(
      quietOutcomes.map((o) => o.latencyMs),
      99,
    ).toFixed(1)} ms\n`,
  );
  expect(admitted(noisyOutcomes)).toBeLessThanOrEqual(33);
  expect(admitted(quietOutcomes)).toBe(90);
}, 120_000);
