import type { AuditRecord } from "../../../../../lib/src/audit/chain.js";
import type { VerifyResult } from "../../../../../lib/src/audit/verify.js";
import type { AuditFilter } from "../../../audit/query.js";
import {
  boundedTextOf,
  choiceOf,
  dayOf,
  DAY_MS,
  result,
  tenantOf,
  textOf,
  type FieldError,
  type Fields,
  type Parsed,
} from "./form.js";
import { html, type SafeHtml } from "../../html.js";

/**
 * Admin page "Audit log": search by tenant, agent, user, decision, action and days, page by page
 * (the audit API's keyset cursor), download what the search finds (the export API, NDJSON or OCSF),
 * and re-verify the hash chain with the result on the page.
 */
export interface AuditSearch {
  filter: AuditFilter;
  cursor?: string | undefined;
}

export const PAGE_SIZE = 50;
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const FILTER_FIELDS = ["tenant", "agent", "user", "decision", "action", "from", "to"] as const;

export function parseAuditSearch(fields: Fields): Parsed<AuditSearch> {
  const errors: FieldError[] = [];
  const filter: AuditFilter = {};
  filter.tenant = tenantOf(fields, errors);
  filter.agent_spiffe_id = boundedTextOf(fields, "agent", 2048, errors);
  if (filter.agent_spiffe_id !== undefined && !filter.agent_spiffe_id.startsWith("spiffe://"))
    errors.push({ field: "agent", message: "must be the agent's SPIFFE ID (spiffe://…)" });
  filter.user_id = boundedTextOf(fields, "user", 512, errors);
  const decision = choiceOf(fields, "decision", ["any", "allow", "deny"] as const, errors, "any");
  if (decision === "allow" || decision === "deny") filter.decision = decision;
  filter.action = textOf(fields, "action");
  if (filter.action !== undefined && !ACTION.test(filter.action))
    errors.push({ field: "action", message: 'must look like "object.verb", e.g. delegation.revoked' });
  const from = dayOf(fields, "from", errors);
  const to = dayOf(fields, "to", errors);
  if (from && to && from > to) errors.push({ field: "from", message: "must not be after To" });
  filter.from = from?.toISOString();
  // The last day counts whole: the API's `to` is exclusive.
  filter.to = to ? new Date(to.getTime() + DAY_MS).toISOString() : undefined;
  const cursor = textOf(fields, "cursor");
  if (cursor !== undefined && !/^[A-Za-z0-9_-]{1,200}$/.test(cursor))
    errors.push({ field: "cursor", message: "is not a page of this list: start the search again" });
  const defined = Object.fromEntries(
    Object.entries(filter).filter(([, v]) => v !== undefined),
  ) as AuditFilter;
  return result({ filter: defined, cursor }, errors, fields);
}

/** The search's own fields as a query string (without the cursor): links to the next page and export. */
export function searchQuery(fields: Fields, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const name of FILTER_FIELDS) {
    const value = textOf(fields, name);
    if (value !== undefined && !(name === "decision" && value === "any")) params.set(name, value);
  }
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params.toString();
}

export function renderAuditSearchForm(fields: Fields, errors: readonly FieldError[]): SafeHtml {
  const input = (name: string, label: string, type = "text") => {
    const error = errors.find((e) => e.field === name)?.message;
    return html`<p class="field">
      <label for="audit-${name}">${label}</label>
      <input
        id="audit-${name}"
        name="${name}"
        type="${type}"
        value="${fields[name] ?? ""}"
        ${error ? html`aria-invalid="true" aria-describedby="audit-${name}-error"` : ""}
      />
      ${error ? html`<span class="field-error" id="audit-${name}-error">${error}</span>` : ""}
    </p>`;
  };
  const decision = fields.decision ?? "any";
  const cursorError = errors.find((e) => e.field === "cursor");
  return html`<form method="get" action="/portal/admin/audit" class="filters" role="search">
    ${cursorError ? html`<p class="form-errors" role="alert">The page link ${cursorError.message}.</p>` : ""}
    ${input("tenant", "Tenant")} ${input("agent", "Agent SPIFFE ID")} ${input("user", "User")}
    <p class="field">
      <label for="audit-decision">Decision</label>
      <select id="audit-decision" name="decision">
        ${["any", "allow", "deny"].map((d) => html`<option value="${d}" ${d === decision ? "selected" : ""}>${d}</option>`)}
      </select>
    </p>
    ${input("action", "Action")} ${input("from", "From", "date")} ${input("to", "To", "date")}
    <p><button type="submit">Search</button></p>
  </form>`;
}

