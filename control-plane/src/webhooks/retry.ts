/**
 * What happens after an attempt: pure, so the schedule is tested without a clock or a server.
 *
 * Retries back off exponentially with jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): the ceiling of attempt n is min(cap, base · 2^(n-1)); "full" jitter waits a uniformly
 * random time up to the ceiling (best at spreading a crowd of retries after a receiver's outage),
 * "equal" jitter waits half the ceiling plus a random half (never shorter than the previous ceiling,
 * so the waits grow strictly, which a test can observe).
 */
export type Jitter = "full" | "equal";

export interface RetryPolicy {
  baseMs: number;
  capMs: number;
  jitter: Jitter;
  /** Attempts of one delivery before it is given up (failed). */
  maxAttempts: number;
  /** Failed attempts in a row, across the subscription's deliveries, that disable it. */
  disableAfter: number;
}

/** The wait before attempt `attempt + 1`, after `attempt` attempts failed (attempt ≥ 1). */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt - 1, 40));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(policy.jitter === "full" ? ceiling * r : ceiling / 2 + (ceiling / 2) * r);
}

export type AttemptOutcome =
  { ok: true; status: number } | { ok: false; status: number | null; error: string };

export type NextStep =
  { delivery: "succeeded" } | { delivery: "retry"; delayMs: number } | { delivery: "failed" };

/**
 * After attempt number `attempt` of a delivery: succeeded, retried after a backoff, or given up
 * after the last allowed attempt. (Disabling a subscription that fails too often in a row is
 * counted in the database, where concurrent deliveries of one subscription add up correctly.)
 */
export function nextStep(
  policy: RetryPolicy,
  outcome: AttemptOutcome,
  attempt: number,
  random: () => number = Math.random,
): NextStep {
  if (outcome.ok) return { delivery: "succeeded" };
  if (attempt >= policy.maxAttempts) return { delivery: "failed" };
  return { delivery: "retry", delayMs: retryDelayMs(policy, attempt, random) };
}

/** A 2xx answer is success; anything else (3xx are never followed) is a failure. */
export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status < 300;
}
