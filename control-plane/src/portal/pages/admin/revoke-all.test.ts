import { html } from "../../html.js";
import {
  bulkRevokeBody,
  parseRevokeRequest,
  renderRevokeConfirmation,
  renderRevokeDone,
  renderRevokeForm,
} from "./revoke-all.js";
import { flat } from "./flat-markup.js";

const csrf = html`<input type="hidden" name="_csrf" value="t" />`;
const AGENT = "2b1f7f5e-8d7c-4f7e-9a53-0c8f1f0b9a11";

describe("revoke-all", () => {
  it("asks again before revoking: a first post is not confirmed", () => {
    const parsed = parseRevokeRequest({ target: "agent", subject: AGENT, reason: "leaked key" });
    expect(parsed.ok && parsed.value.confirmed).toBe(false);
    const again = parseRevokeRequest({
      target: "agent",
      subject: AGENT,
      reason: "leaked key",
      confirm: "yes",
    });
    expect(again.ok && again.value.confirmed).toBe(true);
  });

  it("sends the delegations API exactly one selector and the reason", () => {
    const parsed = parseRevokeRequest({ target: "user", subject: "alice", reason: "left the company" });
    expect(parsed.ok && bulkRevokeBody(parsed.value)).toEqual({
      user_id: "alice",
      reason: "left the company",
    });
    const tenant = parseRevokeRequest({ target: "tenant", subject: "acme", reason: "breach" });
    expect(tenant.ok && bulkRevokeBody(tenant.value)).toEqual({ tenant: "acme", reason: "breach" });
  });

  it("needs an agent id, a tenant name and a reason", () => {
    const parsed = parseRevokeRequest({ target: "agent", subject: "spiffe://warden.local/agent/x" });
    expect(!parsed.ok && parsed.errors.map((e) => e.field)).toEqual(["subject", "reason"]);
    const tenant = parseRevokeRequest({ target: "tenant", subject: "Acme Corp", reason: "r" });
    expect(!tenant.ok && tenant.errors[0]?.field).toBe("subject");
    const target = parseRevokeRequest({ target: "everyone", subject: "x", reason: "r" });
    expect(!target.ok && target.errors[0]?.field).toBe("target");
  });

  it("shows what will be revoked and carries the request in the confirmation form", () => {
    const parsed = parseRevokeRequest({ target: "tenant", subject: "acme", reason: "<breach>" });
    if (!parsed.ok) throw new Error("expected a valid request");
    const out = flat(renderRevokeConfirmation(csrf, parsed.value));
    expect(out).toContain("<strong>every live delegation in the tenant acme</strong>");
    expect(out).toContain('name="confirm" value="yes"');
    expect(out).toContain('name="reason" value="&lt;breach&gt;"');
    expect(out).toContain('name="_csrf"');
  });

  it("reports how many were revoked", () => {
    expect(
      flat(renderRevokeDone({ target: "user", subject: "alice", reason: "r", confirmed: true }, 1)),
    ).toContain("1 delegation was revoked: every live delegation granted by the user alice.");
  });

  it("marks wrong fields for screen readers and keeps the chosen target", () => {
    const out = flat(
      renderRevokeForm(csrf, { target: "user", subject: "" }, [{ field: "subject", message: "is required" }]),
    );
    expect(out).toContain('id="revoke-target-user" name="target" value="user" checked');
    expect(out).toContain('aria-describedby="revoke-subject-error"');
  });
});
