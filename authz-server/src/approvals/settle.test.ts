import type { ApprovalBinding, ApprovalGate, ApprovalResolution } from "../../../lib/src/mcp/approval.js";
import type { Outcome } from "../authorizer.js";
import type { PendingApproval } from "./pending.js";
import { settleApproval, type GatedOutcome } from "./settle.js";

const BINDING: ApprovalBinding = {
  agentSpiffeId: "spiffe://warden.local/agent/bot",
  agentId: null,
  tenant: "acme",
  delegationId: null,
  userId: null,
  server: "files",
  method: "tools/call",
  name: "delete_file",
  argumentsDigest: "sha256:00",
  decisionId: "d-1",
};

/** Outcomes as labels, so a test sees which one the edge chose and with what. */
const outcome = (label: string): Outcome => ({
  response: {},
  record: { reason: label } as Outcome["record"],
});
const label = (o: Outcome) => o.record.reason;

function held(): GatedOutcome & { approval: PendingApproval } {
  return {
    ...outcome("approval_required"),
    approval: {
      binding: BINDING,
      approved: (id) => outcome(`approved:${id}`),
      held: (r) => outcome(`held:${r.approvalId}:${r.url}:${r.expiresAt}`),
      unavailable: (detail) => outcome(`unavailable:${detail}`),
    },
  };
}

const gate = (answer: ApprovalResolution | Error): ApprovalGate & { asked: ApprovalBinding[] } => {
  const asked: ApprovalBinding[] = [];
  return {
    asked,
    resolve: (binding) => {
      asked.push(binding);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
};

test("a call nobody held is answered as authorized, without asking the gate", async () => {
  const g = gate({ state: "approved", approvalId: "a" });
  expect(label(await settleApproval(outcome("allowed"), g))).toBe("allowed");
  expect(g.asked).toEqual([]);
});

test("the gate is asked about exactly the held call, and its verdict picks the outcome", async () => {
  const approved = gate({ state: "approved", approvalId: "a1" });
  expect(label(await settleApproval(held(), approved))).toBe("approved:a1");
  expect(approved.asked).toEqual([BINDING]);
  expect(
    label(
      await settleApproval(
        held(),
        gate({
          state: "held",
          approvalId: "a2",
          url: "https://cp/v1/approvals/a2",
          expiresAt: "2026-12-07T12:15:00.000Z",
        }),
      ),
    ),
  ).toBe("held:a2:https://cp/v1/approvals/a2:2026-12-07T12:15:00.000Z");
  expect(label(await settleApproval(held(), gate({ state: "unavailable", detail: "timeout" })))).toBe(
    "unavailable:timeout",
  );
});

test("fail closed: without a gate the held call's own refusal stands; a gate that throws refuses it as unavailable", async () => {
  expect(label(await settleApproval(held(), undefined))).toBe("approval_required");
  expect(label(await settleApproval(held(), gate(new Error("boom"))))).toBe(
    "unavailable:the approval store failed",
  );
});
