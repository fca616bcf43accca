import { html } from "../../html.js";
import {
  parseBudgetCreate,
  parseBudgetUpdate,
  renderBudgetEdit,
  renderBudgetList,
  spentShare,
  type BudgetView,
} from "./budgets.js";
import { flat } from "./flat-markup.js";

const budget: BudgetView = {
  id: "2b1f7f5e-8d7c-4f7e-9a53-0c8f1f0b9a11",
  tenant: "acme",
  scope: "team",
  subject: "support",
  period: "monthly",
  limit_usd: "100.00",
  enforcement: "hard",
  description: "<b>support</b>",
  period_start: "2026-12-01T00:00:00.000Z",
  spent_usd: "85.50",
  version: 3,
};
const csrf = html`<input type="hidden" name="_csrf" value="t" />`;

describe("budget forms", () => {
  it("turn a new team budget into the budgets API's body", () => {
    const parsed = parseBudgetCreate({
      tenant: "acme",
      scope: "team",
      subject: " support ",
      period: "daily",
      limit_usd: "12.50",
      enforcement: "soft",
      description: "",
    });
    expect(parsed).toEqual({
      ok: true,
      value: {
        tenant: "acme",
        scope: "team",
        subject: "support",
        period: "daily",
        limit_usd: "12.50",
        enforcement: "soft",
      },
    });
  });

  it("leave a tenant budget's subject to the API (it is the tenant)", () => {
    const parsed = parseBudgetCreate({
      tenant: "acme",
      scope: "tenant",
      subject: "ignored",
      period: "monthly",
      limit_usd: "1000",
      enforcement: "hard",
    });
    expect(parsed.ok && parsed.value.subject).toBeUndefined();
  });

  it("explain every wrong field at once", () => {
    const parsed = parseBudgetCreate({
      scope: "agent",
      period: "weekly",
      limit_usd: "ten",
      enforcement: "hard",
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.errors).toEqual([
      { field: "tenant", message: "is required" },
      { field: "subject", message: "names the agent the budget is for" },
      { field: "period", message: "must be one of daily, monthly" },
      { field: "limit_usd", message: "must be an amount in dollars, e.g. 25 or 12.50" },
    ]);
  });

  it("refuse a zero limit", () => {
    const parsed = parseBudgetUpdate({ version: "3", limit_usd: "0", enforcement: "hard" });
    expect(!parsed.ok && parsed.errors).toEqual([{ field: "limit_usd", message: "must be above zero" }]);
  });

  it("carry the version the admin saw, so a concurrent change is not overwritten", () => {
    expect(parseBudgetUpdate({ version: "3", limit_usd: "5", enforcement: "soft", description: "" })).toEqual(
      {
        ok: true,
        value: { version: 3, changes: { limit_usd: "5", enforcement: "soft", description: null } },
      },
    );
    const stale = parseBudgetUpdate({ limit_usd: "5", enforcement: "soft" });
    expect(!stale.ok && stale.errors[0]?.field).toBe("version");
  });
});

describe("budget pages", () => {
  it("show spend against the limit and flag budgets near it", () => {
    expect(spentShare(budget)).toBeCloseTo(0.855);
    const out = flat(renderBudgetList([budget]));
    expect(out).toContain('class="num near-budget">85.50');
    expect(out).toContain('aria-label="86% of the limit spent"');
    expect(out).toContain("&lt;b&gt;support&lt;/b&gt;");
    expect(out).toContain(`href="/portal/admin/budgets/${budget.id}"`);
  });

  it("edit with the CSRF token and the version in every form, and keep what was typed on error", () => {
    const out = flat(
      renderBudgetEdit(budget, csrf, { limit_usd: "abc", enforcement: "soft" }, [
        { field: "limit_usd", message: "must be an amount in dollars, e.g. 25 or 12.50" },
      ]),
    );
    expect(out.match(/name="_csrf"/g)).toHaveLength(2);
    expect(out.match(/name="version" value="3"/g)).toHaveLength(2);
    expect(out).toContain('value="abc"');
    expect(out).toContain('<option value="soft" selected>');
    expect(out).toContain('role="alert"');
  });
});
