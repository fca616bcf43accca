import { normalizeAuditEvent } from "../../../lib/src/audit/event.js";
import { REFUSAL_ACTION, refusalAuditEvent } from "./refusals.js";

const base = {
  requestId: "r-1",
  method: "GET",
  url: "/v1/connections/google-drive/callback?code=4/0SECRET&state=STATESECRET",
  operation: "completeConnection",
  remoteAddress: "127.0.0.1",
  source: "api" as const,
};

describe("refusalAuditEvent", () => {
  it("records a 403 with the caller, its tenant, the code and a redacted path", () => {
    const event = refusalAuditEvent({
      ...base,
      status: 403,
      refusal: { code: "forbidden", message: 'this token is limited to tenant "acme"' },
      caller: { actor: "alice", tenant: "acme" },
    });
    const entry = normalizeAuditEvent(event);
    expect(entry).toMatchObject({
      tenant: "acme",
      source: "control-plane",
      action: REFUSAL_ACTION,
      actor: "alice",
      decision: "deny",
      reason: "forbidden",
      request_id: "r-1",
      resource_id: "completeConnection",
      details: {
        status: 403,
        path: "/v1/connections/google-drive/callback?code=[REDACTED]&state=[REDACTED]",
      },
    });
    expect(JSON.stringify(entry)).not.toMatch(/SECRET/);
  });

  it("puts an unauthenticated caller's 401 in the unknown tenant, whatever it asked for", () => {
    const event = refusalAuditEvent({
      ...base,
      status: 401,
      refusal: { code: "unauthenticated", message: "a bearer token is required" },
      caller: { actor: null, tenant: null },
    });
    expect(event).toMatchObject({ tenant: "unknown", actor: null, reason: "unauthenticated" });
  });

  it("audits a 404 of an authenticated caller (another tenant's resource), not an anonymous route probe", () => {
    const refusal = { code: "not_found", message: "agent not found" };
    expect(
      refusalAuditEvent({ ...base, status: 404, refusal, caller: { actor: "mallory", tenant: "evil" } }),
    ).toMatchObject({ tenant: "evil", actor: "mallory", reason: "not_found" });
    expect(
      refusalAuditEvent({ ...base, status: 404, refusal, caller: { actor: null, tenant: null } }),
    ).toBeNull();
  });

  it("does not audit conflicts and precondition failures (not refusals of a caller)", () => {
    const refusal = { code: "conflict", message: "already exists" };
    expect(
      refusalAuditEvent({ ...base, status: 409, refusal, caller: { actor: "a", tenant: "acme" } }),
    ).toBeNull();
  });
});
