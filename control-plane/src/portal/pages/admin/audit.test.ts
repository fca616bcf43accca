import type { AuditRecord } from "../../../../../lib/src/audit/chain.js";
import { html } from "../../html.js";
import { parseAuditSearch, renderAuditResults, renderVerifyResult, searchQuery } from "./audit.js";
import { flat } from "./flat-markup.js";

const event = (over: Partial<AuditRecord> = {}): AuditRecord =>
  ({
    id: 42,
    event_id: "e",
    tenant: "acme",
    occurred_at: "2026-12-07T10:00:00.000Z",
    source: "authz-server",
    action: "authz.decision",
    actor: null,
    agent_spiffe_id: "spiffe://warden.local/agent/a",
    user_id: "alice",
    decision: "deny",
    reason: "<scope_missing>",
    details: {},
    ...over,
  }) as AuditRecord;

describe("audit search", () => {
  it("maps the form onto the audit API's filter, the last day counting whole", () => {
    const parsed = parseAuditSearch({
      tenant: "acme",
      agent: "spiffe://warden.local/agent/a",
      user: "alice",
      decision: "deny",
      action: "authz.decision",
      from: "2026-12-01",
      to: "2026-12-01",
    });
    expect(parsed.ok && parsed.value).toEqual({
      filter: {
        tenant: "acme",
        agent_spiffe_id: "spiffe://warden.local/agent/a",
        user_id: "alice",
        decision: "deny",
        action: "authz.decision",
        from: "2026-12-01T00:00:00.000Z",
        to: "2026-12-02T00:00:00.000Z",
      },
      cursor: undefined,
    });
  });

  it("searches everything when the form is empty or says any decision", () => {
    expect(parseAuditSearch({ decision: "any", tenant: "" })).toEqual({
      ok: true,
      value: { filter: {}, cursor: undefined },
    });
  });

  it("explains a wrong action, agent or cursor", () => {
    const parsed = parseAuditSearch({ action: "DROP TABLE", agent: "bob", cursor: "../etc" });
    expect(!parsed.ok && parsed.errors.map((e) => e.field)).toEqual(["agent", "action", "cursor"]);
  });

  it("links the next page and the downloads with the same filter", () => {
    const fields = { tenant: "acme", decision: "any", user: "a&b", cursor: "old" };
    expect(searchQuery(fields, { cursor: "abc" })).toBe("tenant=acme&user=a%26b&cursor=abc");
    const out = flat(renderAuditResults([event()], "abc", fields));
    expect(out).toContain('href="/portal/admin/audit?tenant=acme&amp;user=a%26b&amp;cursor=abc"');
    expect(out).toContain(
      'href="/portal/admin/audit/export?tenant=acme&amp;user=a%26b&amp;format=ocsf" download',
    );
    expect(out).toContain("&lt;scope_missing&gt;");
    expect(out).toContain('class="decision decision-deny"');
  });

  it("has no next link on the last page", () => {
    expect(flat(renderAuditResults([event()], null, {}))).not.toContain('rel="next"');
    expect(flat(renderAuditResults([], null, {}))).toContain("No events match.");
  });
});

describe("chain verification result", () => {
  it("says the chain is intact with how many events were checked", () => {
    const out = flat(renderVerifyResult({ ok: true, tenants: 4, rows: 100_000, problem: null }, undefined));
    expect(out).toContain("Chain intact");
    expect(out).toContain("100000 events of 4 tenants verified");
  });

  it("names the first broken event as an alert", () => {
    const out = flat(
      renderVerifyResult(
        {
          ok: false,
          tenants: 1,
          rows: 9,
          problem: {
            tenant: "acme",
            kind: "hash_mismatch",
            id: 10,
            event_id: "e10",
            chain_seq: 10,
            message: "row 10 was changed",
          },
        },
        "acme",
      ),
    );
    expect(out).toContain('role="alert"');
    expect(out).toContain("<dd>hash mismatch</dd>");
    expect(out).toContain("#10 (e10)");
  });

  it("keeps a CSRF token in the verify form", async () => {
    const { renderVerifyForm } = await import("./audit.js");
    expect(flat(renderVerifyForm(html`<input name="_csrf" />`, "acme"))).toContain('name="_csrf"');
  });
});
