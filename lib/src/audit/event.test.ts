import { InvalidAuditEventError, normalizeAuditEvent, normalizeTypedEvent } from "./event.js";

const event = {
  event_id: "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
  tenant: "acme",
  occurred_at: new Date("2026-01-02T03:04:05.678Z"),
  source: "authz-server" as const,
  action: "authz.decision",
  actor: "spiffe://warden.local/agent/bot",
  agent_id: "0B7E3F4C-8A52-4C1E-9A57-3D4B2F1E6C11",
  decision: "deny" as const,
  reason: "kya_missing\u0000",
  latency_ms: 0.05,
  details: { z: 1, a: { c: "x\uD800", b: [1, null] }, when: new Date(0), gone: undefined },
};

describe("normalizeTypedEvent", () => {
  it("normalises exactly as the schema path does", () => {
    expect(normalizeTypedEvent(event)).toEqual(normalizeAuditEvent(event));
    expect(Object.keys(normalizeTypedEvent(event).details)).toEqual(["a", "when", "z"]);
    expect(normalizeTypedEvent(event).reason).toBe("kya_missing\uFFFD");
  });

  it("still refuses what the types do not rule out", () => {
    for (const bad of [
      { ...event, tenant: "Not A Slug" },
      { ...event, action: "decision" },
      { ...event, agent_id: "agent-7" },
      { ...event, reason: "x".repeat(3000) },
      { ...event, latency_ms: Number.NaN },
      { ...event, details: { big: "x".repeat(20_000) } },
    ])
      expect(() => normalizeTypedEvent(bad)).toThrow(InvalidAuditEventError);
  });
});

describe("details", () => {
  it("are stored as JSON would store them, keys sorted, strings storable", () => {
    const details = {
      b: [1, undefined, Number.NaN, "x\u0000", { d: 1, c: undefined }],
      a: new Date(0),
      z: () => 1,
      nested: { y: Number.POSITIVE_INFINITY, x: null },
    };
    const stored = normalizeTypedEvent({ ...event, details }).details;
    expect(stored).toEqual({
      a: "1970-01-01T00:00:00.000Z",
      b: [1, null, null, "x\uFFFD", { d: 1 }],
      nested: { x: null, y: null },
    });
    expect(Object.keys(stored)).toEqual(["a", "b", "nested"]);
    expect(
      Object.keys(
        normalizeTypedEvent({ ...event, details: { b: 1, a: { d: 1, c: 2 } } }).details.a as object,
      ),
    ).toEqual(["c", "d"]);
  });
});
