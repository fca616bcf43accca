import type { Queryable } from "../db/types.js";
import {
  periodStart,
  type Budget,
  type BudgetEnforcement,
  type BudgetPeriod,
  type BudgetScope,
} from "./budgets.js";

/**
 * Reading budgets and their spend from PostgreSQL: the control plane (to report spend) and
 * extproc-server (to load and re-synchronise its in-memory counters) use the same two queries, so
 * "spend" means the same thing everywhere: the cost of the usage rows of the budget's scope since the
 * start of its current period (UTC).
 */
interface BudgetRow {
  id: string;
  tenant: string;
  scope: BudgetScope;
  subject: string;
  period: BudgetPeriod;
  limit_micros: string;
  enforcement: BudgetEnforcement;
}

export async function loadBudgets(db: Pick<Queryable, "query">): Promise<Budget[]> {
  const { rows } = await db.query<BudgetRow>(
    "SELECT id, tenant, scope, subject, period, limit_micros::text AS limit_micros, enforcement FROM llm_budgets",
  );
  return rows.map((row) => ({
    id: row.id,
    tenant: row.tenant,
    scope: row.scope,
    subject: row.subject,
    period: row.period,
    limitMicros: BigInt(row.limit_micros),
    enforcement: row.enforcement,
  }));
}

/** Rows one sidecar already counts in memory: its own, recorded after `afterSeq`. */
export interface OwnRowsToLeaveOut {
  recordedBy: string;
  afterSeq: number;
}

/**
 * Spend per budget id in pico-dollars for the period containing `now`. `budgetIds` limits the query
 * (null: every budget). Usage rows without a price count as zero.
 */
export async function budgetSpend(
  db: Pick<Queryable, "query">,
  now: Date,
  options: { budgetIds?: readonly string[] | null; leaveOut?: OwnRowsToLeaveOut | null } = {},
): Promise<Map<string, bigint>> {
  const params: unknown[] = [
    periodStart("daily", now).toISOString(),
    periodStart("monthly", now).toISOString(),
  ];
  let filter = "";
  if (options.budgetIds) {
    params.push(options.budgetIds);
    filter = `WHERE b.id = ANY($${params.length}::uuid[])`;
  }
  let leaveOut = "";
  if (options.leaveOut) {
    params.push(options.leaveOut.recordedBy, options.leaveOut.afterSeq);
    leaveOut = `AND NOT (u.recorded_by = $${params.length - 1} AND u.record_seq > $${params.length})`;
  }
  const { rows } = await db.query<{ id: string; spent: string }>(
    `SELECT b.id, COALESCE(SUM(u.cost_pico_usd), 0)::text AS spent
       FROM llm_budgets b
       LEFT JOIN llm_usage u
         ON u.tenant = b.tenant
        AND u.occurred_at >= (CASE b.period WHEN 'daily' THEN $1 ELSE $2 END)::timestamptz
        AND (b.scope = 'tenant'
             OR (b.scope = 'team' AND u.team = b.subject)
             OR (b.scope = 'agent' AND (u.agent_id = b.subject OR u.agent_spiffe_id = b.subject))
             OR (b.scope = 'user' AND u.user_id = b.subject))
        ${leaveOut}
      ${filter}
      GROUP BY b.id`,
    params,
  );
  return new Map(rows.map((row) => [row.id, BigInt(row.spent)]));
}
