import { queryString } from "./api-client.js";
import { usageError } from "./cli-error.js";
import type { CommandSpec } from "./command.js";
import * as flags from "./flags.js";
import { fieldColumns, renderRecord, renderTable } from "./table.js";

/**
 * `warden usage` (GET /v1/usage: LLM tokens and cost, optionally grouped) and
 * `warden budgets list|set` (GET/POST/PATCH /v1/budgets).
 */
type Totals = Record<string, unknown> & {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
};
type UsageReport = {
  group_by: string[];
  totals: Totals;
  groups: { key: Record<string, string | null>; totals: Totals }[];
  truncated: boolean;
};
type Budget = Record<string, unknown> & {
  id: string;
  tenant: string;
  scope: string;
  subject: string;
  period: string;
};

const GROUP_DIMENSIONS = ["tenant", "agent", "user", "team", "provider", "model", "day"] as const;
const BUDGET_SCOPES = ["tenant", "team", "agent", "user"] as const;
const PERIODS = ["daily", "monthly"] as const;
const ENFORCEMENTS = ["hard", "soft"] as const;
const USD = /^\d{1,12}(\.\d{1,6})?$/;

type FlagValues = flags.FlagValues;

/** `agent,day` → checked, each dimension at most once. */
export function groupBy(values: FlagValues): string | undefined {
  const value = flags.text(values, "group-by");
  if (value === undefined) return undefined;
  const parts = value.split(",").map((p) => p.trim());
  for (const part of parts)
    if (!(GROUP_DIMENSIONS as readonly string[]).includes(part))
      throw usageError(`--group-by takes ${GROUP_DIMENSIONS.join(", ")} (comma-separated), not "${part}"`);
  if (new Set(parts).size !== parts.length) throw usageError("--group-by names a dimension twice");
  return parts.join(",");
}

/** An ISO date or date-time; a bare date means its start (UTC). */
export function instant(values: FlagValues, name: string): string | undefined {
  const value = flags.text(values, name);
  if (value === undefined) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime()))
    throw usageError(`--${name} must be an ISO date or date-time (e.g. 2026-12-01 or 2026-12-01T09:00:00Z)`);
  return date.toISOString();
}

export function usd(value: string, name: string): string {
  if (!USD.test(value))
    throw usageError(`--${name} must be US dollars like 250 or 0.50 (at most 6 decimals)`);
  return value;
}

const TOTAL_COLUMNS = fieldColumns<Totals>(
  ["requests", "input_tokens", "output_tokens", "unpriced_requests", "cost_usd"],
  { input_tokens: "INPUT", output_tokens: "OUTPUT", unpriced_requests: "UNPRICED" },
);

export function renderUsage(report: UsageReport): string {
  if (!report.group_by.length) return renderTable(TOTAL_COLUMNS, [report.totals]);
  type Row = UsageReport["groups"][number] | { key: null; totals: Totals };
  const columns = [
    ...report.group_by.map((dimension) => ({
      header: dimension.toUpperCase(),
      value: (row: Row) =>
        row.key === null ? (dimension === report.group_by[0] ? "TOTAL" : "") : row.key[dimension],
    })),
    ...TOTAL_COLUMNS.map((c) => ({ header: c.header, value: (row: Row) => c.value(row.totals) })),
  ];
  const rows: Row[] = [...report.groups, { key: null, totals: report.totals }];
  return `${renderTable(columns, rows)}${report.truncated ? "\n(more groups exist: raise --limit)" : ""}`;
}

