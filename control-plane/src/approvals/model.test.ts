import type { Principal } from "../http/auth.js";
import { ApiError } from "../http/errors.js";
import { checkDecider, effectiveState, notDecidable } from "./model.js";

const NOW = new Date("2026-12-07T12:00:00Z");
const LATER = new Date("2026-12-07T12:05:00Z");
const EARLIER = new Date("2026-12-07T11:55:00Z");
const principal = (
  subject: string,
  roles: Principal["roles"] extends ReadonlySet<infer R> ? R[] : never,
  tenant: string | null,
): Principal => ({
  subject,
  roles: new Set(roles),
  tenant,
});
const row = { tenant: "acme", user_id: "ursula" };

function refusal(run: () => void): { code: string; status: number; message: string } | null {
  try {
    run();
    return null;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { code: error.code, status: error.status, message: error.message };
  }
}

test("an open request past its expiry shows as expired; decided and used ones keep their state", () => {
  expect(effectiveState({ state: "pending", expires_at: LATER }, NOW)).toBe("pending");
  expect(effectiveState({ state: "pending", expires_at: EARLIER }, NOW)).toBe("expired");
  expect(effectiveState({ state: "approved", expires_at: NOW }, NOW)).toBe("expired");
  expect(effectiveState({ state: "rejected", expires_at: EARLIER }, NOW)).toBe("rejected");
  expect(effectiveState({ state: "used", expires_at: EARLIER }, NOW)).toBe("used");
});

test("the delegating user of the call decides in their tenant", () => {
  expect(refusal(() => checkDecider(principal("ursula", ["user"], "acme"), row, "approve"))).toBeNull();
});

test("an admin of the tenant, or an operator admin without a tenant claim, decides", () => {
  expect(refusal(() => checkDecider(principal("ada", ["admin"], "acme"), row, "approve"))).toBeNull();
  expect(refusal(() => checkDecider(principal("op", ["admin"], null), row, "approve"))).toBeNull();
  expect(
    refusal(() => checkDecider(principal("op", ["admin"], null), { tenant: null, user_id: null }, "approve")),
  ).toBeNull();
});

test("another user of the tenant, a reviewer, or a user without a tenant claim is refused (403)", () => {
  for (const who of [
    principal("ulrich", ["user"], "acme"),
    principal("rita", ["reviewer", "creator", "viewer"], "acme"),
    principal("ursula", ["user"], null),
  ])
    expect(refusal(() => checkDecider(who, row, "approve"))).toMatchObject({
      code: "forbidden",
      status: 403,
      message: expect.stringMatching(
        /only the user the call was made for, or an admin of the tenant, can approve/,
      ),
    });
  // A call without a delegation has no user: only admins decide it.
  expect(
    refusal(() =>
      checkDecider(principal("ursula", ["user"], "acme"), { tenant: "acme", user_id: null }, "approve"),
    ),
  ).toMatchObject({ status: 403 });
});

test("another tenant's approval, even for an admin or a user of the same name, does not exist (404)", () => {
  expect(refusal(() => checkDecider(principal("ada", ["admin"], "globex"), row, "see"))).toMatchObject({
    status: 404,
  });
  expect(refusal(() => checkDecider(principal("ursula", ["user"], "globex"), row, "see"))).toMatchObject({
    status: 404,
  });
});

test("a decision on a closed request is a 409 naming its state", () => {
  const used = notDecidable("a1", "used");
  expect([used.status, used.message, used.details]).toEqual([
    409,
    "approval a1 cannot be decided: it is already used",
    [{ field: "state", message: "used" }],
  ]);
  expect(notDecidable("a1", "expired").message).toMatch(
    /expired before a decision; the agent's next identical call opens a new request/,
  );
});
