import {
  BUDGET_ENFORCEMENTS,
  BUDGET_PERIODS,
  BUDGET_SCOPES,
  type BudgetEnforcement,
  type BudgetPeriod,
  type BudgetScope,
} from "../../../../../lib/src/llm/budgets.js";
import { MoneyFormatError, usdToMicros } from "../../../../../lib/src/llm/money.js";
import {
  boundedTextOf,
  choiceOf,
  result,
  tenantOf,
  textOf,
  type FieldError,
  type Fields,
  type Parsed,
} from "./form.js";
import { html, type SafeHtml } from "../../html.js";

/**
 * Admin page "Budgets": every LLM budget with what it has spent this period, a form to add one and,
 * per budget, a form to change its limit, enforcement and description or delete it. Budgets as the
 * budgets API returns them (budgets/handlers.ts); the forms parse into that API's bodies.
 */
export interface BudgetView {
  id: string;
  tenant: string;
  scope: BudgetScope;
  subject: string;
  period: BudgetPeriod;
  limit_usd: string;
  enforcement: BudgetEnforcement;
  description: string | null;
  period_start: string;
  spent_usd: string;
  version: number;
}

export interface BudgetCreate {
  tenant: string;
  scope: BudgetScope;
  subject?: string;
  period: BudgetPeriod;
  limit_usd: string;
  enforcement: BudgetEnforcement;
  description?: string;
}

export interface BudgetUpdate {
  version: number;
  changes: { limit_usd: string; enforcement: BudgetEnforcement; description: string | null };
}

const DESCRIPTION_MAX = 500;
const SUBJECT_MAX = 512;

function limitOf(fields: Fields, errors: FieldError[]): string | undefined {
  const text = textOf(fields, "limit_usd");
  if (text === undefined) {
    errors.push({ field: "limit_usd", message: "is required" });
    return undefined;
  }
  try {
    if (usdToMicros(text) === 0n) errors.push({ field: "limit_usd", message: "must be above zero" });
  } catch (error) {
    if (!(error instanceof MoneyFormatError)) throw error;
    errors.push({ field: "limit_usd", message: "must be an amount in dollars, e.g. 25 or 12.50" });
  }
  return text;
}

export function parseBudgetCreate(fields: Fields): Parsed<BudgetCreate> {
  const errors: FieldError[] = [];
  const tenant = tenantOf(fields, errors);
  if (tenant === undefined && !errors.some((e) => e.field === "tenant"))
    errors.push({ field: "tenant", message: "is required" });
  const scope = choiceOf(fields, "scope", BUDGET_SCOPES, errors);
  const subject = boundedTextOf(fields, "subject", SUBJECT_MAX, errors);
  if (scope !== undefined && scope !== "tenant" && subject === undefined)
    errors.push({ field: "subject", message: `names the ${scope} the budget is for` });
  const period = choiceOf(fields, "period", BUDGET_PERIODS, errors);
  const limit = limitOf(fields, errors);
  const enforcement = choiceOf(fields, "enforcement", BUDGET_ENFORCEMENTS, errors);
  const description = boundedTextOf(fields, "description", DESCRIPTION_MAX, errors);
  const value: BudgetCreate = {
    tenant: tenant ?? "",
    scope: scope ?? "tenant",
    period: period ?? "monthly",
    limit_usd: limit ?? "",
    enforcement: enforcement ?? "hard",
  };
  // A tenant budget's subject is the tenant itself (the API fills it in).
  if (subject !== undefined && scope !== "tenant") value.subject = subject;
  if (description !== undefined) value.description = description;
  return result(value, errors, fields);
}

export function parseBudgetUpdate(fields: Fields): Parsed<BudgetUpdate> {
  const errors: FieldError[] = [];
  const versionText = textOf(fields, "version");
  const version = Number(versionText);
  if (versionText === undefined || !Number.isSafeInteger(version) || version < 1)
    errors.push({ field: "version", message: "is missing: reload the page" });
  const limit = limitOf(fields, errors);
  const enforcement = choiceOf(fields, "enforcement", BUDGET_ENFORCEMENTS, errors);
  const description = boundedTextOf(fields, "description", DESCRIPTION_MAX, errors);
  return result(
    {
      version,
      changes: {
        limit_usd: limit ?? "",
        enforcement: enforcement ?? "hard",
        description: description ?? null,
      },
    },
    errors,
    fields,
  );
}

/** Spent as a share of the limit, 0..∞ (over 1 when a soft budget is overspent). */
export function spentShare(budget: Pick<BudgetView, "spent_usd" | "limit_usd">): number {
  const limit = Number(budget.limit_usd);
  return limit > 0 ? Number(budget.spent_usd) / limit : 0;
}

type Csrf = SafeHtml;

function errorList(errors: readonly FieldError[]): SafeHtml {
  if (errors.length === 0) return html``;
  return html`<div class="form-errors" role="alert">
    <p>The form has problems:</p>
    <ul>
      ${errors.map((e) =>
        e.field === "form"
          ? html`<li>${e.message}</li>`
          : html`<li><a href="#budget-${e.field}">${e.field.replace("_", " ")}</a> ${e.message}</li>`,
      )}
    </ul>
  </div>`;
}

