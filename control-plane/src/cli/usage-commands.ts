import { queryString } from "./api-client.js";
import {
  defined,
  integer,
  requiredText,
  text,
  usageError,
  type CommandContext,
  type CommandSpec,
  type FlagValues,
} from "./command.js";
import { renderRecord, renderTable } from "./table.js";

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

function oneOf<T extends string>(values: FlagValues, name: string, allowed: readonly T[]): T | undefined {
  const value = text(values, name);
  if (value !== undefined && !(allowed as readonly string[]).includes(value))
    throw usageError(`--${name} must be one of ${allowed.join(", ")}`);
  return value as T | undefined;
}

/** `agent,day` → checked, each dimension at most once. */
export function groupBy(values: FlagValues): string | undefined {
  const value = text(values, "group-by");
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
  const value = text(values, name);
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

function noPositionals(ctx: CommandContext): void {
  if (ctx.positionals.length) throw usageError(`unexpected argument "${ctx.positionals[0]}"`);
}

const TOTAL_COLUMNS = [
  { header: "REQUESTS", value: (t: Totals) => t.requests },
  { header: "INPUT", value: (t: Totals) => t.input_tokens },
  { header: "OUTPUT", value: (t: Totals) => t.output_tokens },
  { header: "UNPRICED", value: (t: Totals) => t.unpriced_requests },
  { header: "COST USD", value: (t: Totals) => t.cost_usd },
];

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
  options: {
    tenant: { type: "string" },
    agent: { type: "string" },
    user: { type: "string" },
    team: { type: "string" },
    provider: { type: "string" },
    model: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    "group-by": { type: "string" },
    limit: { type: "string" },
  },
  async run(ctx) {
    noPositionals(ctx);
    const limit = integer(ctx.values, "limit");
    if (limit !== undefined && (limit < 1 || limit > 10_000)) throw usageError("--limit must be 1 to 10000");
    const params = {
      tenant: text(ctx.values, "tenant"),
      agent: text(ctx.values, "agent"),
      user_id: text(ctx.values, "user"),
      team: text(ctx.values, "team"),
      provider: text(ctx.values, "provider"),
      model: text(ctx.values, "model"),
      from: instant(ctx.values, "from"),
      to: instant(ctx.values, "to"),
      group_by: groupBy(ctx.values),
      limit,
    };
    const report = (await ctx.client().request<UsageReport>("GET", `/v1/usage${queryString(params)}`)).body;
    ctx.io.stdout(ctx.json ? JSON.stringify(report, null, 2) : renderUsage(report));
  },
};

const BUDGET_COLUMNS = [
  { header: "ID", value: (b: Budget) => b.id },
  { header: "TENANT", value: (b: Budget) => b.tenant },
  { header: "SCOPE", value: (b: Budget) => b.scope },
  { header: "SUBJECT", value: (b: Budget) => b.subject },
  { header: "PERIOD", value: (b: Budget) => b.period },
  { header: "LIMIT USD", value: (b: Budget) => b.limit_usd },
  { header: "SPENT USD", value: (b: Budget) => b.spent_usd },
  { header: "ENFORCEMENT", value: (b: Budget) => b.enforcement },
];

const listBudgets: CommandSpec = {
  usage: "[--tenant t] [--scope tenant|team|agent|user]",
  options: { tenant: { type: "string" }, scope: { type: "string" } },
  async run(ctx) {
    noPositionals(ctx);
    const params = { tenant: text(ctx.values, "tenant"), scope: oneOf(ctx.values, "scope", BUDGET_SCOPES) };
    const { items } = (
      await ctx.client().request<{ items: Budget[] }>("GET", `/v1/budgets${queryString(params)}`)
    ).body;
    ctx.io.stdout(ctx.json ? JSON.stringify(items, null, 2) : renderTable(BUDGET_COLUMNS, items));
  },
};

/** The budget `set` means: tenant, scope, subject and period identify it; limit and enforcement change. */
export function budgetTarget(values: FlagValues) {
  const tenant = requiredText(values, "tenant");
  const scope = oneOf(values, "scope", BUDGET_SCOPES) ?? "tenant";
  const subject = text(values, "subject");
  if (scope !== "tenant" && subject === undefined)
    throw usageError(`--subject is required for a ${scope} budget (the ${scope}'s name or id)`);
  return {
    tenant,
    scope,
    subject: subject ?? tenant,
    period: oneOf(values, "period", PERIODS) ?? "monthly",
    limit_usd: usd(requiredText(values, "limit-usd"), "limit-usd"),
    enforcement: oneOf(values, "enforcement", ENFORCEMENTS),
    description: text(values, "description"),
  };
}

const setBudget: CommandSpec = {
  usage:
    "--tenant t --limit-usd 250 [--scope tenant|team|agent|user] [--subject s] [--period monthly|daily] [--enforcement hard|soft] [--description text]",
  options: {
    tenant: { type: "string" },
    scope: { type: "string" },
    subject: { type: "string" },
    period: { type: "string" },
    "limit-usd": { type: "string" },
    enforcement: { type: "string" },
    description: { type: "string" },
  },
  async run(ctx) {
    noPositionals(ctx);
    const target = budgetTarget(ctx.values);
    const client = ctx.client();
    const { items } = (
      await client.request<{ items: Budget[] }>(
        "GET",
        `/v1/budgets${queryString({ tenant: target.tenant, scope: target.scope })}`,
      )
    ).body;
    const existing = items.find((b) => b.subject === target.subject && b.period === target.period);
    let budget: Budget;
    if (existing) {
      const current = await client.request<Budget>("GET", `/v1/budgets/${existing.id}`);
      const change = defined({
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
      budget = (await client.request<Budget>("POST", "/v1/budgets", { body: defined(target) })).body;
    }
    if (ctx.json) ctx.io.stdout(JSON.stringify(budget, null, 2));
    else ctx.io.stdout(`${existing ? "budget changed" : "budget created"}\n${renderRecord(budget)}`);
  },
};

export const usageCommand: CommandSpec = usage;
export const budgetCommands: Record<string, CommandSpec> = { list: listBudgets, set: setBudget };
