import type { UsageReport } from "../../../usage/query.js";
import { MAX_SERIES, renderLineChart, type ChartSeries } from "./chart.js";
import {
  choiceOf,
  dayOf,
  DAY_MS,
  isoDay,
  result,
  tenantOf,
  type FieldError,
  type Fields,
  type Parsed,
} from "./form.js";
import { html, type SafeHtml } from "../../html.js";

/**
 * Admin page "Usage and cost": cost per day for the whole selection and for its top agents, users or
 * teams (a chart and the same numbers as a table), and the top spenders with their tokens. The
 * numbers come from the usage API's query (usage/query.ts); this module only parses the filter and
 * turns reports into markup.
 */
export const USAGE_BY = ["agent", "user", "team"] as const;
export type UsageBy = (typeof USAGE_BY)[number];

export interface UsageSelection {
  by: UsageBy;
  /** First day, midnight UTC. */
  from: Date;
  /** The day after the last day, midnight UTC (exclusive, as the API's `to`). */
  to: Date;
  tenant?: string | undefined;
}

export const DEFAULT_DAYS = 30;
export const MAX_DAYS = 92;
/** How many spenders the table lists; the chart draws the first MAX_SERIES - 1 of them. */
export const TOP_SPENDERS = 20;

export function parseUsageSelection(fields: Fields, now: Date): Parsed<UsageSelection> {
  const errors: FieldError[] = [];
  const by = choiceOf(fields, "by", USAGE_BY, errors, "agent")!;
  const today = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
  const last = dayOf(fields, "to", errors) ?? today;
  const first = dayOf(fields, "from", errors) ?? new Date(last.getTime() - (DEFAULT_DAYS - 1) * DAY_MS);
  const tenant = tenantOf(fields, errors);
  if (first > last) errors.push({ field: "from", message: "must not be after the last day" });
  else if ((last.getTime() - first.getTime()) / DAY_MS + 1 > MAX_DAYS)
    errors.push({ field: "from", message: `the range is at most ${MAX_DAYS} days` });
  return result({ by, from: first, to: new Date(last.getTime() + DAY_MS), tenant }, errors, fields);
}

/** Every day of the selection, as YYYY-MM-DD (the usage API's `day` keys). */
export function daysOf(selection: Pick<UsageSelection, "from" | "to">): string[] {
  const days: string[] = [];
  for (let t = selection.from.getTime(); t < selection.to.getTime(); t += DAY_MS)
    days.push(isoDay(new Date(t)));
  return days;
}

/** Cost per day of a report grouped by day, zero on days without usage. */
export function dailyCost(report: UsageReport, days: readonly string[]): number[] {
  const byDay = new Map(report.groups.map((g) => [g.key.day ?? "", Number(g.totals.cost_usd)]));
  return days.map((day) => byDay.get(day) ?? 0);
}

export interface UsageData {
  selection: UsageSelection;
  /** Grouped by day. */
  total: UsageReport;
  /** Grouped by the selection's dimension, biggest cost first. */
  top: UsageReport;
  /** Grouped by day, one per leading spender (the first MAX_SERIES - 1 of `top`). */
  leaders: { key: string; daily: UsageReport }[];
}

/** Chart and table dollars: cents from a dollar up, two significant digits below (LLM calls cost fractions of a cent). */
export const dollars = (value: number): string =>
  value === 0 ? "$0" : value >= 1 ? `$${value.toFixed(2)}` : `$${Number(value.toPrecision(2))}`;
const LABELS: Record<UsageBy, string> = { agent: "Agent", user: "User", team: "Team" };

export function usageChartSeries(data: UsageData, days: readonly string[]): ChartSeries[] {
  return [
    { name: "All", values: dailyCost(data.total, days) },
    ...data.leaders
      .slice(0, MAX_SERIES - 1)
      .map((leader) => ({ name: leader.key, values: dailyCost(leader.daily, days) })),
  ];
}

