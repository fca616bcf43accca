import type { Database, Queryable } from "../db/types.js";
import { budgetSpend } from "./budget-store.js";
import { periodStart, type Budget } from "./budgets.js";
import { PICO_PER_MICRO } from "./money.js";

/**
 * Budgets shared by every sidecar, without overshoot from concurrency: a call reserves its most
 * expensive outcome (from max_tokens, or an estimate) before it is forwarded, and the reservation
 * becomes spend at the real cost after the response (migration 021, docs/rate-limits.md#budgets).
 *
 * The reservation is one conditional UPDATE per budget (`spent + reserved + amount <= limit`), all
 * of a call's budgets in one transaction in id order (no deadlock between sidecars), so however many
 * sidecars race, the reserved total never passes a limit. What can still pass it is only a call whose
 * real cost is above what it reserved (an estimate too low); the settlement charges the real cost.
 * A reservation that is never settled (the sidecar died) is swept after its expiry.
 */
export interface ReservationHandle {
  readonly tenant: string;
  readonly ids: readonly string[];
  readonly budgets: readonly { readonly budgetId: string; readonly periodStart: Date }[];
  readonly amountPico: bigint;
}

export type Reservation =
  | { readonly ok: true; readonly handle: ReservationHandle }
  /** `budget`: the first budget the amount does not fit in. */
  | { readonly ok: false; readonly budget: Budget };

export interface ReserveRequest {
  /** The hard budgets that apply to the call (budgetApplies). */
  readonly budgets: readonly Budget[];
  readonly amountPico: bigint;
  /** Who holds it (the sidecar's instance id), for operators. */
  readonly reservedBy: string;
  readonly ttlMs: number;
  readonly now: Date;
}

/**
 * Creates the budget's counter for the period when it has none yet: its spend starts from the usage
 * rows already recorded (the same query as the control plane's report).
 */
async function ensureCounter(tx: Queryable, budget: Budget, start: Date, now: Date): Promise<void> {
  const exists = await tx.query(
    "SELECT 1 FROM budget_counters WHERE budget_id = $1 AND period_start = $2 AND tenant_id = $3",
    [budget.id, start, budget.tenant],
  );
  if (exists.rowCount > 0) return;
  const spent = (await budgetSpend(tx, now, { budgetIds: [budget.id] })).get(budget.id) ?? 0n;
  await tx.query(
    `INSERT INTO budget_counters (tenant_id, budget_id, period_start, limit_pico, spent_pico)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (budget_id, period_start) DO NOTHING`,
    [budget.tenant, budget.id, start, (budget.limitMicros * PICO_PER_MICRO).toString(), spent.toString()],
  );
}

class DoesNotFit extends Error {
  constructor(readonly budget: Budget) {
    super(`budget ${budget.id} has no room`);
  }
}

