import { nextStep, retryDelayMs, type RetryPolicy } from "./retry.js";

const policy: RetryPolicy = {
  baseMs: 1_000,
  capMs: 60_000,
  jitter: "full",
  maxAttempts: 5,
  disableAfter: 10,
};
const failed = { ok: false as const, status: 500, error: "the receiver answered 500" };

test("full jitter waits up to a ceiling that doubles per attempt and stops at the cap", () => {
  expect([1, 2, 3, 4].map((n) => retryDelayMs(policy, n, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000]);
  expect(retryDelayMs(policy, 3, () => 0)).toBe(0);
  expect(retryDelayMs(policy, 3, () => 0.5)).toBe(2_000);
  expect(retryDelayMs(policy, 30, () => 1)).toBe(60_000);
  expect(retryDelayMs(policy, 10_000, () => 1)).toBe(60_000);
});

test("equal jitter never waits less than the previous attempt's ceiling, so waits grow", () => {
  const equal = { ...policy, jitter: "equal" as const };
  for (let n = 2; n <= 6; n++)
    expect(retryDelayMs(equal, n, () => 0)).toBe(retryDelayMs(equal, n - 1, () => 1));
  expect(retryDelayMs(equal, 1, () => 0)).toBe(500);
});

test("a 2xx succeeds, a failure is retried until the last attempt, then given up", () => {
  expect(nextStep(policy, { ok: true, status: 204 }, 3)).toEqual({ delivery: "succeeded" });
  expect(nextStep(policy, failed, 1, () => 1)).toEqual({ delivery: "retry", delayMs: 1_000 });
  expect(nextStep(policy, failed, 4, () => 1)).toEqual({ delivery: "retry", delayMs: 8_000 });
  expect(nextStep(policy, failed, 5)).toEqual({ delivery: "failed" });
});