export function renderUsageFilter(selection: Fields, errors: readonly FieldError[]): SafeHtml {
  const errorOf = (field: string) => errors.find((e) => e.field === field)?.message;
  const field = (name: string, label: string, type: string) => {
    const error = errorOf(name);
    return html`<p class="field">
      <label for="usage-${name}">${label}</label>
      <input
        id="usage-${name}"
        name="${name}"
        type="${type}"
        value="${selection[name] ?? ""}"
        ${error ? html`aria-invalid="true" aria-describedby="usage-${name}-error"` : ""}
      />
      ${error ? html`<span class="field-error" id="usage-${name}-error">${label} ${error}</span>` : ""}
    </p>`;
  };
  const by = selection.by ?? "agent";
  return html`<form method="get" action="/portal/admin/usage" class="filters">
    <p class="field">
      <label for="usage-by">Per</label>
      <select id="usage-by" name="by">
        ${USAGE_BY.map((b) => html`<option value="${b}" ${b === by ? "selected" : ""}>${LABELS[b]}</option>`)}
      </select>
    </p>
    ${field("from", "From", "date")} ${field("to", "To", "date")} ${field("tenant", "Tenant", "text")}
    <p><button type="submit">Show</button></p>
  </form>`;
}

export function renderUsage(data: UsageData): SafeHtml {
  const days = daysOf(data.selection);
  const label = LABELS[data.selection.by];
  const range = `${days[0]} to ${days[days.length - 1]}`;
  const totals = data.total.totals;
  return html`<section aria-labelledby="usage-summary">
      <h2 id="usage-summary">${range}</h2>
      <dl class="summary">
        <dt>Cost</dt>
        <dd>$${totals.cost_usd}</dd>
        <dt>Requests</dt>
        <dd>${totals.requests}</dd>
        <dt>Input tokens</dt>
        <dd>${totals.input_tokens}</dd>
        <dt>Output tokens</dt>
        <dd>${totals.output_tokens}</dd>
        ${
          totals.unpriced_requests > 0
            ? html`<dt>Requests without a price</dt>
                <dd>${totals.unpriced_requests}</dd>`
            : ""
        }
      </dl>
    </section>
    <section aria-labelledby="usage-chart-heading">
      <h2 id="usage-chart-heading">Cost per day</h2>
      ${renderLineChart({
        id: "usage-chart",
        title: `Cost per day, all and top ${label.toLowerCase()}s`,
        description:
          `Cost in US dollars per day from ${range}: the total and the ` +
          `${Math.min(data.leaders.length, MAX_SERIES - 1)} ${label.toLowerCase()}s that spent most.`,
        xLabels: days,
        series: usageChartSeries(data, days),
        format: dollars,
      })}
    </section>
    <section aria-labelledby="usage-top-heading">
      <h2 id="usage-top-heading">Top ${label.toLowerCase()}s by cost</h2>
      ${
        data.top.groups.length === 0
          ? html`<p>No usage in this range.</p>`
          : html`<table class="data-table">
                <thead>
                  <tr>
                    <th scope="col">${label}</th>
                    <th scope="col" class="num">Cost (USD)</th>
                    <th scope="col" class="num">Requests</th>
                    <th scope="col" class="num">Input tokens</th>
                    <th scope="col" class="num">Output tokens</th>
                  </tr>
                </thead>
                <tbody>
                  ${data.top.groups.map(
                    (g) =>
                      html`<tr>
                        <th scope="row">${g.key[data.selection.by] ?? "(none)"}</th>
                        <td class="num">${g.totals.cost_usd}</td>
                        <td class="num">${g.totals.requests}</td>
                        <td class="num">${g.totals.input_tokens}</td>
                        <td class="num">${g.totals.output_tokens}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
              ${data.top.truncated ? html`<p>Only the top ${data.top.groups.length} are listed.</p>` : ""}`
      }
    </section>`;
}