export async function reserve(db: Database, request: ReserveRequest): Promise<Reservation> {
  const budgets = [...request.budgets].sort((a, b) => a.id.localeCompare(b.id));
  if (budgets.length === 0)
    return { ok: true, handle: { tenant: "", ids: [], budgets: [], amountPico: request.amountPico } };
  const tenant = budgets[0]!.tenant;
  const amount = request.amountPico.toString();
  const expiresAt = new Date(request.now.getTime() + request.ttlMs);
  try {
    return await db.transaction(async (tx) => {
      const ids: string[] = [];
      const held: { budgetId: string; periodStart: Date }[] = [];
      for (const budget of budgets) {
        const start = periodStart(budget.period, request.now);
        await ensureCounter(tx, budget, start, request.now);
        // The limit is the budget's as the caller knows it now: a limit changed through the control
        // plane mid-period applies at once (the counter's copy is only what it was last time).
        const limitPico = (budget.limitMicros * PICO_PER_MICRO).toString();
        const updated = await tx.query(
          `UPDATE budget_counters SET reserved_pico = reserved_pico + $4::numeric, limit_pico = $5::numeric
            WHERE budget_id = $1 AND period_start = $2 AND tenant_id = $3
              AND spent_pico + reserved_pico + $4::numeric <= $5::numeric
            RETURNING 1`,
          [budget.id, start, budget.tenant, amount, limitPico],
        );
        if (updated.rowCount === 0) throw new DoesNotFit(budget);
        const { rows } = await tx.query<{ id: string }>(
          `INSERT INTO budget_reservations (tenant_id, budget_id, period_start, amount_pico, reserved_by, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          [budget.tenant, budget.id, start, amount, request.reservedBy, expiresAt],
        );
        ids.push(rows[0]!.id);
        held.push({ budgetId: budget.id, periodStart: start });
      }
      return { ok: true as const, handle: { tenant, ids, budgets: held, amountPico: request.amountPico } };
    });
  } catch (error) {
    if (error instanceof DoesNotFit) return { ok: false, budget: error.budget };
    throw error;
  }
}

/**
 * After the response: the reservation goes, the real cost is spent (0 when nothing reached the
 * provider). The cost is charged even if the reservation was already swept.
 */
export async function settle(db: Database, handle: ReservationHandle, actualPico: bigint): Promise<void> {
  if (handle.ids.length === 0) return;
  await db.transaction(async (tx) => {
    await tx.query(
      `WITH gone AS (
         DELETE FROM budget_reservations WHERE id = ANY($1::uuid[]) AND tenant_id = $2
         RETURNING budget_id, period_start, amount_pico)
       UPDATE budget_counters c SET reserved_pico = c.reserved_pico - gone.amount_pico
         FROM gone WHERE c.budget_id = gone.budget_id AND c.period_start = gone.period_start`,
      [handle.ids, handle.tenant],
    );
    if (actualPico === 0n) return;
    for (const held of handle.budgets) {
      await tx.query(
        `UPDATE budget_counters SET spent_pico = spent_pico + $4::numeric
          WHERE budget_id = $1 AND period_start = $2 AND tenant_id = $3`,
        [held.budgetId, held.periodStart, handle.tenant, actualPico.toString()],
      );
    }
  });
}

/** Gives back what a sidecar reserved and never settled; returns how many reservations went. */
export async function sweepExpired(db: Queryable, now: Date): Promise<number> {
  const { rows } = await db.query<{ swept: string }>(
    `WITH gone AS (
       DELETE FROM budget_reservations WHERE expires_at < $1
       RETURNING budget_id, period_start, amount_pico),
     totals AS (
       SELECT budget_id, period_start, sum(amount_pico) AS amount, count(*) AS n FROM gone
        GROUP BY budget_id, period_start),
     freed AS (
       UPDATE budget_counters c SET reserved_pico = c.reserved_pico - totals.amount
         FROM totals WHERE c.budget_id = totals.budget_id AND c.period_start = totals.period_start
       RETURNING totals.n)
     SELECT COALESCE(sum(n), 0)::text AS swept FROM freed`,
    [now],
  );
  return Number(rows[0]?.swept ?? 0);
}

/** A budget's counter for the period containing `now` (null: nothing reserved or spent through it yet). */
export async function budgetCounter(
  db: Queryable,
  budget: Budget,
  now: Date,
): Promise<{ spentPico: bigint; reservedPico: bigint; limitPico: bigint } | null> {
  const { rows } = await db.query<{ spent: string; reserved: string; lim: string }>(
    `SELECT spent_pico::text AS spent, reserved_pico::text AS reserved, limit_pico::text AS lim
       FROM budget_counters WHERE budget_id = $1 AND period_start = $2 AND tenant_id = $3`,
    [budget.id, periodStart(budget.period, now), budget.tenant],
  );
  const row = rows[0];
  return row
    ? { spentPico: BigInt(row.spent), reservedPico: BigInt(row.reserved), limitPico: BigInt(row.lim) }
    : null;
}
