import { DEFAULT_RETRY_POLICY, retryDelayMs } from "./retry.js";

const top = () => 0.999_999;

test("backoff doubles from the initial delay up to the maximum, with full jitter", () => {
  const policy = { ...DEFAULT_RETRY_POLICY, maxRetries: 8 };
  const ceilings = [1, 2, 3, 4, 5, 6].map((retry) => retryDelayMs(policy, retry, null, top));
  expect(ceilings).toEqual([200, 400, 800, 1600, 3200, 5000]);
  expect(retryDelayMs(policy, 3, null, () => 0)).toBe(0);
});

test("Retry-After is honoured exactly; one longer than the limit is not waited for", () => {
  expect(retryDelayMs(DEFAULT_RETRY_POLICY, 1, 7)).toBe(7_000);
  expect(retryDelayMs(DEFAULT_RETRY_POLICY, 1, 31)).toBeNull();
});

test("no retry after the last one", () => {
  expect(retryDelayMs(DEFAULT_RETRY_POLICY, DEFAULT_RETRY_POLICY.maxRetries + 1, null)).toBeNull();
  expect(retryDelayMs({ ...DEFAULT_RETRY_POLICY, maxRetries: 0 }, 1, 1)).toBeNull();
});
