import type { Queryable } from "../../../lib/src/db/types.js";
import type { BudgetEnforcement, BudgetPeriod, BudgetScope } from "../../../lib/src/llm/budgets.js";
import { Conditions } from "../sql/conditions.js";
import { RowTable } from "../sql/table.js";

/** Rows of `llm_budgets` (migration 005). */
export interface BudgetRow {
  id: string;
  tenant: string;
  scope: BudgetScope;
  subject: string;
  period: BudgetPeriod;
  limit_micros: bigint;
  enforcement: BudgetEnforcement;
  description: string | null;
  version: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

const BUDGETS = new RowTable<Record<string, unknown>>(
  "llm_budgets",
  "id, tenant, scope, subject, period, limit_micros::text AS limit_micros, enforcement, description, version, created_by, created_at, updated_at",
);

function fromRow(row: Record<string, unknown>): BudgetRow {
  return { ...(row as unknown as BudgetRow), limit_micros: BigInt(row.limit_micros as string) };
}

export type NewBudget = Omit<BudgetRow, "id" | "version" | "updated_at">;

export async function insertBudget(tx: Queryable, budget: NewBudget): Promise<BudgetRow> {
  return fromRow(
    await BUDGETS.insert(tx, {
      ...budget,
      limit_micros: budget.limit_micros.toString(),
      updated_at: budget.created_at,
    }),
  );
}

export async function findBudget(db: Queryable, id: string, forUpdate = false): Promise<BudgetRow | null> {
  const row = await BUDGETS.find(db, id, forUpdate);
  return row ? fromRow(row) : null;
}

export async function listBudgets(
  db: Queryable,
  filter: { tenant?: string | undefined; scope?: BudgetScope | undefined },
): Promise<BudgetRow[]> {
  const where = new Conditions().equal(filter, ["tenant", "scope"]);
  const { rows } = await db.query(
    `SELECT ${BUDGETS.columns} FROM llm_budgets ${where.where()}
      ORDER BY tenant, scope, subject, period`,
    where.params,
  );
  return rows.map(fromRow);
}

export interface BudgetChanges {
  limit_micros?: bigint;
  enforcement?: BudgetEnforcement;
  description?: string | null;
}

export async function updateBudget(
  tx: Queryable,
  id: string,
  changes: BudgetChanges,
  now: Date,
): Promise<BudgetRow> {
  const { rows } = await tx.query(
    `UPDATE llm_budgets
        SET limit_micros = COALESCE($2::bigint, limit_micros),
            enforcement = COALESCE($3, enforcement),
            description = CASE WHEN $4::boolean THEN $5 ELSE description END,
            version = version + 1,
            updated_at = $6
      WHERE id = $1 RETURNING ${BUDGETS.columns}`,
    [
      id,
      changes.limit_micros?.toString() ?? null,
      changes.enforcement ?? null,
      changes.description !== undefined,
      changes.description ?? null,
      now,
    ],
  );
  return fromRow(rows[0]!);
}

export async function deleteBudget(tx: Queryable, id: string): Promise<void> {
  await tx.query("DELETE FROM llm_budgets WHERE id = $1", [id]);
}
