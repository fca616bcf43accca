import type { AuditRecord } from "../../../../../lib/src/audit/chain.js";
import type { VerifyResult } from "../../../../../lib/src/audit/verify.js";
import type { RevisionInForce } from "../../../audit/policy-revision.js";
import type { Page } from "../../../http/page.js";
import { PortalApiError } from "../../api-client.js";
import { html, type SafeHtml } from "../../html.js";
import { csrfField, layout } from "../../layout.js";
import { redirect, type FormValue, type PortalPage, type PortalRequest } from "../../page.js";
import {
  PAGE_SIZE,
  parseAuditSearch,
  renderAuditResults,
  renderAuditSearchForm,
  renderVerifyForm,
  renderVerifyResult,
} from "./audit.js";
import {
  parseBudgetCreate,
  parseBudgetUpdate,
  renderBudgetCreateForm,
  renderBudgetEdit,
  renderBudgetList,
  type BudgetView,
} from "./budgets.js";
import { tenantOf, textOf, type FieldError, type Fields } from "./form.js";
import { renderBundleModels, renderRevision } from "./policy.js";
import {
  bulkRevokeBody,
  parseRevokeRequest,
  renderRevokeConfirmation,
  renderRevokeDone,
  renderRevokeForm,
} from "./revoke-all.js";
import { parseUsageSelection, renderUsage, renderUsageFilter } from "./usage.js";
import { loadUsage } from "./usage-data.js";

/**
 * The admin's pages (issue 21): usage and cost, budgets, revoke-all, the audit log and the policy
 * in force. Each reads and writes through the REST API as the signed-in admin (req.api), so the
 * API's validation, tenancy, audit and notifications apply unchanged; the modules beside this file
 * parse the forms and render the markup.
 */
const ADMIN = ["admin"] as const;

