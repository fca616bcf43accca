import { performance } from "node:perf_hooks";
import { sleep } from "../harness/process.js";

export interface Refusal<Outcome> {
  /** The first outcome that was not allowed. */
  refusal: Outcome;
  /** From the start of polling to that outcome. */
  delayMs: number;
  /** Calls made, the refused one included. */
  polls: number;
}

/**
 * How a revocation reaches enforcement, as a busy agent sees it: calls `call` until `allowed` says no,
 * `pauseMs` apart, timed from now (start right after the revocation); throws when `limitMs` pass first.
 */
export async function pollUntilRefused<Outcome>(
  what: string,
  call: () => Promise<Outcome>,
  allowed: (outcome: Outcome) => boolean,
  options: { pauseMs: number; limitMs: number },
): Promise<Refusal<Outcome>> {
  const startedAt = performance.now();
  let polls = 0;
  for (;;) {
    const outcome = await call();
    polls += 1;
    if (!allowed(outcome)) return { refusal: outcome, delayMs: performance.now() - startedAt, polls };
    if (performance.now() - startedAt > options.limitMs) {
      throw new Error(`${what}: not enforced within ${options.limitMs / 1000} s`);
    }
    if (options.pauseMs > 0) await sleep(options.pauseMs);
  }
}
