import { decisionFrom } from "../reviewer/queue.js";
import type { ApiAttestation } from "./api-types.js";
import { currentKya, decisionOf, outcomeOf } from "./status.js";

function attestation(changes: Partial<ApiAttestation>): ApiAttestation {
  return {
    id: "00000000-0000-4000-8000-000000000001",
    agent_id: "00000000-0000-4000-8000-000000000002",
    tenant: "acme",
    status: "pending",
    evidence: { endpoints: [], security_checklist: {} },
    declared_capabilities: ["llm:chat"],
    submitted_by: "carol",
    submitted_at: "2026-12-01T10:00:00.000Z",
    level: null,
    verified_capabilities: null,
    reviewed_by: null,
    reviewed_at: null,
    review_notes: null,
    rejection_reason: null,
    expires_at: null,
    revoked_by: null,
    revoked_at: null,
    revocation_reason: null,
    ...changes,
  };
}

const approved = attestation({
  status: "approved",
  level: 2,
  reviewed_by: "rita",
  reviewed_at: "2026-12-02T09:00:00.000Z",
  expires_at: "2027-03-02T09:00:00.000Z",
});

describe("where an agent's KYA stands", () => {
  test("never submitted", () => {
    expect(currentKya([])).toEqual({ text: "Not submitted yet", tone: "muted" });
  });

  test("approved: the level and until when", () => {
    expect(currentKya([approved])).toEqual({ text: "Approved at level 2 until 2027-03-02", tone: "good" });
  });

  test("rejected: the reviewer's reason, word for word", () => {
    const rejected = attestation({
      status: "rejected",
      rejection_reason: "endpoints do not match the image",
    });
    expect(currentKya([rejected])).toEqual({
      text: "Rejected: endpoints do not match the image",
      tone: "bad",
    });
  });

  test("an approval in force stays the status while a resubmission waits, and says so", () => {
    expect(currentKya([approved, attestation({ id: "x" })]).text).toBe(
      "Approved at level 2 until 2027-03-02; a new submission is waiting for review",
    );
  });

  test("after a rejected resubmission the older approval still counts", () => {
    const rejected = attestation({ id: "y", status: "rejected", rejection_reason: "no" });
    expect(currentKya([approved, rejected]).tone).toBe("good");
  });

  test("expired and revoked approvals are bad news", () => {
    expect(
      outcomeOf(attestation({ status: "expired", level: 1, expires_at: "2026-01-01T00:00:00Z" })),
    ).toEqual({
      text: "Expired on 2026-01-01 (was level 1)",
      tone: "bad",
    });
    expect(currentKya([attestation({ status: "revoked", revocation_reason: "key leaked" })]).text).toBe(
      "Revoked: key leaked",
    );
  });

  test("who decided, and when", () => {
    expect(decisionOf(approved)).toBe("rita, 2026-12-02");
    expect(decisionOf(attestation({}))).toBe("");
  });
});

describe("the reviewer queue's decisions, from the audit log", () => {
  const event = {
    occurred_at: "2026-12-08T02:00:00.000Z",
    actor: "rita",
    agent_spiffe_id: "spiffe://warden.local/agent/billing-bot",
    resource_id: "a1",
    details: { level: 3 },
  };

  test("an approval names the agent and its level", () => {
    expect(decisionFrom({ ...event, action: "kya.approved", reason: null })).toEqual({
      at: event.occurred_at,
      name: "billing-bot",
      reviewer: "rita",
      outcome: "Approved at level 3",
      approved: true,
      attestationId: "a1",
    });
  });

  test("a rejection carries its reason", () => {
    const decision = decisionFrom({ ...event, action: "kya.rejected", reason: "no SBOM", details: {} });
    expect(decision.outcome).toBe("Rejected: no SBOM");
    expect(decision.approved).toBe(false);
  });
});