/** The posted form as plain fields (the first value of a repeated one). */
function formFields(form: Record<string, FormValue>): Fields {
  return Object.fromEntries(Object.entries(form).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
}

/** An API refusal a form can show next to itself (bad input, conflict, not found); anything else is thrown. */
function apiRefusal(error: unknown): FieldError | null {
  if (error instanceof PortalApiError && [400, 404, 409, 412].includes(error.status))
    return { field: "form", message: error.message };
  return null;
}

const usagePage: PortalPage = {
  method: "GET",
  path: "/admin/usage",
  roles: ADMIN,
  nav: { label: "Usage and cost", order: 50 },
  async handle(req) {
    const parsed = parseUsageSelection(req.query, req.now);
    const body = parsed.ok
      ? html`${renderUsageFilter(req.query, [])}${renderUsage(await loadUsage(req.api, parsed.value))}`
      : renderUsageFilter(req.query, parsed.errors);
    return layout(req, { title: "Usage and cost", body });
  },
};

async function budgetsBody(req: PortalRequest, fields: Fields = {}, errors: FieldError[] = []) {
  const { items } = await req.api.get<{ items: BudgetView[] }>("/v1/budgets");
  return html`${renderBudgetList(items)}${renderBudgetCreateForm(csrfField(req), fields, errors)}`;
}

const budgetsPage: PortalPage = {
  method: "GET",
  path: "/admin/budgets",
  roles: ADMIN,
  nav: { label: "Budgets", order: 51 },
  async handle(req) {
    return layout(req, { title: "Budgets", body: await budgetsBody(req) });
  },
};

const createBudget: PortalPage = {
  method: "POST",
  path: "/admin/budgets",
  roles: ADMIN,
  async handle(req) {
    const fields = formFields(req.form);
    const parsed = parseBudgetCreate(fields);
    let errors = parsed.ok ? [] : parsed.errors;
    if (parsed.ok) {
      try {
        await req.api.post("/v1/budgets", parsed.value);
        return redirect("/portal/admin/budgets", "Budget added.");
      } catch (error) {
        const refusal = apiRefusal(error);
        if (!refusal) throw error;
        errors = [refusal];
      }
    }
    return layout(req, { title: "Budgets", body: await budgetsBody(req, fields, errors) });
  },
};

async function budgetOf(req: PortalRequest): Promise<BudgetView> {
  return req.api.get<BudgetView>(`/v1/budgets/${encodeURIComponent(req.params.id ?? "")}`);
}

const editBudgetPage: PortalPage = {
  method: "GET",
  path: "/admin/budgets/:id",
  roles: ADMIN,
  async handle(req) {
    const budget = await budgetOf(req);
    return layout(req, { title: "Edit budget", body: renderBudgetEdit(budget, csrfField(req)) });
  },
};

const STALE: FieldError = {
  field: "form",
  message: "Someone changed this budget since you opened it; the form now shows the current values.",
};

const updateBudget: PortalPage = {
  method: "POST",
  path: "/admin/budgets/:id",
  roles: ADMIN,
  async handle(req) {
    const fields = formFields(req.form);
    const parsed = parseBudgetUpdate(fields);
    const budget = await budgetOf(req);
    let errors = parsed.ok ? [] : parsed.errors;
    if (parsed.ok && parsed.value.version !== budget.version) {
      return layout(req, {
        title: "Edit budget",
        body: renderBudgetEdit(budget, csrfField(req), undefined, [STALE]),
      });
    }
    if (parsed.ok) {
      try {
        await req.api.patch(`/v1/budgets/${budget.id}`, parsed.value.changes);
        return redirect("/portal/admin/budgets", "Budget saved.");
      } catch (error) {
        const refusal = apiRefusal(error);
        if (!refusal) throw error;
        errors = [refusal];
      }
    }
    return layout(req, {
      title: "Edit budget",
      body: renderBudgetEdit(budget, csrfField(req), fields, errors),
    });
  },
};

const deleteBudget: PortalPage = {
  method: "POST",
  path: "/admin/budgets/:id/delete",
  roles: ADMIN,
  async handle(req) {
    const budget = await budgetOf(req);
    if (textOf(formFields(req.form), "version") !== String(budget.version))
      return layout(req, {
        title: "Edit budget",
        body: renderBudgetEdit(budget, csrfField(req), undefined, [STALE]),
      });
    await req.api.delete(`/v1/budgets/${budget.id}`);
    return redirect("/portal/admin/budgets", "Budget deleted.");
  },
};

const INCIDENT_NOTE = html`<p>
  For an incident: every live delegation of one agent, one user or a whole tenant stops working within a second.
  You will be asked to confirm.
</p>`;

const revokeAllPage: PortalPage = {
  method: "GET",
  path: "/admin/revoke-all",
  roles: ADMIN,
  nav: { label: "Revoke all", order: 52 },
  async handle(req) {
    return layout(req, {
      title: "Revoke all",
      body: html`${INCIDENT_NOTE}${renderRevokeForm(csrfField(req))}`,
    });
  },
};

const revokeAll: PortalPage = {
  method: "POST",
  path: "/admin/revoke-all",
  roles: ADMIN,
  async handle(req) {
    const fields = formFields(req.form);
    const parsed = parseRevokeRequest(fields);
    let body: SafeHtml;
    if (!parsed.ok) body = html`${INCIDENT_NOTE}${renderRevokeForm(csrfField(req), fields, parsed.errors)}`;
    else if (!parsed.value.confirmed) body = renderRevokeConfirmation(csrfField(req), parsed.value);
    else {
      try {
        const { revoked } = await req.api.post<{ revoked: number }>(
          "/v1/delegations/revoke",
          bulkRevokeBody(parsed.value),
        );
        body = renderRevokeDone(parsed.value, revoked);
      } catch (error) {
        const refusal = apiRefusal(error);
        if (!refusal) throw error;
        body = html`${INCIDENT_NOTE}${renderRevokeForm(csrfField(req), fields, [
          { field: "subject", message: refusal.message },
        ])}`;
      }
    }
    return layout(req, { title: "Revoke all", body });
  },
};

async function auditBody(
  req: PortalRequest,
  verified?: { result: VerifyResult; tenant: string | undefined },
) {
  const parsed = parseAuditSearch(req.query);
  let results: SafeHtml = html``;
  if (parsed.ok) {
    const page = await req.api.get<Page<AuditRecord>>("/v1/audit/events", {
      ...parsed.value.filter,
      limit: PAGE_SIZE,
      cursor: parsed.value.cursor,
    });
    results = renderAuditResults(page.items, page.next_cursor, req.query);
  }
  return html`${verified ? renderVerifyResult(verified.result, verified.tenant) : ""}
    ${renderAuditSearchForm(req.query, parsed.ok ? [] : parsed.errors)} ${results}
    <section aria-labelledby="verify-heading">
      <h2 id="verify-heading">Hash chain</h2>
      ${renderVerifyForm(csrfField(req), verified?.tenant)}
    </section>`;
}

const auditPage: PortalPage = {
  method: "GET",
  path: "/admin/audit",
  roles: ADMIN,
  nav: { label: "Audit log", order: 53 },
  async handle(req) {
    return layout(req, { title: "Audit log", body: await auditBody(req) });
  },
};

const auditExport: PortalPage = {
  method: "GET",
  path: "/admin/audit/export",
  roles: ADMIN,
  async handle(req) {
    const parsed = parseAuditSearch(req.query);
    if (!parsed.ok) return layout(req, { title: "Audit log", body: await auditBody(req) });
    const format = req.query.format === "ocsf" ? "ocsf" : "ndjson";
    const file = await req.api.download("/v1/audit/export", { ...parsed.value.filter, format });
    return { download: { ...file, filename: `audit${format === "ocsf" ? ".ocsf" : ""}.ndjson` } };
  },
};

const auditVerify: PortalPage = {
  method: "POST",
  path: "/admin/audit/verify",
  roles: ADMIN,
  async handle(req) {
    const errors: FieldError[] = [];
    const tenant = tenantOf(formFields(req.form), errors);
    if (errors.length) throw new PortalApiError(400, "bad_request", `Tenant ${errors[0]!.message}.`);
    const result = await req.api.post<VerifyResult>("/v1/audit/verify", tenant ? { tenant } : {});
    return layout(req, { title: "Audit log", body: await auditBody(req, { result, tenant }) });
  },
};

const policyPage: PortalPage = {
  method: "GET",
  path: "/admin/policy",
  roles: ADMIN,
  nav: { label: "Policy in force", order: 54 },
  async handle(req) {
    const [revision, bundle] = await Promise.all([
      req.api.get<RevisionInForce>("/v1/audit/policy-revision"),
      req.policyBundle ? req.policyBundle() : null,
    ]);
    return layout(req, {
      title: "Policy in force",
      body: html`<section aria-labelledby="revision-heading">
          <h2 id="revision-heading">Revision</h2>
          ${renderRevision(revision)}
        </section>
        <section aria-labelledby="models-heading">
          <h2 id="models-heading">Model allow-lists</h2>
          ${renderBundleModels(bundle)}
        </section>`,
    });
  },
};

export const adminPages: readonly PortalPage[] = [
  usagePage,
  budgetsPage,
  createBudget,
  editBudgetPage,
  updateBudget,
  deleteBudget,
  revokeAllPage,
  revokeAll,
  auditPage,
  auditExport,
  auditVerify,
  policyPage,
];