const usage: CommandSpec = {
  usage:
    "[--tenant t] [--agent id|spiffe-id] [--user u] [--team t] [--provider p] [--model m] [--from iso] [--to iso] [--group-by agent,model,day] [--limit n]",
  options: flags.stringFlags(
    "tenant",
    "agent",
    "user",
    "team",
    "provider",
    "model",
    "from",
    "to",
    "group-by",
    "limit",
  ),
  async run(ctx) {
    flags.noPositionals(ctx);
    const limit = flags.integer(ctx.values, "limit");
    if (limit !== undefined && (limit < 1 || limit > 10_000)) throw usageError("--limit must be 1 to 10000");
    const params = {
      tenant: flags.text(ctx.values, "tenant"),
      agent: flags.text(ctx.values, "agent"),
      user_id: flags.text(ctx.values, "user"),
      team: flags.text(ctx.values, "team"),
      provider: flags.text(ctx.values, "provider"),
      model: flags.text(ctx.values, "model"),
      from: instant(ctx.values, "from"),
      to: instant(ctx.values, "to"),
      group_by: groupBy(ctx.values),
      limit,
    };
    const report = (await ctx.client().request<UsageReport>("GET", `/v1/usage${queryString(params)}`)).body;
    ctx.print(report, renderUsage);
  },
};

const BUDGET_COLUMNS = fieldColumns<Budget>([
  "id",
  "tenant",
  "scope",
  "subject",
  "period",
  "limit_usd",
  "spent_usd",
  "enforcement",
]);

const listBudgets: CommandSpec = {
  usage: "[--tenant t] [--scope tenant|team|agent|user]",
  options: flags.stringFlags("tenant", "scope"),
  async run(ctx) {
    flags.noPositionals(ctx);
    const params = {
      tenant: flags.text(ctx.values, "tenant"),
      scope: flags.oneOf(ctx.values, "scope", BUDGET_SCOPES),
    };
    const items = await ctx.client().list<Budget>("/v1/budgets", params, false);
    ctx.print(items, (rows) => renderTable(BUDGET_COLUMNS, rows));
  },
};

/** The budget `set` means: tenant, scope, subject and period identify it; limit and enforcement change. */
export function budgetTarget(values: FlagValues) {
  const tenant = flags.requiredText(values, "tenant");
  const scope = flags.oneOf(values, "scope", BUDGET_SCOPES) ?? "tenant";
  const subject = flags.text(values, "subject");
  if (scope !== "tenant" && subject === undefined)
    throw usageError(`--subject is required for a ${scope} budget (the ${scope}'s name or id)`);
  return {
    tenant,
    scope,
    subject: subject ?? tenant,
    period: flags.oneOf(values, "period", PERIODS) ?? "monthly",
    limit_usd: usd(flags.requiredText(values, "limit-usd"), "limit-usd"),
    enforcement: flags.oneOf(values, "enforcement", ENFORCEMENTS),
    description: flags.text(values, "description"),
  };
}

const setBudget: CommandSpec = {
  usage:
    "--tenant t --limit-usd 250 [--scope tenant|team|agent|user] [--subject s] [--period monthly|daily] [--enforcement hard|soft] [--description text]",
  options: flags.stringFlags(
    "tenant",
    "scope",
    "subject",
    "period",
    "limit-usd",
    "enforcement",
    "description",
  ),
  async run(ctx) {
    flags.noPositionals(ctx);
    const target = budgetTarget(ctx.values);
    const client = ctx.client();
    const items = await client.list<Budget>(
      "/v1/budgets",
      { tenant: target.tenant, scope: target.scope },
      false,
    );
    const existing = items.find((b) => b.subject === target.subject && b.period === target.period);
    let budget: Budget;
    if (existing) {
      const current = await client.request<Budget>("GET", `/v1/budgets/${existing.id}`);
      const change = flags.defined({
        limit_usd: target.limit_usd,
        enforcement: target.enforcement,
        description: target.description,
      });
      budget = (
        await client.request<Budget>("PATCH", `/v1/budgets/${existing.id}`, {
          body: change,
          ifMatch: current.etag,
        })
      ).body;
    } else {
      budget = (await client.request<Budget>("POST", "/v1/budgets", { body: flags.defined(target) })).body;
    }
    ctx.print(budget, (b) => `${existing ? "budget changed" : "budget created"}\n${renderRecord(b)}`);
  },
};

export const usageCommand: CommandSpec = usage;
export const budgetCommands: Record<string, CommandSpec> = { list: listBudgets, set: setBudget };
