import {
  attestationClaims,
  checkCanReview,
  checkCanRevoke,
  checkVerifiedCapabilities,
  effectiveStatus,
  type Attestation,
} from "./model.js";

const attestation = (overrides: Partial<Attestation> = {}) =>
  ({
    id: "a1",
    agent_id: "g1",
    tenant: "acme",
    status: "pending",
    submitted_by: "carl",
    declared_capabilities: ["llm:chat", "github:repo.read"],
    evidence: { image_digest: `sha256:${"a".repeat(64)}`, endpoints: [], security_checklist: {} },
    expires_at: null,
    ...overrides,
  }) as Attestation;

describe("KYA workflow rules", () => {
  test("an approval past its expiry reads as expired", () => {
    const now = new Date("2026-06-01T00:00:00Z");
    expect(effectiveStatus({ status: "approved", expires_at: new Date("2026-05-31T23:59:59Z") }, now)).toBe(
      "expired",
    );
    expect(effectiveStatus({ status: "approved", expires_at: new Date("2026-06-02T00:00:00Z") }, now)).toBe(
      "approved",
    );
    expect(effectiveStatus({ status: "revoked", expires_at: new Date("2020-01-01T00:00:00Z") }, now)).toBe(
      "revoked",
    );
  });

  test("only pending submissions are reviewed, and never by their submitter", () => {
    expect(() => checkCanReview(attestation(), "rita")).not.toThrow();
    expect(() => checkCanReview(attestation(), "carl")).toThrow(expect.objectContaining({ status: 403 }));
    expect(() => checkCanReview(attestation({ status: "approved" }), "rita")).toThrow(
      expect.objectContaining({ status: 409 }),
    );
    expect(() => checkCanRevoke(attestation({ status: "approved" }))).not.toThrow();
    expect(() => checkCanRevoke(attestation({ status: "rejected" }))).toThrow(
      expect.objectContaining({ status: 409 }),
    );
  });

  test("verified capabilities must have been declared", () => {
    expect(() => checkVerifiedCapabilities(["a", "b"], ["b"])).not.toThrow();
    expect(() => checkVerifiedCapabilities(["a"], ["a", "z"])).toThrow(
      expect.objectContaining({
        details: [{ field: "verified_capabilities[1]", message: '"z" was not declared' }],
      }),
    );
  });

  test("the signed claims name the workload by SPIFFE ID and carry level, capabilities and expiry", () => {
    const claims = attestationClaims({
      issuer: "spiffe://warden.local/warden/control-plane",
      attestation: attestation(),
      agent: { id: "g1", kind: "agent", spiffe_id: "spiffe://warden.local/agent/bot", tenant: "acme" },
      approval: { level: 2, verified_capabilities: ["llm:chat"] },
      reviewer: "rita",
      issuedAt: new Date("2026-01-01T00:00:00Z"),
      expiresAt: new Date("2026-04-01T00:00:00Z"),
    });
    expect(claims).toEqual({
      iss: "spiffe://warden.local/warden/control-plane",
      sub: "spiffe://warden.local/agent/bot",
      aud: "warden",
      jti: "a1",
      iat: 1767225600,
      nbf: 1767225600,
      exp: 1775001600,
      kya: {
        attestation_id: "a1",
        agent_id: "g1",
        kind: "agent",
        tenant: "acme",
        level: 2,
        verified_capabilities: ["llm:chat"],
        declared_capabilities: ["llm:chat", "github:repo.read"],
        evidence: { image_digest: `sha256:${"a".repeat(64)}`, code_hash: null },
        reviewed_by: "rita",
      },
    });
  });
});