function input(
  name: string,
  label: string,
  fields: Fields,
  errors: readonly FieldError[],
  extra: SafeHtml = html``,
): SafeHtml {
  const error = errors.find((e) => e.field === name);
  return html`<p class="field">
    <label for="budget-${name}">${label}</label>
    <input
      id="budget-${name}"
      name="${name}"
      value="${fields[name] ?? ""}"
      ${extra}
      ${error ? html`aria-invalid="true" aria-describedby="budget-${name}-error"` : ""}
    />
    ${error ? html`<span class="field-error" id="budget-${name}-error">${error.message}</span>` : ""}
  </p>`;
}

function select(
  name: string,
  label: string,
  choices: readonly string[],
  chosen: string | undefined,
): SafeHtml {
  return html`<p class="field">
    <label for="budget-${name}">${label}</label>
    <select id="budget-${name}" name="${name}">
      ${choices.map((c) => html`<option value="${c}" ${c === chosen ? "selected" : ""}>${c}</option>`)}
    </select>
  </p>`;
}

export function renderBudgetList(budgets: readonly BudgetView[]): SafeHtml {
  if (budgets.length === 0) return html`<p>No budgets yet.</p>`;
  return html`<table class="data-table">
    <caption>
      LLM budgets and their spend this period
    </caption>
    <thead>
      <tr>
        <th scope="col">Tenant</th>
        <th scope="col">Scope</th>
        <th scope="col">Subject</th>
        <th scope="col">Period</th>
        <th scope="col" class="num">Spent (USD)</th>
        <th scope="col" class="num">Limit (USD)</th>
        <th scope="col">Enforcement</th>
        <th scope="col">Description</th>
        <th scope="col"><span class="visually-hidden">Actions</span></th>
      </tr>
    </thead>
    <tbody>
      ${budgets.map((b) => {
        const share = spentShare(b);
        return html`<tr>
          <td>${b.tenant}</td>
          <td>${b.scope}</td>
          <td>${b.subject}</td>
          <td>${b.period}</td>
          <td class="num ${share >= 1 ? "over-budget" : share >= 0.8 ? "near-budget" : ""}">
            ${b.spent_usd}
            <meter
              min="0"
              max="1"
              low="0.8"
              high="0.99"
              optimum="0"
              value="${Math.min(share, 1).toFixed(3)}"
              aria-label="${Math.round(share * 100)}% of the limit spent"
            ></meter>
          </td>
          <td class="num">${b.limit_usd}</td>
          <td>${b.enforcement}</td>
          <td>${b.description ?? ""}</td>
          <td>
            <a href="/portal/admin/budgets/${b.id}"
              >Edit<span class="visually-hidden"> the ${b.scope} budget of ${b.subject}</span></a
            >
          </td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

export function renderBudgetCreateForm(
  csrf: Csrf,
  fields: Fields = {},
  errors: readonly FieldError[] = [],
): SafeHtml {
  return html`<form method="post" action="/portal/admin/budgets" class="stacked-form" novalidate>
    <h2>New budget</h2>
    ${errorList(errors)} ${csrf} ${input("tenant", "Tenant", fields, errors, html`required`)}
    ${select("scope", "Scope", BUDGET_SCOPES, fields.scope ?? "tenant")}
    ${input("subject", "Subject (team, agent SPIFFE ID or user; blank for the tenant)", fields, errors)}
    ${select("period", "Period", BUDGET_PERIODS, fields.period ?? "monthly")}
    ${input("limit_usd", "Limit (USD)", fields, errors, html`inputmode="decimal" required`)}
    ${select("enforcement", "Enforcement", BUDGET_ENFORCEMENTS, fields.enforcement ?? "hard")}
    ${input("description", "Description", fields, errors)}
    <p><button type="submit">Add budget</button></p>
  </form>`;
}

export function renderBudgetEdit(
  budget: BudgetView,
  csrf: Csrf,
  fields?: Fields,
  errors: readonly FieldError[] = [],
): SafeHtml {
  const values: Fields = fields ?? {
    limit_usd: budget.limit_usd,
    enforcement: budget.enforcement,
    description: budget.description ?? "",
  };
  return html`<dl class="summary">
      <dt>Tenant</dt>
      <dd>${budget.tenant}</dd>
      <dt>Scope</dt>
      <dd>${budget.scope}</dd>
      <dt>Subject</dt>
      <dd>${budget.subject}</dd>
      <dt>Period</dt>
      <dd>${budget.period} (since ${budget.period_start})</dd>
      <dt>Spent</dt>
      <dd>$${budget.spent_usd}</dd>
    </dl>
    <form method="post" action="/portal/admin/budgets/${budget.id}" class="stacked-form" novalidate>
      <h2>Change</h2>
      ${errorList(errors)} ${csrf}
      <input type="hidden" name="version" value="${budget.version}" />
      ${input("limit_usd", "Limit (USD)", values, errors, html`inputmode="decimal" required`)}
      ${select("enforcement", "Enforcement", BUDGET_ENFORCEMENTS, values.enforcement)}
      ${input("description", "Description", values, errors)}
      <p><button type="submit">Save</button></p>
    </form>
    <form method="post" action="/portal/admin/budgets/${budget.id}/delete" class="danger-zone">
      <h2>Delete</h2>
      ${csrf}
      <input type="hidden" name="version" value="${budget.version}" />
      <p>Requests are no longer counted against this budget once it is deleted.</p>
      <p><button type="submit" class="danger">Delete this budget</button></p>
    </form>`;
}
