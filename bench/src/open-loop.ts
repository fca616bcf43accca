import type { LoadResult } from "./rounds.js";
import { summarize, type LatencySummary } from "./stats.js";

/**
 * An open-loop load generator: request i is due at `start + i / rate`, whether or not earlier ones
 * have answered (a slow system faces the same arrivals, as it would in production), and its latency
 * is measured from when it was DUE, not from when it was sent. A stall in the system under test (or
 * in this generator) therefore shows up in every request that should have gone out during it: the
 * coordinated-omission correction that closed-loop tools (ghz's workers, h2load's connections) lack.
 *
 * `send` does one request and resolves when its answer is complete; it rejects on an error.
 */
export interface OpenLoopOptions {
  rate: number;
  durationS: number;
  send: (index: number) => Promise<void>;
  /** Requests still in flight past this are counted as errors and the run ends (default 10 s). */
  drainMs?: number;
}

export interface OpenLoopResult {
  target_rps: number;
  achieved_rps: number;
  requests: number;
  errors: number;
  /** Latency from the scheduled time to the answer (coordinated omission corrected). */
  latency: LatencySummary;
  /** How late the generator itself sent requests (its own scheduling delay): p99 in ms. */
  send_lag_p99_ms: number;
  /** Raw corrected samples in ms, for pooling rounds. */
  samples: number[];
}

const now = (): number => performance.now();

export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { rate, durationS, send } = options;
  const total = Math.max(1, Math.round(rate * durationS));
  const intervalMs = 1000 / rate;
  const samples: number[] = [];
  const lags: number[] = [];
  let errors = 0;
  let inFlight = 0;
  let next = 0;
  let lastDone = 0;
  const start = now() + 5;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const fire = (index: number, due: number): void => {
    inFlight += 1;
    lags.push(now() - due);
    send(index).then(
      () => {
        const end = now();
        samples.push(end - due);
        lastDone = end;
        finished();
      },
      () => {
        errors += 1;
        lastDone = now();
        finished();
      },
    );
  };
  const finished = (): void => {
    inFlight -= 1;
    if (next >= total && inFlight === 0) resolveDone();
  };
  const tick = (): void => {
    const t = now();
    while (next < total && start + next * intervalMs <= t) {
      fire(next, start + next * intervalMs);
      next += 1;
    }
    if (next < total) {
      const wait = start + next * intervalMs - now();
      // setTimeout has ~1 ms granularity; a due request never waits for more than the next tick.
      if (wait > 1) setTimeout(tick, Math.floor(wait));
      else setImmediate(tick);
    } else if (inFlight === 0) resolveDone();
  };
  setTimeout(tick, 5);
  const drain = new Promise<void>((resolve) =>
    setTimeout(resolve, durationS * 1000 + (options.drainMs ?? 10_000)).unref(),
  );
  await Promise.race([done, drain]);
  errors += inFlight;
  const elapsedS = Math.max(1e-3, ((lastDone || now()) - start) / 1000);
  lags.sort((a, b) => a - b);
  return {
    target_rps: rate,
    achieved_rps: Math.round(samples.length / Math.max(elapsedS, durationS)),
    requests: samples.length,
    errors,
    latency: summarize(samples),
    send_lag_p99_ms: Math.round((lags[Math.floor(lags.length * 0.99)] ?? 0) * 1000) / 1000,
    samples,
  };
}

/** Several rounds' samples as one distribution (the suites alternate systems round by round). */
export function pooledOpenLoop(results: readonly OpenLoopResult[]): OpenLoopResult {
  const samples = results.flatMap((r) => r.samples);
  const requests = results.reduce((n, r) => n + r.requests, 0);
  return {
    target_rps: results[0]?.target_rps ?? 0,
    achieved_rps: Math.round(results.reduce((n, r) => n + r.achieved_rps, 0) / Math.max(1, results.length)),
    requests,
    errors: results.reduce((n, r) => n + r.errors, 0),
    latency: summarize(samples),
    send_lag_p99_ms: Math.max(0, ...results.map((r) => r.send_lag_p99_ms)),
    samples,
  };
}

/** A request that answers its HTTP status: any non-2xx counts as an error, per status. */
export interface OpenLoopRun {
  rps: number;
  durationS: number;
  send(): Promise<number>;
}

/** openLoop in the shape the round-based suites pool (rounds.ts LoadResult), with statuses counted. */
export async function runOpenLoop(options: OpenLoopRun): Promise<LoadResult> {
  const statuses: Record<string, number> = {};
  const started = now();
  const result = await openLoop({
    rate: options.rps,
    durationS: options.durationS,
    send: async () => {
      let status: number;
      try {
        status = await options.send();
      } catch (error) {
        statuses.error = (statuses.error ?? 0) + 1;
        throw error;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status < 200 || status >= 300) throw new Error(`HTTP ${status}`);
    },
  });
  return {
    requests: result.requests + result.errors,
    errors: result.errors,
    achieved_rps: result.achieved_rps,
    latency: result.latency,
    statuses,
    samplesMs: result.samples,
    durationS: (now() - started) / 1_000,
  };
}
