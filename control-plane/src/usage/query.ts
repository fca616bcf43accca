import type { Queryable } from "../../../lib/src/db/types.js";
import { formatUsd } from "../../../lib/src/llm/money.js";
import { Conditions } from "../sql/conditions.js";

/**
 * Usage totals over `llm_usage`, filtered and grouped. Group columns come from a fixed list (never
 * from the request text); sums are exact (numeric in SQL, bigint here, decimal strings out).
 */
export const USAGE_DIMENSIONS = {
  tenant: "tenant",
  agent: "COALESCE(agent_spiffe_id, agent_id)",
  user: "user_id",
  team: "team",
  provider: "provider",
  model: "model",
  day: "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
} as const;

export type UsageDimension = keyof typeof USAGE_DIMENSIONS;

export interface UsageFilter {
  tenant?: string | undefined;
  agent?: string | undefined;
  user_id?: string | undefined;
  team?: string | undefined;
  provider?: string | undefined;
  model?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

export interface UsageTotals {
  requests: number;
  completed_requests: number;
  incomplete_requests: number;
  not_forwarded_requests: number;
  unpriced_requests: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  cost_usd: string;
  cost_pico_usd: string;
}

export interface UsageReport {
  group_by: UsageDimension[];
  totals: UsageTotals;
  groups: { key: Record<string, string | null>; totals: UsageTotals }[];
  truncated: boolean;
}

const AGGREGATES = `count(*)::text AS requests,
  count(*) FILTER (WHERE outcome = 'completed')::text AS completed_requests,
  count(*) FILTER (WHERE outcome = 'cut')::text AS incomplete_requests,
  count(*) FILTER (WHERE outcome = 'not_forwarded')::text AS not_forwarded_requests,
  count(*) FILTER (WHERE cost_pico_usd IS NULL)::text AS unpriced_requests,
  COALESCE(sum(input_tokens), 0)::text AS input_tokens,
  COALESCE(sum(cached_input_tokens), 0)::text AS cached_input_tokens,
  COALESCE(sum(cache_write_tokens), 0)::text AS cache_write_tokens,
  COALESCE(sum(output_tokens), 0)::text AS output_tokens,
  COALESCE(sum(cost_pico_usd), 0)::text AS cost_pico_usd`;

type AggregateRow = Record<Exclude<keyof UsageTotals, "cost_usd">, string>;

function totalsOf(row: AggregateRow): UsageTotals {
  const cost = BigInt(row.cost_pico_usd);
  return {
    requests: Number(row.requests),
    completed_requests: Number(row.completed_requests),
    incomplete_requests: Number(row.incomplete_requests),
    not_forwarded_requests: Number(row.not_forwarded_requests),
    unpriced_requests: Number(row.unpriced_requests),
    input_tokens: Number(row.input_tokens),
    cached_input_tokens: Number(row.cached_input_tokens),
    cache_write_tokens: Number(row.cache_write_tokens),
    output_tokens: Number(row.output_tokens),
    cost_usd: formatUsd(cost),
    cost_pico_usd: cost.toString(),
  };
}

/** Filter fields that match their column exactly. */
const EXACT_FILTERS = ["tenant", "user_id", "team", "provider", "model"] as const;

function conditionsOf(filter: UsageFilter): Conditions {
  const where = new Conditions().equal(filter, EXACT_FILTERS);
  if (filter.agent !== undefined)
    where.add("(agent_id = ? OR agent_spiffe_id = ?)", filter.agent, filter.agent);
  where.within("occurred_at", filter.from, filter.to);
  return where;
}

export async function usageReport(
  db: Queryable,
  filter: UsageFilter,
  groupBy: readonly UsageDimension[],
  maxGroups: number,
): Promise<UsageReport> {
  const conditions = conditionsOf(filter);
  const where = conditions.where();
  const params = conditions.params;
  const totals = await db.query<AggregateRow>(`SELECT ${AGGREGATES} FROM llm_usage ${where}`, params);
  let groups: UsageReport["groups"] = [];
  let truncated = false;
  if (groupBy.length > 0) {
    const keys = groupBy.map((dimension, i) => `${USAGE_DIMENSIONS[dimension]} AS k${i}`);
    const positions = groupBy.map((_, i) => String(i + 1)).join(", ");
    const { rows } = await db.query<AggregateRow & Record<string, string | null>>(
      `SELECT ${keys.join(", ")}, ${AGGREGATES} FROM llm_usage ${where}
        GROUP BY ${positions}
        ORDER BY COALESCE(sum(cost_pico_usd), 0) DESC, ${positions}
        LIMIT ${maxGroups + 1}`,
      params,
    );
    truncated = rows.length > maxGroups;
    groups = rows.slice(0, maxGroups).map((row) => ({
      key: Object.fromEntries(groupBy.map((dimension, i) => [dimension, row[`k${i}`] ?? null])),
      totals: totalsOf(row),
    }));
  }
  return { group_by: [...groupBy], totals: totalsOf(totals.rows[0]!), groups, truncated };
}
