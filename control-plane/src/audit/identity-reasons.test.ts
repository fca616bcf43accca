import { readFileSync } from "node:fs";
import { AUTHENTICATION_FAILURES, IDENTITY_FAILURES } from "./identity-reasons.js";

/** sdk/reasons.json: the one reason table (status and error family) of the agents' SDKs. */
const reasons = (
  JSON.parse(readFileSync(new URL("../../../sdk/reasons.json", import.meta.url), "utf8")) as {
    reasons: Record<string, { status: number }>;
  }
).reasons;
const unauthenticated = Object.entries(reasons)
  .filter(([, entry]) => entry.status === 401)
  .map(([reason]) => reason);

test("every 401 reason an agent can get is an authentication failure for the SIEM", () => {
  expect(unauthenticated.length).toBeGreaterThan(5);
  expect(unauthenticated.filter((reason) => !AUTHENTICATION_FAILURES.has(reason))).toEqual([]);
});

test("every 401 reason of the data plane fires the identity-failure webhook event", () => {
  const apiOnly = new Set(["unauthenticated"]);
  const missing = unauthenticated.filter((reason) => !apiOnly.has(reason) && !IDENTITY_FAILURES.has(reason));
  expect(missing).toEqual([]);
});

test("a refusal that is not about identity is neither", () => {
  for (const reason of ["policy_denied", "budget_exceeded", "rate_limited"]) {
    expect(AUTHENTICATION_FAILURES.has(reason)).toBe(false);
    expect(IDENTITY_FAILURES.has(reason)).toBe(false);
  }
});