function who(event: AuditRecord): string {
  return event.agent_spiffe_id ?? event.actor ?? "";
}

export function renderAuditResults(
  events: readonly AuditRecord[],
  nextCursor: string | null,
  fields: Fields,
): SafeHtml {
  const exportLink = (format: "ndjson" | "ocsf", label: string) =>
    html`<a href="/portal/admin/audit/export?${searchQuery(fields, { format })}" download>${label}</a>`;
  return html`<section aria-labelledby="audit-results-heading">
    <h2 id="audit-results-heading">Events</h2>
    <p class="actions">
      Download what this search finds: ${exportLink("ndjson", "NDJSON")} ·
      ${exportLink("ocsf", "OCSF (SIEM)")}
    </p>
    ${
      events.length === 0
        ? html`<p>No events match.</p>`
        : html`<table class="data-table audit-table">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Tenant</th>
                <th scope="col">Action</th>
                <th scope="col">Agent or actor</th>
                <th scope="col">User</th>
                <th scope="col">Decision</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              ${events.map(
                (e) =>
                  html`<tr>
                    <td class="num">${e.id}</td>
                    <td>
                      <time datetime="${e.occurred_at}"
                        >${e.occurred_at.replace("T", " ").replace("Z", "")}</time
                      >
                    </td>
                    <td>${e.tenant}</td>
                    <td>${e.action}</td>
                    <td class="wrap">${who(e)}</td>
                    <td>${e.user_id ?? ""}</td>
                    <td>
                      ${e.decision ? html`<span class="decision decision-${e.decision}">${e.decision}</span>` : ""}
                    </td>
                    <td class="wrap">${e.reason ?? ""}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    ${
      nextCursor
        ? html`<nav aria-label="Audit pages">
            <a rel="next" href="/portal/admin/audit?${searchQuery(fields, { cursor: nextCursor })}"
              >Next ${PAGE_SIZE} events</a
            >
          </nav>`
        : ""
    }
  </section>`;
}

export function renderVerifyForm(csrf: SafeHtml, tenant: string | undefined): SafeHtml {
  return html`<form method="post" action="/portal/admin/audit/verify" class="inline-form">
    ${csrf}
    <p class="field">
      <label for="verify-tenant">Tenant to verify (blank: every tenant)</label>
      <input id="verify-tenant" name="tenant" value="${tenant ?? ""}" />
    </p>
    <p><button type="submit">Verify the hash chain</button></p>
  </form>`;
}

export function renderVerifyResult(verified: VerifyResult, tenant: string | undefined): SafeHtml {
  const scope = tenant
    ? `tenant ${tenant}`
    : `${verified.tenants} ${verified.tenants === 1 ? "tenant" : "tenants"}`;
  if (verified.ok)
    return html`<div class="verify-result verify-ok" role="status">
      <h2>Chain intact</h2>
      <p>${verified.rows} events of ${scope} verified: every hash matches and no event is missing.</p>
    </div>`;
  const problem = verified.problem!;
  return html`<div class="verify-result verify-broken" role="alert">
    <h2>Chain broken</h2>
    <p>${problem.message}</p>
    <dl class="summary">
      <dt>Tenant</dt>
      <dd>${problem.tenant}</dd>
      <dt>Problem</dt>
      <dd>${problem.kind.replaceAll("_", " ")}</dd>
      <dt>Chain position</dt>
      <dd>${problem.chain_seq}</dd>
      ${
        problem.id !== null
          ? html`<dt>Event</dt>
              <dd>#${problem.id} (${problem.event_id ?? ""})</dd>`
          : ""
      }
    </dl>
    <p>${verified.rows} events verified before it.</p>
  </div>`;
}
