import { performance } from "node:perf_hooks";
import type { LoadResult } from "./rounds.js";
import { summarize } from "./stats.js";

/**
 * An open-loop load generator in Node for targets the Go/C tools cannot drive (an MCP session over
 * mTLS with an agent's SVID): request i is due at start + i/rps whatever the earlier ones are
 * doing, and its latency counts from when it was due, not from when it left, so a slow answer
 * delays nobody's clock (no coordinated omission). `send` answers the HTTP status (any non-2xx is
 * an error) or throws (an error too).
 */
export interface OpenLoopRun {
  rps: number;
  durationS: number;
  send(): Promise<number>;
}

export async function runOpenLoop(options: OpenLoopRun): Promise<LoadResult> {
  const total = Math.max(1, Math.round(options.rps * options.durationS));
  const intervalMs = 1_000 / options.rps;
  const samplesMs: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      options.send().then(
        (status) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status >= 200 && status < 300) samplesMs.push(performance.now() - due);
          else errors += 1;
        },
        () => {
          statuses.error = (statuses.error ?? 0) + 1;
          errors += 1;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const durationS = (performance.now() - start) / 1_000;
  return {
    requests: total,
    errors,
    achieved_rps: Math.round(total / durationS),
    latency: summarize(samplesMs),
    statuses,
    samplesMs,
    durationS,
  };
}
