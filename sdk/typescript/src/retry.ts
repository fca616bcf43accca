/**
 * Retries with exponential backoff and full jitter on 503 and 429 (and on connection failures of a
 * request that never reached the server), honouring Retry-After. Pure: the clock and sleep are given.
 */
export interface RetryPolicy {
  /** retries after the first attempt (0 disables retrying) */
  maxRetries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** a Retry-After longer than this is not waited for: the error goes to the caller */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 3,
  initialDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
};

export const RETRIED_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/**
 * The wait before retry number `retry` (1-based): Retry-After when the server gave one, else
 * random(0, min(maxDelay, initial·2^(retry-1))). Null when the caller should not retry.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  retry: number,
  retryAfterS: number | null,
  random: () => number = Math.random,
): number | null {
  if (retry > policy.maxRetries) return null;
  if (retryAfterS !== null) {
    const ms = retryAfterS * 1000;
    return ms > policy.maxRetryAfterMs ? null : ms;
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (retry - 1));
  return Math.round(random() * ceiling);
}
